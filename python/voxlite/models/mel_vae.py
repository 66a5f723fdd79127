"""AudioLDM 2's mel VAE: a KL autoencoder (LDM / diffusers ``AutoencoderKL``) over the log-mel spectrogram.

The mel is an image of one channel: (B, 1, T frames, n_mels bins), time along the height, mel bins along the
width. The encoder halves both axes once per block but the last, so AudioLDM 2 (3 blocks) maps (B, 1, 1024, 64)
to latents (B, 8, 256, 16); the diffusion model works on ``latents = mean * scaling_factor`` and the pipeline
decodes ``mel = decode(latents / scaling_factor)``, then drops the channel axis for the HiFi-GAN vocoder.

Encoder: conv_in -> down blocks (ResNet blocks, then a stride-2 conv except in the last) -> mid block (ResNet,
single-head self-attention over all H*W positions, ResNet) -> GroupNorm, SiLU, conv_out (2 * latent channels)
-> quant_conv (1x1) -> mean, logvar. Decoder: post_quant_conv (1x1) -> conv_in -> mid block -> up blocks
(layers_per_block + 1 ResNet blocks, then nearest x2 + conv except in the last) -> GroupNorm, SiLU, conv_out.

The ResNet blocks, down / upsamplers (blocks/unet2d.py) and the attention (blocks/cross_attention.py) are shared
with the UNet. Names follow diffusers except ``downsamplers.0`` -> ``downsample``, ``upsamplers.0`` -> ``upsample``,
``mid_block.attentions.0`` -> ``mid_block.attention``, ``to_out.0`` -> ``to_out`` (convert/mel_vae.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .blocks.cross_attention import MultiHeadAttention
from .blocks.unet2d import Downsample2D, ResnetBlock2D, Upsample2D


@dataclass
class MelVAEConfig:
    """Field names are diffusers' ``AutoencoderKL`` config keys (``from_diffusers`` reads a vae/config.json)."""

    in_channels: int = 1  # one mel "image" channel
    out_channels: int = 1
    latent_channels: int = 8
    block_out_channels: list[int] = field(default_factory=lambda: [128, 256, 512])  # LDM ch 128 x ch_mult [1, 2, 4]
    layers_per_block: int = 2  # ResNet blocks per encoder block (decoder blocks have one more)
    norm_num_groups: int = 32
    norm_eps: float = 1e-6  # diffusers hard-codes 1e-6 for every VAE GroupNorm
    mid_block_add_attention: bool = True
    use_quant_conv: bool = True
    use_post_quant_conv: bool = True
    scaling_factor: float = 0.4110932946205139  # learnt (LDM scale_by_std): 1 / std of the training latents

    def __post_init__(self):
        for ch in self.block_out_channels:
            if ch % self.norm_num_groups:
                raise ValueError(f"norm_num_groups {self.norm_num_groups} does not divide {ch} channels")

    @property
    def downsample_factor(self) -> int:
        """Pipeline's ``vae_scale_factor``: each axis of the latent is this many times smaller than the mel."""
        return 2 ** (len(self.block_out_channels) - 1)

    @classmethod
    def from_diffusers(cls, config: Mapping[str, Any]) -> "MelVAEConfig":
        """From a diffusers ``AutoencoderKL`` config (vae/config.json); only DownEncoderBlock2D / UpDecoderBlock2D
        with SiLU and no shift factor / latent statistics (what AudioLDM 2 uses) are supported."""
        n = len(config.get("block_out_channels", [64]))
        if list(config.get("down_block_types", ["DownEncoderBlock2D"] * n)) != ["DownEncoderBlock2D"] * n or \
                list(config.get("up_block_types", ["UpDecoderBlock2D"] * n)) != ["UpDecoderBlock2D"] * n:
            raise ValueError("only DownEncoderBlock2D / UpDecoderBlock2D VAEs are supported")
        if config.get("act_fn", "silu") not in ("silu", "swish"):
            raise ValueError(f"unsupported act_fn {config.get('act_fn')!r}")
        if config.get("shift_factor") is not None or config.get("latents_mean") is not None:
            raise ValueError("shift_factor / latents_mean are not supported")
        names = set(cls.__dataclass_fields__) - {"norm_eps"}
        kwargs = {k: config[k] for k in names if k in config}
        kwargs["block_out_channels"] = list(kwargs.get("block_out_channels", [64]))
        defaults = {"layers_per_block": 1, "latent_channels": 4, "in_channels": 3, "out_channels": 3,
                    "block_out_channels": [64], "scaling_factor": 0.18215}  # diffusers' own defaults
        for k, v in defaults.items():
            kwargs.setdefault(k, v)
        return cls(**kwargs)

    def to_diffusers(self) -> dict[str, Any]:
        n = len(self.block_out_channels)
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "down_block_types": ["DownEncoderBlock2D"] * n, "up_block_types": ["UpDecoderBlock2D"] * n,
                "block_out_channels": list(self.block_out_channels), "layers_per_block": self.layers_per_block,
                "act_fn": "silu", "latent_channels": self.latent_channels, "norm_num_groups": self.norm_num_groups,
                "scaling_factor": self.scaling_factor, "use_quant_conv": self.use_quant_conv,
                "use_post_quant_conv": self.use_post_quant_conv,
                "mid_block_add_attention": self.mid_block_add_attention}

    @classmethod
    def audioldm2(cls) -> "MelVAEConfig":
        """cvssp/audioldm2 vae/config.json. Mels: 16 kHz, hop 160, 64 bins (the vocoder's model_in_dim), so
        10.24 s = (1024, 64) -> latents (8, 256, 16)."""
        return cls(in_channels=1, out_channels=1, latent_channels=8, block_out_channels=[128, 256, 512],
                   layers_per_block=2, norm_num_groups=32, scaling_factor=0.4110932946205139)

    @classmethod
    def tiny(cls) -> "MelVAEConfig":
        """Test size: 3 blocks (x4 down), odd latent count, GroupNorm of 3 groups over 6 / 9 / 12 channels."""
        return cls(in_channels=1, out_channels=1, latent_channels=3, block_out_channels=[6, 9, 12],
                   layers_per_block=2, norm_num_groups=3, scaling_factor=0.7)


class SelfAttention2D(MultiHeadAttention):
    """Single-head self-attention over the H*W positions, GroupNorm in front, residual around."""

    def __init__(self, cfg: MelVAEConfig, channels: int):
        super().__init__(channels, heads=1, qkv_bias=True)
        self.group_norm = nn.GroupNorm(cfg.norm_num_groups, channels, eps=cfg.norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W)
        seq = self.group_norm(x).flatten(2).transpose(1, 2)  # (B, H*W, C)
        return x + super().forward(seq).transpose(1, 2).reshape(x.shape)


def _resnet(cfg: MelVAEConfig, in_channels: int, out_channels: int) -> ResnetBlock2D:
    return ResnetBlock2D(in_channels, out_channels, cfg.norm_num_groups, cfg.norm_eps)  # no time embedding


class MidBlock2D(nn.Module):
    def __init__(self, cfg: MelVAEConfig, channels: int):
        super().__init__()
        self.resnets = nn.ModuleList([_resnet(cfg, channels, channels), _resnet(cfg, channels, channels)])
        self.attention = SelfAttention2D(cfg, channels) if cfg.mid_block_add_attention else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W)
        x = self.resnets[0](x)
        if self.attention is not None:
            x = self.attention(x)
        return self.resnets[1](x)


class DownEncoderBlock2D(nn.Module):
    def __init__(self, cfg: MelVAEConfig, in_channels: int, out_channels: int, downsample: bool):
        super().__init__()
        self.resnets = nn.ModuleList(
            _resnet(cfg, in_channels if i == 0 else out_channels, out_channels)
            for i in range(cfg.layers_per_block))
        self.downsample = Downsample2D(out_channels, padding=0) if downsample else None  # LDM's bottom / right pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C_out, ceil(H/2), ceil(W/2))
        for resnet in self.resnets:
            x = resnet(x)
        if self.downsample is not None:
            x = self.downsample(x)
        return x


class UpDecoderBlock2D(nn.Module):
    def __init__(self, cfg: MelVAEConfig, in_channels: int, out_channels: int, upsample: bool):
        super().__init__()
        self.resnets = nn.ModuleList(
            _resnet(cfg, in_channels if i == 0 else out_channels, out_channels)
            for i in range(cfg.layers_per_block + 1))
        self.upsample = Upsample2D(out_channels) if upsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C_out, 2H, 2W)
        for resnet in self.resnets:
            x = resnet(x)
        if self.upsample is not None:
            x = self.upsample(x)
        return x


class Encoder(nn.Module):
    def __init__(self, cfg: MelVAEConfig):
        super().__init__()
        chs = cfg.block_out_channels
        self.conv_in = nn.Conv2d(cfg.in_channels, chs[0], 3, padding=1)
        self.down_blocks = nn.ModuleList(
            DownEncoderBlock2D(cfg, chs[max(i - 1, 0)], ch, downsample=i < len(chs) - 1) for i, ch in enumerate(chs))
        self.mid_block = MidBlock2D(cfg, chs[-1])
        self.conv_norm_out = nn.GroupNorm(cfg.norm_num_groups, chs[-1], eps=cfg.norm_eps)
        self.conv_out = nn.Conv2d(chs[-1], 2 * cfg.latent_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, 2 * latent, H / f, W / f)
        x = self.conv_in(x)
        for block in self.down_blocks:
            x = block(x)
        x = self.mid_block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, cfg: MelVAEConfig):
        super().__init__()
        chs = list(reversed(cfg.block_out_channels))
        self.conv_in = nn.Conv2d(cfg.latent_channels, chs[0], 3, padding=1)
        self.mid_block = MidBlock2D(cfg, chs[0])
        self.up_blocks = nn.ModuleList(
            UpDecoderBlock2D(cfg, chs[max(i - 1, 0)], ch, upsample=i < len(chs) - 1) for i, ch in enumerate(chs))
        self.conv_norm_out = nn.GroupNorm(cfg.norm_num_groups, chs[-1], eps=cfg.norm_eps)
        self.conv_out = nn.Conv2d(chs[-1], cfg.out_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, latent, h, w) -> (B, C_out, h * f, w * f)
        x = self.mid_block(self.conv_in(z))
        for block in self.up_blocks:
            x = block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class MelVAE(nn.Module):
    def __init__(self, cfg: MelVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quant_conv = nn.Conv2d(2 * cfg.latent_channels, 2 * cfg.latent_channels, 1) if cfg.use_quant_conv \
            else None
        self.post_quant_conv = nn.Conv2d(cfg.latent_channels, cfg.latent_channels, 1) if cfg.use_post_quant_conv \
            else None

    def encode(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, T, n_mels) -> posterior mean, logvar, each (B, latent, T / f, n_mels / f); logvar clamped to
        [-30, 20] as diffusers' DiagonalGaussianDistribution does. Unscaled (multiply by scaling_factor for LDM)."""
        moments = self.encoder(mel)
        if self.quant_conv is not None:
            moments = self.quant_conv(moments)
        mean, logvar = moments.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Unscaled latent (B, latent, h, w) -> mel (B, 1, h * f, w * f)."""
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        return self.decoder(z)

    def mel_to_latents(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, T, n_mels) log-mel -> diffusion latents (B, latent, T / f, n_mels / f): posterior mean, scaled."""
        mean, _ = self.encode(mel.unsqueeze(1))
        return mean * self.cfg.scaling_factor

    def latents_to_mel(self, latents: torch.Tensor) -> torch.Tensor:
        """Diffusion latents (B, latent, h, w) -> (B, h * f, w * f) log-mel for the vocoder, as the pipeline does."""
        return self.decode(latents / self.cfg.scaling_factor).squeeze(1)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:  # the graph AudioLDM 2 inference needs
        return self.latents_to_mel(latents)
