"""CLAP's audio input features in NumPy: transformers' ``ClapFeatureExtractor`` as the unfused CLAP (AudioLDM 2's
``feature_extractor/``) is configured, plus the 16 kHz -> 48 kHz resampling AudioLDM 2 does before it.

Per clip, at 48 kHz, to exactly ``max_length_s`` (10 s = 480,000 samples):

- shorter: ``repeatpad`` tiles the clip floor(max / n) times, then zero-pads to the length (``repeat`` tiles once
  more and cuts; ``pad`` only zero-pads);
- longer: ``rand_trunc`` takes a uniformly random crop of the length, so it needs a ``numpy.random.Generator``
  (transformers draws from numpy's global state); clips up to the length are deterministic.

Then the log-mel in dB: centred STFT (reflect padding, periodic Hann, n_fft 1024, hop 480 -> 1001 frames),
power spectrum, slaney-scale slaney-normalised mel filters between 50 Hz and 14 kHz (``rand_trunc`` selects these;
the ``fusion`` truncation would use htk filters and four channels for the fused model), ``10 log10(max(mel, 1e-10))``
with no top-dB clipping. Output (B, 1, frames, n_mels) float32, ``input_features`` of ``ClapModel``.

The published settings (cvssp/audioldm2 ``feature_extractor/preprocessor_config.json``, the same as
laion/clap-htsat-unfused's) are the defaults of :class:`ClapFeatureConfig`; note fmin 50 Hz, not transformers' 0.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..audio import resample
from ..errors import InvalidInput
from .mel import MelConfig, log_compress, stft_magnitude

PADDINGS = ("repeatpad", "repeat", "pad")
TRUNCATIONS = ("rand_trunc",)
MEL_FLOOR = 1e-10  # power floor before the dB conversion (transformers' mel_floor and power_to_db min_value)


@dataclass(frozen=True)
class ClapFeatureConfig:
    sample_rate: int = 48000
    n_fft: int = 1024
    hop_length: int = 480
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float = 14000.0
    max_length_s: int = 10
    padding: str = "repeatpad"
    truncation: str = "rand_trunc"

    def __post_init__(self):
        if self.padding not in PADDINGS:
            raise InvalidInput(f"padding must be one of {PADDINGS}, got {self.padding!r}")
        if self.truncation not in TRUNCATIONS:
            raise InvalidInput(f"truncation must be one of {TRUNCATIONS} (\"fusion\" feeds the fused CLAP, which is "
                               f"not supported), got {self.truncation!r}")
        if self.max_samples < self.n_fft:
            raise InvalidInput(f"max_length_s {self.max_length_s} is shorter than one {self.n_fft}-sample frame")
        self.mel  # validates the STFT / filterbank fields

    @property
    def max_samples(self) -> int:
        return int(self.max_length_s * self.sample_rate)

    @property
    def num_frames(self) -> int:
        return self.mel.num_frames(self.max_samples)

    @property
    def mel(self) -> MelConfig:
        return MelConfig(self.sample_rate, self.n_fft, self.hop_length, self.n_mels, fmin=self.fmin, fmax=self.fmax,
                         mel_scale="slaney", norm="slaney", padding="center", power=2.0, log="log10",
                         log_floor=MEL_FLOOR)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_transformers(cls, config: Mapping[str, Any]) -> "ClapFeatureConfig":
        """From a ``ClapFeatureExtractor`` preprocessor_config.json; missing keys take transformers' defaults."""
        if config.get("top_db") is not None:
            raise InvalidInput("top_db clipping is not supported (the published CLAP configs set it to null)")
        return cls(sample_rate=int(config.get("sampling_rate", 48000)),
                   n_fft=int(config.get("fft_window_size", 1024)), hop_length=int(config.get("hop_length", 480)),
                   n_mels=int(config.get("feature_size", 64)), fmin=float(config.get("frequency_min", 0.0)),
                   fmax=float(config.get("frequency_max", 14000.0)), max_length_s=config.get("max_length_s", 10),
                   padding=config.get("padding", "repeatpad"), truncation=config.get("truncation", "fusion"))


def _clips(audio: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """One (N,) clip, a (B, N) batch or a list of (N_i,) clips -> a list of non-empty float64 clips."""
    if isinstance(audio, np.ndarray) and audio.ndim == 2:
        audio = list(audio)
    elif isinstance(audio, np.ndarray) or not isinstance(audio, (list, tuple)):
        audio = [audio]
    if not audio:
        raise InvalidInput("no audio clips given")
    clips = []
    for i, clip in enumerate(audio):
        x = np.asarray(clip, dtype=np.float64)
        if x.ndim != 1:
            raise InvalidInput(f"audio must be one mono clip (N,), a batch (B, N) or a list of (N,) clips; "
                               f"clip {i} has shape {x.shape}")
        if x.size == 0:
            raise InvalidInput(f"clip {i} is empty")
        clips.append(x)
    return clips


def fit_length(clip: np.ndarray, cfg: ClapFeatureConfig, rng: np.random.Generator | None = None) -> np.ndarray:
    """Repeat / pad a short clip or randomly crop a long one to exactly ``cfg.max_samples``."""
    n, target = clip.shape[0], cfg.max_samples
    if n > target:
        if rng is None:
            raise InvalidInput(f"a clip of {n} samples is longer than CLAP's {target} ({cfg.max_length_s} s): its "
                               "random crop needs rng=np.random.default_rng(seed), or crop it yourself")
        start = int(rng.integers(0, n - target + 1))
        return clip[start:start + target]
    if cfg.padding == "repeatpad":
        clip = np.tile(clip, target // n)
    elif cfg.padding == "repeat":
        clip = np.tile(clip, target // n + 1)[:target]
    return np.pad(clip, (0, target - clip.shape[0]))


def log_mel_db(clip: np.ndarray, cfg: ClapFeatureConfig) -> np.ndarray:
    """(N,) samples -> (frames, n_mels) float32 power mel in dB."""
    mel_cfg = cfg.mel
    power = stft_magnitude(clip, mel_cfg.n_fft, mel_cfg.hop_length, padding="center", power=2.0)  # (F, T) float64
    mel = np.matmul(mel_cfg.filterbank().astype(np.float64), power)
    return (10.0 * log_compress(mel, "log10", MEL_FLOOR)).T.astype(np.float32)


Settings = ClapFeatureConfig | Mapping[str, Any] | None  # ours, a preprocessor_config.json dict, or the default


def _settings(cfg: Settings) -> ClapFeatureConfig:
    if cfg is None:
        return ClapFeatureConfig()
    return cfg if isinstance(cfg, ClapFeatureConfig) else ClapFeatureConfig.from_transformers(cfg)


def feature_shape(cfg: Settings = None) -> tuple[int, int, int]:
    """One clip's ``input_features`` shape: (1, frames, n_mels)."""
    cfg = _settings(cfg)
    return 1, cfg.num_frames, cfg.n_mels


def clap_features(audio: np.ndarray | Sequence[np.ndarray], cfg: Settings = None,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Clips at ``cfg.sample_rate`` -> ``input_features`` (B, 1, frames, n_mels) float32. ``rng`` is needed only
    when a clip is longer than ``cfg.max_length_s`` (AudioLDM 2's default 10.24 s generations are)."""
    cfg = _settings(cfg)
    return np.stack([log_mel_db(fit_length(clip, cfg, rng), cfg)[None] for clip in _clips(audio)])


def clap_features_for_scoring(audio: np.ndarray | Sequence[np.ndarray], sample_rate: int, cfg: Settings = None,
                              rng: np.random.Generator | None = None) -> np.ndarray:
    """AudioLDM 2's ``score_waveforms`` input: each clip resampled to ``cfg.sample_rate`` with soxr HQ in float32
    (what ``librosa.resample`` does by default, bit for bit; soxr VHQ would differ by up to ~1e-2), then
    :func:`clap_features`."""
    cfg = _settings(cfg)
    clips = []
    for clip in _clips(audio):
        y = resample(clip.astype(np.float32), sample_rate, cfg.sample_rate, quality="HQ")
        n = int(np.ceil(clip.shape[0] * cfg.sample_rate / sample_rate))  # librosa's fix_length (a no-op at 16 -> 48k)
        clips.append(np.pad(y[:n], (0, max(0, n - y.shape[0]))))
    return clap_features(clips, cfg, rng)
