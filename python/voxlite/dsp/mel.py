"""Mel front end in NumPy: filterbanks equal to ``librosa.filters.mel``, STFT and log-mel features.

One implementation of the conventions the reference vocoders were trained with, so the runtime (no torch) can
turn a prompt wav into exactly the features a bundle expects, and ``models/blocks/mel.py`` builds its torch
module from the same filterbank. The conventions that differ between families:

- padding: ``"center"`` reflect-pads n_fft // 2 on both sides (librosa, torch.stft(center=True), torchaudio,
  Tacotron/AudioLDM STFT); ``"same"`` reflect-pads (n_fft - hop) // 2 and frames without centring (HiFi-GAN,
  BigVGAN, Vocos ``padding="same"``); ``"none"`` frames the raw signal.
- magnitude: ``(re^2 + im^2 + mag_eps) ** (power / 2)``; HiFi-GAN and BigVGAN add 1e-9 under the square root.
- filterbank: slaney or htk mel scale, slaney area normalisation or none (torchaudio's default is htk / none).
- log: natural log of ``max(x, floor)`` (HiFi-GAN / BigVGAN 1e-5, Vocos 1e-7) or log10 (SpeechT5, floor 1e-10).

Shapes follow the torch side: a wav (..., N) gives a spectrogram (..., F, T) and mels (..., n_mels, T).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ..errors import InvalidInput

MEL_SCALES = ("slaney", "htk")
NORMS = ("slaney", None)
PADDINGS = ("center", "same", "none")
LOGS = ("ln", "log10", "none")


# --------------------------------------------------------------------------- mel scale and filterbank

_F_SP = 200.0 / 3  # slaney: linear below 1 kHz, 3 mels per 200 Hz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0  # slaney: log-spaced above 1 kHz, 27 steps per factor 6.4


def hz_to_mel(freq, mel_scale: str = "slaney"):
    """Hz -> mel on the slaney (Auditory Toolbox, librosa default) or htk (2595 log10(1 + f/700)) scale."""
    f = np.asarray(freq, dtype=np.float64)
    if mel_scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    if mel_scale != "slaney":
        raise InvalidInput(f"mel_scale must be one of {MEL_SCALES}, got {mel_scale!r}")
    linear = f / _F_SP
    logpart = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, logpart, linear)


def mel_to_hz(mels, mel_scale: str = "slaney"):
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    if mel_scale != "slaney":
        raise InvalidInput(f"mel_scale must be one of {MEL_SCALES}, got {mel_scale!r}")
    linear = _F_SP * m
    logpart = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, logpart, linear)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                   mel_scale: str = "slaney", norm: str | None = "slaney") -> np.ndarray:
    """Triangular mel filters (n_mels, n_fft // 2 + 1), float32, equal to ``librosa.filters.mel``.

    The n_mels + 2 band edges are equally spaced in mel between fmin and fmax (None: Nyquist); filter i rises
    from edge i to edge i+1 and falls to edge i+2, evaluated at the rfft bin frequencies. ``norm="slaney"``
    divides each filter by its width in Hz / 2 so every filter has the same area (constant energy per channel).
    torchaudio's ``melscale_fbanks`` is the same construction (its defaults are htk and no norm).
    """
    if mel_scale not in MEL_SCALES:
        raise InvalidInput(f"mel_scale must be one of {MEL_SCALES}, got {mel_scale!r}")
    if norm not in NORMS:
        raise InvalidInput(f"norm must be one of {NORMS}, got {norm!r}")
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0 <= fmin < fmax <= sample_rate / 2.0:
        raise InvalidInput(f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin={fmin}, fmax={fmax}, "
                           f"sample_rate={sample_rate}")
    bin_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)  # (F,)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin, mel_scale), hz_to_mel(fmax, mel_scale), n_mels + 2),
                      mel_scale)  # (n_mels + 2,)
    widths = np.diff(edges)  # (n_mels + 1,)
    ramps = edges[:, None] - bin_freqs[None, :]  # (n_mels + 2, F)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (n_mels, F)
    if norm == "slaney":
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


# --------------------------------------------------------------------------- STFT


def hann_window(win_length: int, n_fft: int | None = None) -> np.ndarray:
    """Periodic Hann window (torch.hann_window, scipy ``fftbins=True``), zero-padded centred to n_fft."""
    n = np.arange(win_length, dtype=np.float64)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)
    n_fft = win_length if n_fft is None else n_fft
    if n_fft < win_length:
        raise InvalidInput(f"win_length {win_length} exceeds n_fft {n_fft}")
    left = (n_fft - win_length) // 2
    return np.pad(window, (left, n_fft - win_length - left))


def pad_amount(n_fft: int, hop_length: int, padding: str) -> int:
    if padding == "center":
        return n_fft // 2
    if padding == "same":
        return (n_fft - hop_length) // 2
    if padding == "none":
        return 0
    raise InvalidInput(f"padding must be one of {PADDINGS}, got {padding!r}")


def num_frames(n_samples: int, n_fft: int, hop_length: int, padding: str = "center") -> int:
    """Number of STFT frames for a signal of n_samples."""
    padded = n_samples + 2 * pad_amount(n_fft, hop_length, padding)
    return 1 + (padded - n_fft) // hop_length if padded >= n_fft else 0


def stft(wav: np.ndarray, n_fft: int, hop_length: int, win_length: int | None = None,
         padding: str = "center") -> np.ndarray:
    """Complex one-sided STFT (..., n_fft // 2 + 1, frames), computed in float64, Hann window, reflect padding."""
    x = np.asarray(wav, dtype=np.float64)
    if x.ndim == 0:
        raise InvalidInput("wav must have a time axis")
    pad = pad_amount(n_fft, hop_length, padding)
    if pad and x.shape[-1] <= pad:
        raise InvalidInput(f"signal of {x.shape[-1]} samples is too short for reflect padding of {pad}")
    if pad:
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    if x.shape[-1] < n_fft:
        raise InvalidInput(f"signal of {x.shape[-1]} samples (after padding) is shorter than n_fft {n_fft}")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[..., ::hop_length, :]  # (..., T, n_fft)
    spec = np.fft.rfft(frames * hann_window(win_length or n_fft, n_fft), axis=-1)  # (..., T, F)
    return np.swapaxes(spec, -1, -2)  # (..., F, T)


def stft_magnitude(wav: np.ndarray, n_fft: int, hop_length: int, win_length: int | None = None,
                   padding: str = "center", power: float = 1.0, mag_eps: float = 0.0) -> np.ndarray:
    """(re^2 + im^2 + mag_eps) ** (power / 2), shape (..., F, frames), float64."""
    spec = stft(wav, n_fft, hop_length, win_length, padding)
    energy = spec.real ** 2 + spec.imag ** 2 + mag_eps
    return energy if power == 2.0 else energy ** (power / 2.0)


def log_compress(x: np.ndarray, log: str = "ln", floor: float = 1e-5) -> np.ndarray:
    """log(max(x, floor)) in base e or 10; ``"none"`` returns x unchanged."""
    if log == "ln":
        return np.log(np.maximum(x, floor))
    if log == "log10":
        return np.log10(np.maximum(x, floor))
    if log == "none":
        return x
    raise InvalidInput(f"log must be one of {LOGS}, got {log!r}")


# --------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    win_length: int | None = None  # None: n_fft (a shorter Hann window is zero-padded, centred)
    fmin: float = 0.0
    fmax: float | None = None  # None: Nyquist
    mel_scale: str = "slaney"  # librosa's default; torchaudio (Vocos) uses "htk"
    norm: str | None = "slaney"  # librosa's default; torchaudio (Vocos) uses None
    padding: str = "center"  # see the module docstring
    power: float = 1.0  # magnitude (1) or energy (2) before the filterbank
    mag_eps: float = 0.0  # HiFi-GAN / BigVGAN: sqrt(re^2 + im^2 + 1e-9)
    log: str = "ln"
    log_floor: float = 1e-5  # HiFi-GAN dynamic_range_compression clip value

    def __post_init__(self):
        for name in ("sample_rate", "n_fft", "hop_length", "n_mels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise InvalidInput(f"MelConfig.{name} must be a positive integer, got {value!r}")
        if self.win_length is not None and not 0 < self.win_length <= self.n_fft:
            raise InvalidInput(f"MelConfig.win_length must be in (0, n_fft], got {self.win_length!r}")
        if self.mel_scale not in MEL_SCALES:
            raise InvalidInput(f"MelConfig.mel_scale must be one of {MEL_SCALES}, got {self.mel_scale!r}")
        if self.norm not in NORMS:
            raise InvalidInput(f"MelConfig.norm must be one of {NORMS}, got {self.norm!r}")
        if self.padding not in PADDINGS:
            raise InvalidInput(f"MelConfig.padding must be one of {PADDINGS}, got {self.padding!r}")
        if self.log not in LOGS:
            raise InvalidInput(f"MelConfig.log must be one of {LOGS}, got {self.log!r}")
        if self.power <= 0 or self.mag_eps < 0 or self.log_floor <= 0:
            raise InvalidInput("MelConfig needs power > 0, mag_eps >= 0 and log_floor > 0")
        fmax = self.sample_rate / 2 if self.fmax is None else self.fmax
        if not 0 <= self.fmin < fmax <= self.sample_rate / 2:
            raise InvalidInput(f"MelConfig needs 0 <= fmin < fmax <= sample_rate / 2, got {self.fmin}, {self.fmax}")

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def filterbank(self) -> np.ndarray:
        """(n_mels, n_fft // 2 + 1) float32."""
        return mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax, self.mel_scale,
                              self.norm)

    def num_frames(self, n_samples: int) -> int:
        return num_frames(n_samples, self.n_fft, self.hop_length, self.padding)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "MelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"unknown MelConfig fields {unknown}")
        return cls(**data)

    @classmethod
    def preset(cls, name: str) -> "MelConfig":
        try:
            return MEL_PRESETS[name]
        except KeyError:
            raise InvalidInput(f"unknown mel preset {name!r}; known: {sorted(MEL_PRESETS)}") from None


MEL_PRESETS: dict[str, MelConfig] = {
    # Vocos mel-24khz: torchaudio MelSpectrogram(24000, n_fft=1024, hop=256, n_mels=100, center=True, power=1)
    # (htk scale, no norm, fmax Nyquist), then safe_log = log(clip(x, 1e-7)).
    "vocos-24khz": MelConfig(24000, 1024, 256, 100, mel_scale="htk", norm=None, padding="center",
                             log_floor=1e-7),
    # BigVGAN (v1 24khz_100band and v2 24khz_100band_256x): HiFi-GAN meldataset conventions.
    "bigvgan-24khz-100band": MelConfig(24000, 1024, 256, 100, fmax=12000.0, padding="same", mag_eps=1e-9),
    # HiFi-GAN V1 (LJSpeech 22.05 kHz) meldataset.mel_spectrogram.
    "hifigan-22khz-80band": MelConfig(22050, 1024, 256, 80, fmax=8000.0, padding="same", mag_eps=1e-9),
    # AudioLDM 2 (16 kHz): TacotronSTFT (centred conv STFT, plain magnitude), librosa slaney mels,
    # log(clamp(x, 1e-5)); its vocoder is SpeechT5HifiGan with 64 mel inputs and hop 160.
    "audioldm2-16khz-64band": MelConfig(16000, 1024, 160, 64, fmax=8000.0, padding="center"),
    # SpeechT5 (transformers SpeechT5FeatureExtractor): 64 ms / 16 ms frames, 80 mels in [80, 7600] Hz,
    # log10(max(x, 1e-10)); microsoft/speecht5_hifigan consumes these (after its mean / scale).
    "speecht5-16khz-80band": MelConfig(16000, 1024, 256, 80, fmin=80.0, fmax=7600.0, padding="center",
                                       log="log10", log_floor=1e-10),
}


# --------------------------------------------------------------------------- features


def mel_spectrogram(wav: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Linear mel spectrogram (..., n_mels, frames), float32."""
    mag = stft_magnitude(wav, cfg.n_fft, cfg.hop_length, cfg.win_length, cfg.padding, cfg.power, cfg.mag_eps)
    return np.matmul(cfg.filterbank().astype(np.float64), mag).astype(np.float32)


def log_mel_spectrogram(wav: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """The features a vocoder of this config expects: log_compress(mel_spectrogram), (..., n_mels, frames)."""
    mag = stft_magnitude(wav, cfg.n_fft, cfg.hop_length, cfg.win_length, cfg.padding, cfg.power, cfg.mag_eps)
    mel = np.matmul(cfg.filterbank().astype(np.float64), mag)
    return log_compress(mel, cfg.log, cfg.log_floor).astype(np.float32)
