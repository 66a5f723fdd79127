"""DAC (Descript Audio Codec, Kumar et al. 2023): a non-causal Snake conv codec with a factorized, L2-normalised RVQ.

    wav (B, 1, T) -> Encoder -> z (B, D, T / hop) -> ResidualVQ -> codes (B, n_q, T / hop)
    codes -> ResidualVQ.decode -> z_q (B, D, T / hop) -> Decoder -> wav (B, 1, ~T)

Encoder and decoder are the DAC layout: a 7-tap input conv, one block per stride (three Snake residual units with
dilations 1/3/9 around a strided conv of kernel 2*stride), Snake, and an output conv; the decoder ends in tanh. All
convolutions are plain ``nn.Conv1d`` / ``nn.ConvTranspose1d`` with the official symmetric padding (weight norm is
folded by ``voxlite.convert.dac``), so official checkpoints reproduce exactly. The quantizer is the shared
``ResidualVQ`` in its DAC convention (per-stage in/out projections, cosine search).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .blocks.activations import Snake
from .blocks.rvq import ResidualVQ


@dataclass
class DACConfig:
    encoder_dim: int = 64  # channels after the input conv; doubled by every encoder block
    encoder_rates: tuple[int, ...] = (2, 4, 8, 8)  # hop = product (512 at 44.1 kHz -> ~86 Hz frames)
    latent_dim: int | None = None  # None: encoder_dim * 2 ** len(encoder_rates), as the official model does
    decoder_dim: int = 1536  # channels after the decoder input conv; halved by every decoder block
    decoder_rates: tuple[int, ...] = (8, 8, 4, 2)
    n_codebooks: int = 9
    codebook_size: int = 1024
    codebook_dim: int = 8  # factorized codes: searched in an 8-d projected space (official allows a list; unused)
    sample_rate: int = 44100

    def __post_init__(self):
        self.encoder_rates = tuple(self.encoder_rates)
        self.decoder_rates = tuple(self.decoder_rates)
        if self.latent_dim is None:
            self.latent_dim = self.encoder_dim * 2 ** len(self.encoder_rates)
        if not isinstance(self.codebook_dim, int):
            dims = set(self.codebook_dim)
            if len(dims) != 1:
                raise ValueError("per-codebook codebook_dim lists are not supported (no published DAC uses them)")
            self.codebook_dim = dims.pop()

    @property
    def hop_length(self) -> int:
        return math.prod(self.encoder_rates)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @classmethod
    def preset(cls, name: str, **overrides) -> "DACConfig":
        """Published checkpoints (DAC 1.0.0 weights' ``metadata.kwargs``) and a tiny test size.

        Overrides replace fields one by one: a preset's latent_dim is already resolved, so pass it too when you
        change encoder_dim or encoder_rates.
        """
        if name not in DAC_PRESETS:
            raise KeyError(f"unknown DAC preset {name!r}; known: {sorted(DAC_PRESETS)}")
        return replace(DAC_PRESETS[name], **overrides)

    @classmethod
    def from_official_kwargs(cls, kwargs: dict) -> "DACConfig":
        """From a DAC checkpoint's ``metadata["kwargs"]`` (training-only keys such as quantizer_dropout ignored)."""
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in kwargs.items() if k in names})


DAC_PRESETS: dict[str, DACConfig] = {
    "44khz": DACConfig(),  # 8 kbps: 9 codebooks at 86 Hz
    "44khz_16kbps": DACConfig(n_codebooks=18),
    "24khz": DACConfig(encoder_rates=(2, 4, 5, 8), decoder_rates=(8, 5, 4, 2), n_codebooks=32, sample_rate=24000),
    "16khz": DACConfig(encoder_rates=(2, 4, 5, 8), decoder_rates=(8, 5, 4, 2), n_codebooks=12, sample_rate=16000),
    # tests: odd channel counts and an odd stride so padding and transposes cannot hide
    "tiny": DACConfig(encoder_dim=3, encoder_rates=(2, 3), latent_dim=7, decoder_dim=20, decoder_rates=(3, 2),
                      n_codebooks=4, codebook_size=16, codebook_dim=3, sample_rate=8000),
}


class ResidualUnit(nn.Module):
    """x + conv1x1(snake(conv7_dilated(snake(x)))); 'same' padding, so lengths never change."""

    def __init__(self, dim: int, dilation: int):
        super().__init__()
        self.snake1 = Snake(dim)
        self.conv1 = nn.Conv1d(dim, dim, 7, dilation=dilation, padding=3 * dilation)
        self.snake2 = Snake(dim)
        self.conv2 = nn.Conv1d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        return x + self.conv2(self.snake2(self.conv1(self.snake1(x))))


class EncoderBlock(nn.Module):
    """Three residual units at dim_in, then Snake and a kernel-2s stride-s conv to dim_out."""

    def __init__(self, dim_in: int, dim_out: int, stride: int):
        super().__init__()
        self.res_units = nn.ModuleList([ResidualUnit(dim_in, d) for d in (1, 3, 9)])
        self.snake = Snake(dim_in)
        self.down = nn.Conv1d(dim_in, dim_out, 2 * stride, stride=stride, padding=math.ceil(stride / 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, T) -> (B, C_out, T / stride)
        for unit in self.res_units:
            x = unit(x)
        return self.down(self.snake(x))


class DecoderBlock(nn.Module):
    """Snake, a kernel-2s stride-s transposed conv (output T*s, minus 1 for odd s as in DAC), three residual units."""

    def __init__(self, dim_in: int, dim_out: int, stride: int):
        super().__init__()
        self.snake = Snake(dim_in)
        self.up = nn.ConvTranspose1d(dim_in, dim_out, 2 * stride, stride=stride, padding=math.ceil(stride / 2))
        self.res_units = nn.ModuleList([ResidualUnit(dim_out, d) for d in (1, 3, 9)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, T) -> (B, C_out, ~T * stride)
        x = self.up(self.snake(x))
        for unit in self.res_units:
            x = unit(x)
        return x


class Encoder(nn.Module):
    def __init__(self, cfg: DACConfig):
        super().__init__()
        dim = cfg.encoder_dim
        self.conv_in = nn.Conv1d(1, dim, 7, padding=3)
        blocks = []
        for stride in cfg.encoder_rates:
            blocks.append(EncoderBlock(dim, 2 * dim, stride))
            dim *= 2
        self.blocks = nn.ModuleList(blocks)
        self.snake_out = Snake(dim)
        self.conv_out = nn.Conv1d(dim, cfg.latent_dim, 3, padding=1)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:  # (B, 1, T) -> (B, D, T / hop)
        x = self.conv_in(wav)
        for block in self.blocks:
            x = block(x)
        return self.conv_out(self.snake_out(x))


class Decoder(nn.Module):
    def __init__(self, cfg: DACConfig):
        super().__init__()
        self.conv_in = nn.Conv1d(cfg.latent_dim, cfg.decoder_dim, 7, padding=3)
        dims = [cfg.decoder_dim // 2 ** i for i in range(len(cfg.decoder_rates) + 1)]
        self.blocks = nn.ModuleList([DecoderBlock(dims[i], dims[i + 1], s) for i, s in enumerate(cfg.decoder_rates)])
        self.snake_out = Snake(dims[-1])
        self.conv_out = nn.Conv1d(dims[-1], 1, 7, padding=3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, D, T') -> (B, 1, ~T' * hop)
        x = self.conv_in(z)
        for block in self.blocks:
            x = block(x)
        return torch.tanh(self.conv_out(self.snake_out(x)))


class DACCodec(nn.Module):
    """Encoder + factorized RVQ + decoder. ``encode(wav) -> codes``, ``decode(codes) -> wav``."""

    def __init__(self, cfg: DACConfig):
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = ResidualVQ(cfg.n_codebooks, cfg.codebook_size, cfg.latent_dim,
                                    codebook_dim=cfg.codebook_dim, normalize=True)
        self.decoder = Decoder(cfg)

    def pad_to_hop(self, wav: torch.Tensor) -> torch.Tensor:
        """Right-pad with zeros to a whole number of frames (the official ``preprocess``)."""
        hop = self.config.hop_length
        return F.pad(wav, (0, (-wav.shape[-1]) % hop))

    def encode_latents(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, 1, T) or (B, T) -> continuous latents before quantization (B, D, ceil(T / hop))."""
        if wav.dim() == 2:
            wav = wav[:, None]
        return self.encoder(self.pad_to_hop(wav))

    def encode(self, wav: torch.Tensor, n_quantizers: int | None = None) -> torch.Tensor:
        """wav (B, 1, T) -> codes (B, n_q, ceil(T / hop)) (int64)."""
        return self.quantizer.encode(self.encode_latents(wav), n_quantizers)

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, n, T') -> quantized latents z_q (B, D, T'), the sum of the first n stages."""
        return self.quantizer.decode(codes)

    def decode_latents(self, z: torch.Tensor) -> torch.Tensor:
        """z_q (B, D, T') -> wav (B, 1, T' * hop, one sample less per odd decoder stride)."""
        return self.decoder(z)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, n, T') -> wav (B, 1, ~T' * hop); trim to the input length yourself, as the official code does."""
        return self.decoder(self.quantizer.decode(codes))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:  # round trip, trimmed to the input length
        length = wav.shape[-1]
        return self.decode(self.encode(wav))[..., :length]
