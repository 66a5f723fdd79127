"""BigVGAN (Lee et al. 2023): mel spectrogram -> waveform GAN vocoder; Make-A-Voice's unit vocoder family.

conv_pre -> [ConvTranspose1d upsample -> mean of AMP blocks (one per resblock kernel size)] per stage ->
anti-aliased Snake -> conv_post -> tanh (or clamp to [-1, 1]). An AMP block is a stack of residual dilated convs
each preceded by an anti-aliased Snake / SnakeBeta (blocks/antialias.py): type "1" pairs every dilated conv with
a dilation-1 conv, type "2" has the dilated convs alone.

Module names follow the official ``bigvgan`` package (conv_pre, ups.i, resblocks.k.convs1 / convs2 /
activations, activation_post, conv_post) so convert/bigvgan.py only folds weight norm, flattens ``ups.i.0`` and
reshapes the Snake parameters. Weights are plain; the resampling filters are constant buffers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from .blocks.activations import Snake
from .blocks.antialias import AntiAliasActivation


@dataclass
class BigVGANConfig:
    """Field names are the official ``h`` (config.json) keys, so ``from_h`` / ``to_h`` round-trip them."""

    num_mels: int = 100
    upsample_rates: list[int] = field(default_factory=lambda: [4, 4, 2, 2, 2, 2])  # product = hop_size
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [8, 8, 4, 4, 4, 4])  # 2 x rate: even overlap
    upsample_initial_channel: int = 1536  # halved after every upsampling stage
    resblock: str = "1"  # "1": AMPBlock1 (dilated + dilation-1 conv pairs), "2": AMPBlock2 (dilated convs only)
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 7, 11])  # one AMP block per size, averaged
    resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3, 5]])
    activation: str = "snakebeta"  # "snake" (one alpha) or "snakebeta" (separate magnitude beta); v2 uses snakebeta
    snake_logscale: bool = True  # alpha / beta stored as logs (initialised to 0 = 1.0)
    use_tanh_at_final: bool = True  # official default True (v1); v2 checkpoints set False and clamp instead
    use_bias_at_final: bool = True  # official default True (v1); v2 checkpoints set False
    sampling_rate: int = 24000  # informational: not used by the network
    hop_size: int = 256  # informational: must equal prod(upsample_rates)

    def __post_init__(self):
        if self.resblock not in ("1", "2"):
            raise ValueError(f"resblock must be '1' or '2', got {self.resblock!r}")
        if self.activation not in ("snake", "snakebeta"):
            raise ValueError(f"activation must be 'snake' or 'snakebeta', got {self.activation!r}")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes differ in length")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes differ in length")

    @property
    def upsample_factor(self) -> int:
        factor = 1
        for r in self.upsample_rates:
            factor *= r
        return factor

    @classmethod
    def from_h(cls, h: Mapping[str, Any]) -> "BigVGANConfig":
        """From an official hyper-parameter dict (config.json); training-only keys are ignored and missing
        ``use_tanh_at_final`` / ``use_bias_at_final`` take the official defaults (True)."""
        names = cls.__dataclass_fields__.keys()
        kwargs = {k: h[k] for k in names if k in h}
        kwargs["resblock"] = str(kwargs.get("resblock", "1"))
        return cls(**kwargs)

    def to_h(self) -> dict[str, Any]:
        """The fields as an official ``h`` dict (enough to build ``bigvgan.BigVGAN``)."""
        return asdict(self)

    @classmethod
    def v2_24khz_100band_256x(cls) -> "BigVGANConfig":
        """nvidia/bigvgan_v2_24khz_100band_256x (configs/bigvgan_v2_24khz_100band_256x.json), 112M params."""
        return cls(num_mels=100, upsample_rates=[4, 4, 2, 2, 2, 2], upsample_kernel_sizes=[8, 8, 4, 4, 4, 4],
                   upsample_initial_channel=1536, resblock="1", resblock_kernel_sizes=[3, 7, 11],
                   resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5], [1, 3, 5]], activation="snakebeta",
                   snake_logscale=True, use_tanh_at_final=False, use_bias_at_final=False, sampling_rate=24000,
                   hop_size=256)

    @classmethod
    def tiny(cls) -> "BigVGANConfig":
        """Test size: odd channels (36 -> 18 -> 9), a rate-3 stage, unequal dilation stacks."""
        return cls(num_mels=7, upsample_rates=[3, 2], upsample_kernel_sizes=[7, 4], upsample_initial_channel=36,
                   resblock="1", resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 3], [1, 2, 3]],
                   activation="snakebeta", snake_logscale=True, use_tanh_at_final=False, use_bias_at_final=False,
                   sampling_rate=6000, hop_size=6)


def _padding(kernel_size: int, dilation: int) -> int:
    return (kernel_size * dilation - dilation) // 2  # "same" length for odd kernels


def _aa_snake(cfg: BigVGANConfig, channels: int) -> AntiAliasActivation:
    snake = Snake(channels, separate_beta=cfg.activation == "snakebeta", logscale=cfg.snake_logscale)
    return AntiAliasActivation(snake, channels)


class AMPBlock1(nn.Module):
    """x += conv2(act(conv1_d(act(x)))) for each dilation d; ``activations`` interleaves (before conv1, before
    conv2) per dilation, as the official block stores them."""

    def __init__(self, cfg: BigVGANConfig, channels: int, kernel_size: int, dilations: list[int]):
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_padding(kernel_size, d)) for d in dilations)
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=_padding(kernel_size, 1)) for _ in dilations)
        self.activations = nn.ModuleList(_aa_snake(cfg, channels) for _ in range(2 * len(dilations)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        for i, (c1, c2) in enumerate(zip(self.convs1, self.convs2)):
            xt = c1(self.activations[2 * i](x))
            xt = c2(self.activations[2 * i + 1](xt))
            x = x + xt
        return x


class AMPBlock2(nn.Module):
    """x += conv_d(act(x)) for each dilation d."""

    def __init__(self, cfg: BigVGANConfig, channels: int, kernel_size: int, dilations: list[int]):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_padding(kernel_size, d)) for d in dilations)
        self.activations = nn.ModuleList(_aa_snake(cfg, channels) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        for conv, act in zip(self.convs, self.activations):
            x = x + conv(act(x))
        return x


class BigVGAN(nn.Module):
    def __init__(self, cfg: BigVGANConfig):
        super().__init__()
        self.cfg = cfg
        ch = cfg.upsample_initial_channel
        self.conv_pre = nn.Conv1d(cfg.num_mels, ch, 7, padding=3)
        block = AMPBlock1 if cfg.resblock == "1" else AMPBlock2
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes)):
            ch_in, ch = cfg.upsample_initial_channel // 2**i, cfg.upsample_initial_channel // 2 ** (i + 1)
            self.ups.append(nn.ConvTranspose1d(ch_in, ch, kernel, rate, padding=(kernel - rate) // 2))
            for k, dilations in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
                self.resblocks.append(block(cfg, ch, k, list(dilations)))
        self.activation_post = _aa_snake(cfg, ch)
        self.conv_post = nn.Conv1d(ch, 1, 7, padding=3, bias=cfg.use_bias_at_final)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:  # (B, num_mels, T) -> (B, 1, T * hop)
        x = self.conv_pre(mel)
        n = len(self.cfg.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            x = up(x)  # (B, C_i, T_i * rate_i)
            xs = self.resblocks[i * n](x)
            for j in range(1, n):
                xs = xs + self.resblocks[i * n + j](x)
            x = xs / n
        x = self.conv_post(self.activation_post(x))
        return torch.tanh(x) if self.cfg.use_tanh_at_final else x.clamp(-1.0, 1.0)
