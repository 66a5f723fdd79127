"""Vocos (Siuzdak 2023): a ConvNeXt backbone at frame rate and an iSTFT head, the cheapest CPU vocoder.

mel (B, n_mels, T) -> Conv1d(k=7) -> LayerNorm -> N x ConvNeXt block -> LayerNorm -> Linear(dim, n_fft + 2)
-> log-magnitude and phase per bin -> inverse STFT -> waveform (B, samples). Every layer runs at the frame
rate; the only upsampling is the iSTFT, written here as a conv_transpose1d with an inverse-DFT basis
(blocks/stft.py) so the whole model exports to ONNX. The EnCodec-conditioned variant (AdaLayerNorm with one
scale / shift per bandwidth) shares the backbone; its feature extraction (codebook lookups) is not here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..dsp.mel import MEL_PRESETS, MelConfig
from .blocks.stft import ISTFT


@dataclass
class VocosConfig:
    n_mels: int = 100  # backbone input channels (mel bands; 128 EnCodec latents for the EnCodec variant)
    dim: int = 512
    intermediate_dim: int = 1536
    num_layers: int = 8
    layer_scale_init_value: float | None = None  # None: 1 / num_layers, as the official backbone
    adanorm_num_embeddings: int | None = None  # EnCodec variant: one LayerNorm scale / shift per bandwidth
    n_fft: int = 1024
    hop_length: int = 256  # = feature hop: one frame of features per hop of audio
    padding: str = "center"  # iSTFT padding; the published mel-24khz checkpoint's head uses "center"
    sample_rate: int = 24000
    mel: MelConfig | None = field(default_factory=lambda: MEL_PRESETS["vocos-24khz"])  # the features it expects

    def __post_init__(self):
        if self.mel is not None and (self.mel.n_mels != self.n_mels or self.mel.hop_length != self.hop_length
                                     or self.mel.sample_rate != self.sample_rate):
            raise ValueError("VocosConfig.mel must agree with n_mels, hop_length and sample_rate")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VocosConfig":
        data = dict(data)
        if data.get("mel") is not None:
            data["mel"] = MelConfig.from_dict(data["mel"])
        return cls(**data)

    @classmethod
    def mel_24khz(cls) -> "VocosConfig":
        """charactr/vocos-mel-24khz (config.yaml: backbone 100 -> 512, 1536, 8 layers; head 1024 / 256 center)."""
        return cls()

    @classmethod
    def encodec_24khz(cls) -> "VocosConfig":
        """charactr/vocos-encodec-24khz backbone and head (EnCodec 128-d features, 4 bandwidths, hop 320)."""
        return cls(n_mels=128, dim=384, intermediate_dim=1152, num_layers=8, adanorm_num_embeddings=4,
                   n_fft=1280, hop_length=320, padding="same", mel=None)

    @classmethod
    def tiny(cls, padding: str = "center", adanorm_num_embeddings: int | None = None) -> "VocosConfig":
        mel = MelConfig(8000, 64, 16, 13, mel_scale="htk", norm=None, padding="center", log_floor=1e-7)
        return cls(n_mels=13, dim=24, intermediate_dim=37, num_layers=3, adanorm_num_embeddings=adanorm_num_embeddings,
                   n_fft=64, hop_length=16, padding=padding, sample_rate=8000, mel=mel)


class AdaLayerNorm(nn.Module):
    """LayerNorm without affine, then a scale and shift looked up by a conditioning id (bandwidth)."""

    def __init__(self, num_embeddings: int, dim: int, eps: float = 1e-6):
        super().__init__()
        self.dim, self.eps = dim, eps
        self.scale = nn.Embedding(num_embeddings, dim)
        self.shift = nn.Embedding(num_embeddings, dim)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, cond_id: torch.Tensor) -> torch.Tensor:  # (B, T, C), (B,) or (1,)
        x = F.layer_norm(x, (self.dim,), eps=self.eps)
        return x * self.scale(cond_id)[:, None] + self.shift(cond_id)[:, None]


def _norm(dim: int, adanorm_num_embeddings: int | None) -> nn.Module:
    return AdaLayerNorm(adanorm_num_embeddings, dim) if adanorm_num_embeddings else nn.LayerNorm(dim, eps=1e-6)


class ConvNeXtBlock(nn.Module):
    """x + gamma * pw2(gelu(pw1(norm(depthwise_conv7(x)))))."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float, adanorm_num_embeddings: int | None):
        super().__init__()
        self.adanorm = adanorm_num_embeddings is not None
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = _norm(dim, adanorm_num_embeddings)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor, cond_id: torch.Tensor | None = None) -> torch.Tensor:  # (B, C, T)
        h = self.dwconv(x).transpose(1, 2)  # (B, T, C)
        h = self.norm(h, cond_id) if self.adanorm else self.norm(h)
        h = self.pwconv2(F.gelu(self.pwconv1(h)))  # (B, T, C)
        return x + (self.gamma * h).transpose(1, 2)


class VocosBackbone(nn.Module):
    def __init__(self, cfg: VocosConfig):
        super().__init__()
        self.adanorm = cfg.adanorm_num_embeddings is not None
        layer_scale = cfg.layer_scale_init_value or 1.0 / cfg.num_layers
        self.embed = nn.Conv1d(cfg.n_mels, cfg.dim, kernel_size=7, padding=3)
        self.norm = _norm(cfg.dim, cfg.adanorm_num_embeddings)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(cfg.dim, cfg.intermediate_dim, layer_scale, cfg.adanorm_num_embeddings)
            for _ in range(cfg.num_layers))
        self.final_norm = nn.LayerNorm(cfg.dim, eps=1e-6)

    def forward(self, x: torch.Tensor, cond_id: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embed(x).transpose(1, 2)  # (B, T, C)
        x = (self.norm(x, cond_id) if self.adanorm else self.norm(x)).transpose(1, 2)  # (B, C, T)
        for block in self.blocks:
            x = block(x, cond_id)
        return self.final_norm(x.transpose(1, 2))  # (B, T, C)


class ISTFTHead(nn.Module):
    """Linear to (log-magnitude, phase) per bin, magnitude clipped at 100, then the inverse STFT."""

    def __init__(self, cfg: VocosConfig):
        super().__init__()
        self.out = nn.Linear(cfg.dim, cfg.n_fft + 2)
        self.istft = ISTFT(cfg.n_fft, cfg.hop_length, padding=cfg.padding)

    def spectrum(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (B, T, C) -> 2 x (B, F, T)
        log_mag, phase = self.out(x).transpose(1, 2).chunk(2, dim=1)
        mag = log_mag.exp().clamp(max=1e2)  # the official safeguard against huge magnitudes
        return mag * torch.cos(phase), mag * torch.sin(phase)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, samples)
        return self.istft(*self.spectrum(x))


class Vocos(nn.Module):
    def __init__(self, cfg: VocosConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = VocosBackbone(cfg)
        self.head = ISTFTHead(cfg)

    def forward(self, features: torch.Tensor, cond_id: torch.Tensor | None = None) -> torch.Tensor:
        """features (B, n_mels, T) [, bandwidth id (B,) for the EnCodec variant] -> waveform (B, samples)."""
        return self.head(self.backbone(features, cond_id))
