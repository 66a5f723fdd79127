"""Kaldi-style log-mel filterbank features in NumPy, and w2v-BERT 2.0's input built from them: transformers'
``SeamlessM4TFeatureExtractor`` (the front end of facebook/w2v-bert-2.0, SeamlessM4T's speech encoder and
``Wav2Vec2BertModel``), computed without torch so the runtime can feed a w2v-BERT graph.

Per utterance, 16 kHz mono float samples (N,):

    x * 32768 (Kaldi reads 16-bit integers) -> frames of 400 samples every 160 (25 ms / 10 ms, "snip edges": no
    padding, 1 + (N - 400) // 160 frames) -> per frame: subtract its mean (DC offset), pre-emphasis
    y[0] = x[0] - 0.97 x[0], y[i] = x[i] - 0.97 x[i-1], Povey window (symmetric Hann ** 0.85), zero-pad to 512
    -> |rfft|^2 (257 bins) -> 80 triangular mel filters (Kaldi mel scale 1127 ln(1 + f / 700), 20 Hz .. 8 kHz,
    triangles in mel space, no area normalisation) -> ln(max(., 1.1920929e-07))              fbank (F, 80)
    -> per mel bin over the utterance: (x - mean) / sqrt(var + 1e-7), var with ddof 1 (transformers' numpy code
       mimics torch's default)                                                               (F, 80)
    -> pairs of consecutive frames side by side (stride 2): frame t = [fbank[2t], fbank[2t + 1]]  (F // 2, 160)

Dither is 0 (deterministic). On an odd frame count the extractor zero-pads one frame to complete the last pair and
marks that pair padding in its attention mask; here the incomplete pair is dropped instead (the per-bin statistics
still include the odd frame, as the extractor's do). Both give the same hidden states for the kept frames: the
masked pair is no key for attention and w2v-BERT's depthwise convolutions are causal (left-padded), so it cannot
reach an earlier frame. One output frame per 320 samples (20 ms, 50 Hz); the first needs 560 samples.

Why the runtime computes this in NumPy rather than inside the exported graph: the per-utterance statistics (ddof 1)
and Kaldi's per-frame DC removal and pre-emphasis are plain array code here and are checked against the extractor
itself; the power spectrum of x * 32768 reaches ~1e13, beyond float16 (an fp16 graph variant would overflow) and
wasteful in int8; and the graph then takes exactly ``Wav2Vec2BertModel``'s ``input_features`` (1, T, 160), so it is
verified against the transformers model's own input contract. The cost is small (one 512-point FFT per 10 ms).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InvalidInput
from .mel import hz_to_mel, log_compress


@dataclass(frozen=True)
class FbankConfig:
    """SeamlessM4TFeatureExtractor's settings (facebook/w2v-bert-2.0's preprocessor_config.json uses the defaults)."""

    sample_rate: int = 16000
    n_mels: int = 80
    frame_length: int = 400  # 25 ms
    hop_length: int = 160  # 10 ms
    n_fft: int = 512
    fmin: float = 20.0
    fmax: float | None = None  # None: Nyquist
    preemphasis: float = 0.97
    window_power: float = 0.85  # Povey window: symmetric Hann ** 0.85
    int16_scale: float = 32768.0  # Kaldi's sample scale
    mel_floor: float = 1.192092955078125e-07  # float32 epsilon
    stride: int = 2  # frames stacked side by side
    norm_eps: float = 1e-7  # per-mel-bin normalisation

    def __post_init__(self):
        for name in ("sample_rate", "n_mels", "frame_length", "hop_length", "n_fft", "stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise InvalidInput(f"FbankConfig.{name} must be a positive integer, got {value!r}")
        if self.frame_length > self.n_fft:
            raise InvalidInput(f"FbankConfig.frame_length {self.frame_length} exceeds n_fft {self.n_fft}")
        fmax = self.sample_rate / 2 if self.fmax is None else self.fmax
        if not 0 <= self.fmin < fmax <= self.sample_rate / 2:
            raise InvalidInput(f"FbankConfig needs 0 <= fmin < fmax <= sample_rate / 2, got {self.fmin}, {self.fmax}")

    @property
    def dim(self) -> int:
        """Width of a stacked frame (160 for w2v-BERT)."""
        return self.n_mels * self.stride

    @property
    def hop_samples(self) -> int:
        """Input samples per stacked frame (320)."""
        return self.hop_length * self.stride

    @property
    def min_samples(self) -> int:
        """Samples the first stacked frame needs (560)."""
        return self.frame_length + (self.stride - 1) * self.hop_length

    def n_fbank_frames(self, n_samples: int) -> int:
        return 0 if n_samples < self.frame_length else 1 + (n_samples - self.frame_length) // self.hop_length

    def n_frames(self, n_samples: int) -> int:
        """Stacked frames of ``n_samples`` samples (the incomplete last pair dropped)."""
        return self.n_fbank_frames(n_samples) // self.stride

    def to_dict(self) -> dict:
        return asdict(self)


W2V_BERT_FBANK = FbankConfig()


def povey_window(length: int, power: float = 0.85) -> np.ndarray:
    """Kaldi's Povey window: the symmetric Hann window (0.5 - 0.5 cos(2 pi n / (L - 1))) to the power 0.85."""
    n = np.arange(length, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / (length - 1))) ** power


def kaldi_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 20.0,
                         fmax: float | None = None) -> np.ndarray:
    """Kaldi's mel filters (n_mels, n_fft // 2 + 1), float64: n_mels + 2 edges equally spaced on the mel scale
    between fmin and fmax, each filter a triangle *in mel* (linear in the bins' mel values, not in Hz), unnormalised.

    Kaldi's scale is 1127 ln(1 + f / 700); the htk scale ``hz_to_mel(f, "htk")`` is the same curve times a constant
    (2595 / ln 10 / 1127), and triangles measured in mel are ratios of mel differences, so the constant cancels."""
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    bins = hz_to_mel(np.arange(n_fft // 2 + 1) * (sample_rate / n_fft), "htk")  # (F,) the bins' mels
    edges = np.linspace(hz_to_mel(fmin, "htk"), hz_to_mel(fmax, "htk"), n_mels + 2)  # (n_mels + 2,)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - left) / (centre - left)
    falling = (right - bins[None]) / (right - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def kaldi_fbank(samples: np.ndarray, cfg: FbankConfig = W2V_BERT_FBANK) -> np.ndarray:
    """Log-mel filterbank (frames, n_mels) float64 of mono samples (N,) in [-1, 1] at ``cfg.sample_rate``."""
    x = np.asarray(samples)
    if x.ndim != 1:
        raise InvalidInput(f"fbank input must be mono samples (N,), got shape {x.shape}")
    if x.size < cfg.frame_length:
        raise InvalidInput(f"{x.size} samples are shorter than one {cfg.frame_length}-sample fbank frame")
    x = x.astype(np.float32).astype(np.float64) * cfg.int16_scale  # the extractor reads float32 samples
    frames = np.lib.stride_tricks.sliding_window_view(x, cfg.frame_length)[::cfg.hop_length]  # (F, L) view
    frames = frames - frames.mean(axis=1, keepdims=True)
    emphasized = np.empty_like(frames)
    emphasized[:, 1:] = frames[:, 1:] - cfg.preemphasis * frames[:, :-1]
    emphasized[:, 0] = frames[:, 0] * (1.0 - cfg.preemphasis)
    spectrum = np.fft.rfft(emphasized * povey_window(cfg.frame_length, cfg.window_power), n=cfg.n_fft, axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2  # (F, n_fft // 2 + 1)
    mel = power @ kaldi_mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax).T
    return log_compress(mel, "ln", cfg.mel_floor)


def normalize_per_bin(features: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) per column over the rows (frames), var with ddof 1 (the extractor's)."""
    f = np.asarray(features, dtype=np.float64)
    if f.shape[0] < 2:
        raise InvalidInput(f"per-bin normalisation needs at least 2 frames, got {f.shape[0]}")
    return (f - f.mean(axis=0)) / np.sqrt(f.var(axis=0, ddof=1) + eps)


def stack_frames(features: np.ndarray, stride: int = 2) -> np.ndarray:
    """(F, C) -> (F // stride, C * stride): consecutive frames side by side, an incomplete last group dropped."""
    f = np.asarray(features)
    n = f.shape[0] // stride
    return f[:n * stride].reshape(n, stride * f.shape[1])


def w2v_bert_features(samples: np.ndarray, cfg: FbankConfig = W2V_BERT_FBANK) -> np.ndarray:
    """w2v-BERT's ``input_features`` of one utterance: (T, 160) float32, T = ``cfg.n_frames(N)`` (module docstring).
    ``samples``: mono (N,) at ``cfg.sample_rate`` (resample first); at least ``cfg.min_samples`` of them."""
    x = np.asarray(samples)
    if x.ndim != 1:
        raise InvalidInput(f"w2v-BERT features need mono samples (N,), got shape {x.shape}")
    if x.size < cfg.min_samples:
        raise InvalidInput(f"{x.size} samples are too short for w2v-BERT features: at least {cfg.min_samples} "
                           f"({cfg.min_samples / cfg.sample_rate * 1000:.0f} ms at {cfg.sample_rate} Hz) are needed")
    if not np.isfinite(x).all():
        raise InvalidInput("audio holds NaN or infinite samples")
    normed = normalize_per_bin(kaldi_fbank(x, cfg), cfg.norm_eps)
    return np.ascontiguousarray(stack_frames(normed, cfg.stride), dtype=np.float32)
