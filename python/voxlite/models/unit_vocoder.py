"""Make-A-Voice's S3 unit vocoder: codec codes (and, for singing, an F0 track) -> waveform, on BigVGAN.

    codes (B, k, T) int64 -> one embedding table per codebook, summed -> (B, T, C)
    [+ F0 bins (B, T) int64 -> embedding (bin 0 = unvoiced, a learned vector like the rest)]
    -> (B, C, T) -> BigVGAN (num_mels = C) -> audio (B, 1, T * hop)

The codes are the first k = 3 codebooks of the codec (SoundStream, 1024 codes each, 50 Hz frames at 16 kHz).
Summing the k embeddings (rather than concatenating them) keeps the generator's input width independent of k, as
an RVQ decoder sums its stages' codewords; the F0 embedding is added the same way. The F0 bins are
``voxlite.dsp.f0.quantize_log_f0``'s (256 log-spaced bins, 0 unvoiced).

The generator is ``voxlite.models.bigvgan.BigVGAN`` unchanged: a non-causal stack of convolutions, so the audio
of frame t depends on frames t - L .. t + R only (``UnitVocoderConfig.receptive_field``), which is what lets the
runtime stream it in overlapping windows (``voxlite.pipelines.streaming.WindowedStreamDecoder``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from .bigvgan import BigVGAN, BigVGANConfig

# Reach of one anti-aliased activation (2x upsample, kernel 12 + 2x downsample, kernel 12), in samples at the
# activation's rate: the upsampler reads x[m/2 - 3 .. m/2 + 2.5], the downsampler 2.5 / 3 samples each side.
_AA_REACH = (5.5, 5.5)


@dataclass
class UnitVocoderConfig:
    n_codebooks: int = 3  # k: the codec's first codebooks (Make-A-Voice's S3 units)
    codebook_size: int = 1024  # SoundStream's codes per codebook
    embed_dim: int = 256  # the embeddings' width = BigVGAN's num_mels
    f0_bins: int = 0  # 0: no F0 input (speech); 256 for singing (voxlite.dsp.f0: bin 0 = unvoiced)
    bigvgan: BigVGANConfig = field(default_factory=BigVGANConfig)

    def __post_init__(self):
        if isinstance(self.bigvgan, Mapping):
            self.bigvgan = BigVGANConfig.from_h(self.bigvgan)
        for name in ("n_codebooks", "codebook_size", "embed_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.f0_bins != 0 and self.f0_bins < 3:
            raise ValueError(f"f0_bins must be 0 (no F0) or >= 3, got {self.f0_bins}")
        if self.bigvgan.num_mels != self.embed_dim:
            raise ValueError(f"bigvgan.num_mels ({self.bigvgan.num_mels}) must equal embed_dim ({self.embed_dim})")
        if self.bigvgan.hop_size != self.bigvgan.upsample_factor:
            raise ValueError(f"bigvgan.hop_size {self.bigvgan.hop_size} != prod(upsample_rates) "
                             f"{self.bigvgan.upsample_factor}")
        for rate, kernel in zip(self.bigvgan.upsample_rates, self.bigvgan.upsample_kernel_sizes):
            if (kernel - rate) % 2:  # else ConvTranspose1d gives rate * T + 1 samples, not rate * T
                raise ValueError(f"upsample kernel {kernel} - rate {rate} must be even")

    @property
    def hop_length(self) -> int:
        return self.bigvgan.upsample_factor

    @property
    def sample_rate(self) -> int:
        return self.bigvgan.sampling_rate

    def to_dict(self) -> dict[str, Any]:
        return {"n_codebooks": self.n_codebooks, "codebook_size": self.codebook_size, "embed_dim": self.embed_dim,
                "f0_bins": self.f0_bins, "bigvgan": self.bigvgan.to_h()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "UnitVocoderConfig":
        unknown = sorted(set(d) - {"n_codebooks", "codebook_size", "embed_dim", "f0_bins", "bigvgan"})
        if unknown:
            raise ValueError(f"unknown UnitVocoderConfig fields {unknown}")
        d = dict(d)
        if "bigvgan" in d:
            d["bigvgan"] = BigVGANConfig.from_h(d["bigvgan"])
        return cls(**d)

    @classmethod
    def tiny(cls, f0_bins: int = 0) -> "UnitVocoderConfig":
        """Test size at the real frame layout (16 kHz, hop 320 = 50 Hz frames: cheap at 36 -> 18 -> 9 -> 4
        channels); odd widths, a rate-5 stage, unequal dilation stacks."""
        return cls(n_codebooks=3, codebook_size=1024, embed_dim=12, f0_bins=f0_bins, bigvgan=BigVGANConfig(
            num_mels=12, upsample_rates=[8, 8, 5], upsample_kernel_sizes=[16, 16, 11], upsample_initial_channel=36,
            resblock="1", resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 3], [1, 2, 3]],
            activation="snakebeta", snake_logscale=True, use_tanh_at_final=False, use_bias_at_final=False,
            sampling_rate=16000, hop_size=320))

    @classmethod
    def base(cls, f0_bins: int = 0) -> "UnitVocoderConfig":
        """Make-A-Voice's unit vocoder at 16 kHz, hop 320 (50 Hz SoundStream frames), k = 3 codebooks of 1024.
        The generator is sized like BigVGAN base (512 initial channels in 4 stages, AMP kernels 3 / 7 / 11 with
        dilations 1 / 3 / 5, SnakeBeta, tanh out) with rates 8 x 5 x 4 x 2 = 320; the embedding width (256) is
        our choice. ``f0_bins=256`` for the singing variant. Sizes are ours where the paper gives none: a
        checkpoint's own config overrides them (``from_dict``)."""
        return cls(n_codebooks=3, codebook_size=1024, embed_dim=256, f0_bins=f0_bins, bigvgan=BigVGANConfig(
            num_mels=256, upsample_rates=[8, 5, 4, 2], upsample_kernel_sizes=[16, 11, 8, 4],
            upsample_initial_channel=512, resblock="1", resblock_kernel_sizes=[3, 7, 11],
            resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5], [1, 3, 5]], activation="snakebeta", snake_logscale=True,
            use_tanh_at_final=True, use_bias_at_final=True, sampling_rate=16000, hop_size=320))

    make_a_voice = base  # the same preset, by the paper's name

    def receptive_field(self) -> tuple[int, int]:
        """(L, R): output sample n (frame f = n // hop) depends on input frames f - L .. f + R at most. An upper
        bound summed layer by layer (each layer's reach in its own samples / its samples per frame)."""
        g = self.bigvgan
        left = right = 3.0  # conv_pre, kernel 7
        per_frame = 1
        for rate, kernel in zip(g.upsample_rates, g.upsample_kernel_sizes):
            pad = (kernel - rate) // 2
            left += (kernel - 1 - pad) / rate / per_frame  # transposed conv: reads x[(n + p - K + 1) / u .. (n + p) / u]
            right += pad / rate / per_frame
            per_frame *= rate
            stacks = []
            for k, dilations in zip(g.resblock_kernel_sizes, g.resblock_dilation_sizes):
                reach = 0.0
                for d in dilations:
                    reach += _AA_REACH[0] + (k - 1) * d / 2  # activation, dilated conv
                    if g.resblock == "1":
                        reach += _AA_REACH[0] + (k - 1) / 2  # activation, dilation-1 conv
                stacks.append(reach)
            left += max(stacks) / per_frame
            right += max(stacks) / per_frame
        left += (_AA_REACH[0] + 3) / per_frame  # activation_post, conv_post (kernel 7)
        right += (_AA_REACH[1] + 3) / per_frame
        return math.ceil(left - 1e-9), math.ceil(right - 1e-9)


class UnitVocoder(nn.Module):
    def __init__(self, cfg: UnitVocoderConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = nn.ModuleList(nn.Embedding(cfg.codebook_size, cfg.embed_dim)
                                        for _ in range(cfg.n_codebooks))
        self.f0_embedding = nn.Embedding(cfg.f0_bins, cfg.embed_dim) if cfg.f0_bins else None
        self.generator = BigVGAN(cfg.bigvgan)

    @property
    def hop_length(self) -> int:
        return self.cfg.hop_length

    def embed(self, codes: torch.Tensor, f0: torch.Tensor | None = None) -> torch.Tensor:
        """(B, k, T) codes [+ (B, T) F0 bins] -> (B, C, T) generator input."""
        if not torch.jit.is_tracing() and (codes.dim() != 3 or codes.shape[1] != self.cfg.n_codebooks):
            raise ValueError(f"codes must be (B, {self.cfg.n_codebooks}, T), got {tuple(codes.shape)}")
        x = self.embeddings[0](codes[:, 0])
        for q in range(1, self.cfg.n_codebooks):
            x = x + self.embeddings[q](codes[:, q])
        if self.f0_embedding is not None:
            if f0 is None:
                raise ValueError("this vocoder takes an F0 track (f0_bins > 0)")
            x = x + self.f0_embedding(f0)
        elif f0 is not None:
            raise ValueError("this vocoder takes no F0 (f0_bins = 0)")
        return x.transpose(1, 2)

    def forward(self, codes: torch.Tensor, f0: torch.Tensor | None = None) -> torch.Tensor:
        """codes (B, k, T) int64, f0 (B, T) int64 or None -> audio (B, 1, T * hop)."""
        return self.generator(self.embed(codes, f0))
