"""Audio in and out: reading (any rate, resampled with soxr), atomic writing, and the Audio result type."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ._atomic import atomic_output
from .errors import AudioError, InvalidInput

_WRITE_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}


@dataclass
class Audio:
    """Mono float32 samples in [-1, 1] at ``sample_rate``."""

    samples: np.ndarray  # (N,) float32
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def save(self, path: str | os.PathLike) -> Path:
        return write_audio(path, self.samples, self.sample_rate)


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """High-quality resampling (soxr VHQ) of (N,) or (N, C) float audio."""
    for r in (rate_in, rate_out):
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r <= 0:
            raise InvalidInput(f"sample rates must be positive integers, got {rate_in!r} -> {rate_out!r}")
    if rate_in == rate_out:
        return np.asarray(samples, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(samples, dtype=np.float32), rate_in, rate_out, quality="VHQ").astype(np.float32)


def input_samples(audio, sample_rate: int | None, *, what: str = "audio", max_seconds: float | None = None,
                  path_errors_as_input: bool = False) -> tuple[np.ndarray, int]:
    """The checks every audio input gets: an ``Audio``, a raw (N,) array with its ``sample_rate``, or a path ->
    (finite non-empty mono float32 samples, their rate). InvalidInput (AudioError for unreadable files) names
    ``what`` and the problem; ``max_seconds`` refuses longer input before it is processed."""
    if isinstance(audio, (str, os.PathLike)):
        try:
            audio = read_audio(audio, max_seconds=max_seconds)
        except AudioError as e:
            if max_seconds is not None and "the limit is" in str(e):  # too long: an input limit, not a bad file
                raise InvalidInput(f"{what} is too long: {e}") from None
            raise
    if isinstance(audio, Audio):
        samples, rate = np.asarray(audio.samples), audio.sample_rate
    else:
        if sample_rate is None:
            raise InvalidInput(f"{what}: pass sample_rate with a raw sample array")
        samples, rate = np.asarray(audio), sample_rate
    if samples.ndim != 1:
        raise InvalidInput(f"{what} must be mono samples (N,), got shape {samples.shape}")
    if samples.size == 0:
        raise InvalidInput(f"{what} is empty")
    if not np.issubdtype(samples.dtype, np.number) or np.iscomplexobj(samples):
        raise InvalidInput(f"{what} must hold real numbers, got {samples.dtype}")
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise InvalidInput(f"{what}: sample_rate must be a positive integer, got {rate!r}")
    if max_seconds is not None and samples.size > max_seconds * rate:
        raise InvalidInput(f"{what} is too long: {samples.size / rate:.1f} s; the limit is {max_seconds:g} s")
    if not np.isfinite(samples).all():
        raise InvalidInput(f"{what} contains NaN or infinite samples")
    return samples.astype(np.float32, copy=False), int(rate)


def read_audio(path: str | os.PathLike, *, sample_rate: int | None = None, max_channels: int = 2,
               max_seconds: float | None = None) -> Audio:
    """Read a sound file as mono float32, resampled to ``sample_rate`` when given.

    Raises AudioError for a missing/unreadable file, no samples, more than ``max_channels`` channels,
    non-finite samples, or a duration over ``max_seconds``. Multi-channel audio is averaged to mono.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"no audio file at {path}")
    try:
        info = sf.info(str(path))
        if max_seconds is not None and info.frames > max_seconds * info.samplerate:
            raise AudioError(f"{path.name} lasts {info.frames / info.samplerate:.1f} s; the limit is {max_seconds} s")
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as e:  # soundfile raises LibsndfileError/RuntimeError for unreadable files
        raise AudioError(f"cannot read {path.name} as audio: {e}") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path.name} contains no samples")
    if data.shape[1] > max_channels:
        raise AudioError(f"{path.name} has {data.shape[1]} channels; at most {max_channels} are accepted")
    if not np.isfinite(data).all():
        raise AudioError(f"{path.name} contains NaN or infinite samples")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if sample_rate is not None and rate != sample_rate:
        mono = resample(mono, rate, sample_rate)
        rate = sample_rate
    return Audio(np.ascontiguousarray(mono, dtype=np.float32), int(rate))


def _write_format(path: Path) -> tuple[str, str]:
    fmt = _WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(f"cannot write {path.suffix or 'extension-less'} files; use {', '.join(_WRITE_FORMATS)}")
    return fmt


class AudioStreamWriter:
    """Chunks of mono float audio written as they come (clipped to [-1, 1]); see :func:`open_audio_stream`."""

    def __init__(self, handle, sample_rate: int):
        self._handle = handle
        self.sample_rate = sample_rate
        self.samples_written = 0

    def write(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk, dtype=np.float32)
        if chunk.ndim != 1:
            raise InvalidInput(f"expected mono chunks (N,), got shape {chunk.shape}")
        if not np.isfinite(chunk).all():
            raise InvalidInput("refusing to write audio with NaN or infinite samples")
        self._handle.write(np.clip(chunk, -1.0, 1.0))
        self.samples_written += len(chunk)

    @property
    def duration(self) -> float:
        return self.samples_written / self.sample_rate


@contextmanager
def open_audio_stream(path: str | os.PathLike, sample_rate: int) -> Iterator[AudioStreamWriter]:
    """Write audio chunk by chunk into a temporary file renamed to ``path`` when the block ends without error
    (an error or interruption leaves nothing at ``path``). The format follows the extension, as for
    :func:`write_audio`."""
    import soundfile as sf

    path = Path(path)
    fmt, subtype = _write_format(path)
    with atomic_output(path, suffix=path.suffix) as tmp:
        with sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=1, format=fmt, subtype=subtype) as f:
            yield AudioStreamWriter(f, sample_rate)


def write_audio(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> Path:
    """Write mono audio atomically (a temp file renamed into place): a failure leaves no partial file."""
    import soundfile as sf

    path = Path(path)
    fmt = _write_format(path)
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1 or samples.size == 0:
        raise InvalidInput(f"expected non-empty mono samples (N,), got shape {samples.shape}")
    if not np.isfinite(samples).all():
        raise InvalidInput("refusing to write audio with NaN or infinite samples")
    with atomic_output(path, suffix=path.suffix) as tmp:
        sf.write(tmp, np.clip(samples, -1.0, 1.0), sample_rate, format=fmt[0], subtype=fmt[1])
    return path
