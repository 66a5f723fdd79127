"""HiFi-GAN generator (Kong et al. 2020, V1 / resblock type 1), as AudioLDM 2 and SpeechT5 use it.

mel (B, n_mels, T) [-> (mel - mean) / scale, SpeechT5 variant] -> Conv1d(k=7) -> for each upsample stage:
leaky_relu, ConvTranspose1d(stride r), mean of the multi-receptive-field resblocks -> leaky_relu(0.01)
-> Conv1d(k=7, 1 channel) -> tanh -> waveform (B, T * prod(rates)). Weights are plain (converters fold
weight norm). Non-causal throughout: no streaming form.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class HiFiGANConfig:
    n_mels: int = 64
    upsample_initial_channel: int = 1024
    upsample_rates: tuple[int, ...] = (5, 4, 2, 2, 2)  # product = hop length (160 at 16 kHz)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 8, 4, 4)
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    leaky_relu_slope: float = 0.1  # inside the network; the one before conv_post is torch's default 0.01
    normalize_before: bool = False  # SpeechT5: (mel - mean) / scale with buffers from the checkpoint
    sample_rate: int = 16000
    mel: str | None = "audioldm2-16khz-64band"  # voxlite.dsp.MEL_PRESETS entry of the features it expects

    def __post_init__(self):
        self.upsample_rates = tuple(self.upsample_rates)
        self.upsample_kernel_sizes = tuple(self.upsample_kernel_sizes)
        self.resblock_kernel_sizes = tuple(self.resblock_kernel_sizes)
        self.resblock_dilation_sizes = tuple(tuple(d) for d in self.resblock_dilation_sizes)
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes must have the same length")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes must have the same length")
        if self.upsample_initial_channel % 2 ** len(self.upsample_rates):
            raise ValueError("upsample_initial_channel must halve exactly at every upsampling stage")

    @property
    def hop_length(self) -> int:
        hop = 1
        for r in self.upsample_rates:
            hop *= r
        return hop

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "HiFiGANConfig":
        return cls(**data)

    @classmethod
    def audioldm2(cls) -> "HiFiGANConfig":
        """AudioLDM 2's vocoder (diffusers ``vocoder/``: SpeechT5HifiGan, 64 mels, 16 kHz, normalize_before off)."""
        return cls()

    @classmethod
    def speecht5(cls) -> "HiFiGANConfig":
        """microsoft/speecht5_hifigan (SpeechT5HifiGanConfig defaults: 80 mels, 4 x 4 upsampling, normalised)."""
        return cls(n_mels=80, upsample_initial_channel=512, upsample_rates=(4, 4, 4, 4),
                   upsample_kernel_sizes=(8, 8, 8, 8), normalize_before=True, mel="speecht5-16khz-80band")

    @classmethod
    def tiny(cls, normalize_before: bool = True) -> "HiFiGANConfig":
        return cls(n_mels=7, upsample_initial_channel=20, upsample_rates=(3, 2), upsample_kernel_sizes=(7, 4),
                   resblock_kernel_sizes=(3, 5), resblock_dilation_sizes=((1, 3), (1, 2, 4)),
                   leaky_relu_slope=0.2, normalize_before=normalize_before, sample_rate=6000, mel=None)


class ResBlock(nn.Module):
    """Type 1: pairs of (leaky_relu, dilated conv, leaky_relu, conv), each pair residual."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], slope: float):
        super().__init__()
        self.slope = slope
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=d * (kernel_size - 1) // 2)
            for d in dilations)
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        for conv1, conv2 in zip(self.convs1, self.convs2):
            h = conv1(F.leaky_relu(x, self.slope))
            x = x + conv2(F.leaky_relu(h, self.slope))
        return x


class HiFiGAN(nn.Module):
    def __init__(self, cfg: HiFiGANConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.normalize_before:
            self.register_buffer("mean", torch.zeros(cfg.n_mels))
            self.register_buffer("scale", torch.ones(cfg.n_mels))
        c = cfg.upsample_initial_channel
        self.conv_pre = nn.Conv1d(cfg.n_mels, c, 7, padding=3)
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(c // 2**i, c // 2 ** (i + 1), k, stride=r, padding=(k - r) // 2)
            for i, (r, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes)))
        # resblocks[i * n_kernels + j]: stage i, kernel j (the official flat layout)
        self.resblocks = nn.ModuleList(
            ResBlock(c // 2 ** (i + 1), k, d, cfg.leaky_relu_slope)
            for i in range(len(self.ups))
            for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes))
        self.conv_post = nn.Conv1d(c // 2 ** len(self.ups), 1, 7, padding=3)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:  # (B, n_mels, T) -> (B, T * hop)
        if self.cfg.normalize_before:
            mel = (mel - self.mean[:, None]) / self.scale[:, None]
        x = self.conv_pre(mel)
        n_kernels = len(self.cfg.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, self.cfg.leaky_relu_slope))  # (B, C_i, T_i)
            mrf = self.resblocks[i * n_kernels](x)
            for j in range(1, n_kernels):
                mrf = mrf + self.resblocks[i * n_kernels + j](x)
            x = mrf / n_kernels
        x = self.conv_post(F.leaky_relu(x))  # default slope 0.01 here, as the official generator
        return torch.tanh(x).squeeze(1)
