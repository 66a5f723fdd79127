"""UniAudio's codec: a 16 kHz SoundStream that is architecturally EnCodec, so it *is* an ``RVQCodec``.

UniAudio (Yang et al., 2023) tokenizes audio with its own ``SoundStream`` class. Its modules are EnCodec's SEANet
encoder / decoder and EnCodec's residual VQ, with the same state-dict keys, so no new network code is needed:

- SEANet, non-causal, reflect padding, weight norm (folded by the converter), ELU, one residual block per
  resolution (kernel 3 to dim/2, kernel 1 back, 1x1-conv shortcut: ``true_skip=False``), ratios (8, 5, 4, 2) ->
  hop 320 (50 frames/s at 16 kHz), a 2-layer skip LSTM at the bottleneck of both halves, no final activation.
  Non-causal transposed convs trim ``(k - s) // 2`` samples on the right and the rest on the left, and the
  non-causal convs split their padding the same way: exactly ``SConv1d`` / ``SConvTranspose1d`` with
  ``causal=False``.
- Residual VQ in the latent space (no projection), nearest codeword by squared Euclidean distance, residual
  subtraction; decode = sum of the codewords: ``ResidualVQ`` without projection.

What differs is configuration (``D`` = latent width, ``n_filters``, 1024-entry codebooks, the number of codebooks
from the largest target bandwidth) and how the LM consumes codes: ``AudioTokenizer`` encodes at 1.5 kbps
(3 codebooks) and flattens them frame-major with codebook ``c`` offset by ``c * 1024``; see ``flatten_codes``.

Presets: ``tiny`` is the parity fixture's size (n_filters 3, D 12, 3 codebooks); ``uniaudio_16khz`` is the released
tokenizer's size: n_filters 32, D 256 (the inference tokenizer's config; the codec-training config uses 128, and
``convert.soundstream`` reads D, n_filters and the codebook count from a checkpoint's shapes anyway), target
bandwidths 0.5 .. 6 kbps -> 12 codebooks.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch

from voxlite.models.rvq_codec import RVQCodec, RVQCodecConfig

SAMPLE_RATE = 16_000
RATIOS = (8, 5, 4, 2)
CODEBOOK_SIZE = 1024
LM_BANDWIDTH = 1.5  # kbps: what UniAudio's AudioTokenizer encodes at (3 codebooks at 50 frames/s)


def config_from_official(kwargs: Mapping) -> RVQCodecConfig:
    """``SoundStream(**kwargs)`` constructor arguments (``generator.config`` of its config.yaml) -> RVQCodecConfig.

    The official model keeps ``int(1000 * max(bandwidths) // (frame_rate * 10))`` codebooks, with
    ``frame_rate = ceil(sample_rate / hop)``; everything SEANet-internal is EnCodec's non-causal default."""
    allowed = {"n_filters", "D", "target_bandwidths", "ratios", "sample_rate", "bins", "normalize", "causal"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise ValueError(f"unsupported SoundStream arguments: {sorted(unknown)}")
    missing = {"n_filters", "D", "target_bandwidths"} - set(kwargs)
    if missing:
        raise ValueError(f"SoundStream arguments missing: {sorted(missing)}")
    if kwargs.get("causal", False):
        raise ValueError("only the non-causal SoundStream (UniAudio's) is supported")
    if kwargs.get("normalize", False):
        raise ValueError("normalize=True (per-input RMS scaling) is not supported")
    ratios = tuple(int(r) for r in kwargs.get("ratios", RATIOS))
    sample_rate = int(kwargs.get("sample_rate", SAMPLE_RATE))
    bandwidths = tuple(float(b) for b in kwargs["target_bandwidths"])
    frame_rate = math.ceil(sample_rate / math.prod(ratios))
    n_q = int(1000 * bandwidths[-1] // (frame_rate * 10))
    return RVQCodecConfig(channels=1, dimension=int(kwargs["D"]), n_filters=int(kwargs["n_filters"]),
                          n_residual_layers=1, ratios=ratios, causal=False, pad_mode="reflect", norm="weight_norm",
                          lstm=2, true_skip=False, compress=2, sample_rate=sample_rate, n_q=n_q,
                          codebook_size=int(kwargs.get("bins", CODEBOOK_SIZE)), target_bandwidths=bandwidths)


def tiny() -> RVQCodecConfig:
    """The parity fixture's size: n_filters 3, D 12, bandwidths (0.5, 1, 1.5) -> 3 codebooks of 1024."""
    return config_from_official(dict(n_filters=3, D=12, target_bandwidths=[0.5, 1, 1.5], ratios=list(RATIOS),
                                     sample_rate=SAMPLE_RATE, bins=CODEBOOK_SIZE))


def uniaudio_16khz() -> RVQCodecConfig:
    """UniAudio's released codec size: n_filters 32, D 256, bandwidths 0.5 .. 6 kbps -> 12 codebooks of 1024."""
    return config_from_official(dict(n_filters=32, D=256, target_bandwidths=[0.5, 1, 1.5, 2, 4, 6],
                                     ratios=list(RATIOS), sample_rate=SAMPLE_RATE, bins=CODEBOOK_SIZE))


PRESETS = {"tiny": tiny, "uniaudio_16khz": uniaudio_16khz}


def flatten_codes(codes: torch.Tensor, codebook_size: int = CODEBOOK_SIZE) -> torch.Tensor:
    """Codes (n_q, T) -> AudioTokenizer's flat layout (T * n_q,): frame-major, codebook c offset by c * size."""
    if codes.dim() != 2:
        raise ValueError(f"codes must be (n_q, T), got shape {tuple(codes.shape)}")
    offsets = torch.arange(codes.shape[0], dtype=codes.dtype, device=codes.device)[:, None] * codebook_size
    return (codes + offsets).T.reshape(-1)


def unflatten_codes(tokens: torch.Tensor, n_q: int, codebook_size: int = CODEBOOK_SIZE) -> torch.Tensor:
    """Inverse of ``flatten_codes``: (T * n_q,) -> (n_q, T). Refuses lengths that are not whole frames and ids
    outside their codebook's range (e.g. the speech-edit mask id ``n_q * size``)."""
    if tokens.dim() != 1 or tokens.numel() % n_q:
        raise ValueError(f"need a 1-D token array whose length is a multiple of {n_q}, got {tuple(tokens.shape)}")
    codes = tokens.reshape(-1, n_q).T
    codes = codes - torch.arange(n_q, dtype=codes.dtype, device=codes.device)[:, None] * codebook_size
    if codes.numel() and (codes.min() < 0 or codes.max() >= codebook_size):
        raise ValueError("token outside its codebook's range (a mask id, or a wrong codebook order)")
    return codes


class SoundStream(RVQCodec):
    """``RVQCodec`` plus UniAudio's bandwidth selection and AudioTokenizer layout.

        codec = SoundStream(tiny())                    # + convert.soundstream.load_official(...)
        codes = codec.encode_bandwidth(wav, 1.5)       # (B, 1, S) -> (B, 3, ceil(S / 320))
        flat = codec.tokenize(wav[0])                  # (1, S) -> (3 * T,), what UniAudio's LM sees minus 128
        wav_hat = codec.detokenize(flat)               # -> (1, T * 320)
    """

    def n_q_for_bandwidth(self, bandwidth_kbps: float) -> int:
        """Codebooks the official ``encode(wav, target_bw)`` uses: floor(bw / (log2(bins) * frame_rate / 1000))."""
        per_q = math.log2(self.cfg.codebook_size) * self.cfg.frame_rate / 1000
        n = int(math.floor(bandwidth_kbps / per_q))
        if not 1 <= n <= self.cfg.n_q:
            raise ValueError(f"bandwidth {bandwidth_kbps} kbps -> {n} codebooks, the model has 1..{self.cfg.n_q}")
        return n

    def encode_bandwidth(self, wav: torch.Tensor, bandwidth_kbps: float = LM_BANDWIDTH) -> torch.Tensor:
        return self.encode(wav, self.n_q_for_bandwidth(bandwidth_kbps))

    def tokenize(self, wav: torch.Tensor, bandwidth_kbps: float = LM_BANDWIDTH) -> torch.Tensor:
        """One mono waveform (1, S) or (S,) -> the flat AudioTokenizer tokens (T * n_q,)."""
        wav = wav.reshape(1, 1, -1)
        return flatten_codes(self.encode_bandwidth(wav, bandwidth_kbps)[0], self.cfg.codebook_size)

    def detokenize(self, tokens: torch.Tensor | Sequence[int], n_q: int = 3) -> torch.Tensor:
        """Flat AudioTokenizer tokens (T * n_q,) -> waveform (1, T * hop)."""
        tokens = torch.as_tensor(tokens, dtype=torch.long)
        return self.decode(unflatten_codes(tokens, n_q, self.cfg.codebook_size)[None])[0]
