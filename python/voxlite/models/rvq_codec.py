"""RVQ neural audio codec (SoundStream / EnCodec): SEANet encoder -> residual VQ -> SEANet decoder.

    codec = RVQCodec(RVQCodecConfig.encodec_24khz())      # + convert.encodec.load_official(...)
    codes = codec.encode(wav)                               # (B, channels, T) -> (B, n_q, ceil(T / hop))
    wav_hat = codec.decode(codes)                           # -> (B, channels, T_codes * hop)
    state = codec.decoder.initial_state(B, codec.quantizer.decode(codes[..., :7]))
    chunk, state = codec.decode_stream(codes[..., :4], state)   # causal models: streaming decode

The quantizer follows EnCodec: codebooks in the latent space, nearest codeword by squared L2, no projection.
``encode`` / ``decode`` are the plain codec (what the 24 kHz model and exported graphs use).
``encode_frames`` / ``decode_frames`` add what the official ``EncodecModel.encode`` / ``decode`` do around it for
the 48 kHz model: per-segment RMS normalisation (``normalize``) and 1 s segments joined by linear overlap-add
(``segment``, ``overlap``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from voxlite.models.blocks.rvq import ResidualVQ
from voxlite.models.seanet import SEANetConfig, SEANetDecoder, SEANetEncoder

Frame = tuple[torch.Tensor, "torch.Tensor | None"]  # (codes (B, n_q, T), scale (B, 1) or None)


@dataclass
class RVQCodecConfig(SEANetConfig):
    sample_rate: int = 24_000
    n_q: int = 32  # codebooks in the checkpoint; fewer can be used at encode / decode (lower bandwidth)
    codebook_size: int = 1024  # 10 bits per code
    target_bandwidths: tuple[float, ...] = (1.5, 3.0, 6.0, 12.0, 24.0)  # kbps; 24 kbps = 32 codebooks at 75 Hz
    normalize: bool = False  # 48 kHz: divide each segment by its RMS before encoding, multiply back after
    segment: float | None = None  # seconds per independently coded segment (48 kHz: 1.0); None: whole input
    overlap: float = 0.01  # fraction of a segment shared with the next one (linear cross-fade)

    @classmethod
    def encodec_24khz(cls) -> "RVQCodecConfig":
        """facebook EnCodec 24 kHz (encodec_24khz-d7cc33bc.th): causal, weight norm, 75 Hz, 32 x 1024 codes."""
        return cls()

    @classmethod
    def encodec_48khz(cls) -> "RVQCodecConfig":
        """facebook EnCodec 48 kHz stereo (encodec_48khz-7e698e3e.th): non-causal, time group norm, 150 Hz,
        16 x 1024 codes, normalised 1 s segments."""
        return cls(channels=2, causal=False, norm="time_group_norm", sample_rate=48_000, n_q=16,
                   target_bandwidths=(3.0, 6.0, 12.0, 24.0), normalize=True, segment=1.0)

    @classmethod
    def tiny(cls, **overrides) -> "RVQCodecConfig":
        """Test size: odd widths, mixed strides, two residual layers (dilations 1, 2), 4 x 32 codes."""
        kw = dict(sample_rate=2400, channels=1, dimension=7, n_filters=5, n_residual_layers=2, ratios=(4, 3, 2),
                  lstm=2, n_q=4, codebook_size=32, target_bandwidths=(0.5, 1.0, 2.0))
        kw.update(overrides)
        return cls(**kw)

    @property
    def frame_rate(self) -> int:
        return math.ceil(self.sample_rate / self.hop_length)

    def n_q_for_bandwidth(self, bandwidth_kbps: float | None) -> int:
        """Codebooks the official model uses at a target bandwidth (all of them for None)."""
        if not bandwidth_kbps:
            return self.n_q
        per_q = math.log2(self.codebook_size) * self.frame_rate / 1000
        return int(max(1, math.floor(bandwidth_kbps / per_q)))


class RVQCodec(nn.Module):
    def __init__(self, cfg: RVQCodecConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = SEANetEncoder(cfg)
        self.quantizer = ResidualVQ(cfg.n_q, cfg.codebook_size, cfg.dimension)
        self.decoder = SEANetDecoder(cfg)

    # -- plain codec -------------------------------------------------------------------------------------
    def encode_latents(self, wav: torch.Tensor) -> torch.Tensor:  # (B, channels, T) -> (B, D, ceil(T / hop))
        return self.encoder(wav)

    def encode(self, wav: torch.Tensor, n_q: int | None = None) -> torch.Tensor:  # -> codes (B, n_q, T')
        return self.quantizer.encode(self.encoder(wav), n_q)

    def decode_latents(self, z: torch.Tensor) -> torch.Tensor:  # (B, D, T') -> (B, channels, T' * hop)
        return self.decoder(z)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:  # (B, n_q', T') -> (B, channels, T' * hop)
        return self.decoder(self.quantizer.decode(codes))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Official ``EncodecModel.forward``: encode_frames -> decode_frames, trimmed to the input length
        (plain encode -> decode for the 24 kHz model)."""
        return self.decode_frames(self.encode_frames(wav))[..., : wav.shape[-1]]

    def decode_stream(self, codes: torch.Tensor, state: tuple[torch.Tensor, ...]
                      ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Causal models: a chunk of codes (B, n_q', T) -> (audio (B, channels, T * hop), new decoder state)."""
        return self.decoder.stream(self.quantizer.decode(codes), state)

    # -- official EncodecModel.encode / decode (segments, normalisation) ---------------------------------
    @property
    def segment_length(self) -> int | None:
        return None if self.cfg.segment is None else int(self.cfg.segment * self.cfg.sample_rate)

    @property
    def segment_stride(self) -> int | None:
        n = self.segment_length
        return None if n is None else max(1, int((1 - self.cfg.overlap) * n))

    def encode_frames(self, wav: torch.Tensor, n_q: int | None = None) -> list[Frame]:
        """(B, channels, T) -> one (codes, scale) per segment (one segment when ``segment`` is None)."""
        length = wav.shape[-1]
        seg, stride = (length, length) if self.segment_length is None else (self.segment_length, self.segment_stride)
        frames = []
        for start in range(0, length, stride):
            x, scale = wav[..., start:start + seg], None
            if self.cfg.normalize:
                rms = x.mean(dim=1, keepdim=True).pow(2).mean(dim=2, keepdim=True).sqrt()  # (B, 1, 1), mono mix
                scale = 1e-8 + rms
                x = x / scale
                scale = scale.view(-1, 1)
            frames.append((self.encode(x, n_q), scale))
        return frames

    def decode_frames(self, frames: list[Frame]) -> torch.Tensor:
        """Inverse of ``encode_frames``; may be longer than the input (trim to its length)."""
        outs = []
        for codes, scale in frames:
            y = self.decode(codes)
            outs.append(y if scale is None else y * scale.view(-1, 1, 1))
        if self.segment_length is None:
            if len(outs) != 1:
                raise ValueError("an unsegmented model decodes exactly one frame")
            return outs[0]
        return linear_overlap_add(outs, self.segment_stride)


def linear_overlap_add(frames: list[torch.Tensor], stride: int) -> torch.Tensor:
    """Join segments placed ``stride`` apart with triangular weights, normalised by the summed weights.

    Where one segment covers a sample the weight cancels; where two overlap, the cross-fade is linear.
    The triangle is sized by the first segment and truncated for shorter (last) segments.
    """
    length0 = frames[0].shape[-1]
    total = stride * (len(frames) - 1) + frames[-1].shape[-1]
    t = torch.linspace(0, 1, length0 + 2, dtype=frames[0].dtype, device=frames[0].device)[1:-1]
    weight = 0.5 - (t - 0.5).abs()  # (length0,), > 0 everywhere
    out = frames[0].new_zeros(*frames[0].shape[:-1], total)
    norm = frames[0].new_zeros(total)
    for i, frame in enumerate(frames):
        n, start = frame.shape[-1], i * stride
        out[..., start:start + n] += weight[:n] * frame
        norm[start:start + n] += weight[:n]
    return out / norm
