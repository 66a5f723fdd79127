"""Audio in and out: reading (any rate, resampled with soxr), atomic writing, streamed WAV / raw PCM to a pipe,
and the Audio result type."""
from __future__ import annotations

import os
import struct
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


class StreamResampler:
    """:func:`resample` for audio that arrives in chunks: soxr's stateful stream (same VHQ quality), so chunk
    boundaries leave no clicks. Call it on each chunk, then :meth:`flush` for the tail it still holds."""

    def __init__(self, rate_in: int, rate_out: int):
        for r in (rate_in, rate_out):
            if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r <= 0:
                raise InvalidInput(f"sample rates must be positive integers, got {rate_in!r} -> {rate_out!r}")
        self.rate_in, self.rate_out = int(rate_in), int(rate_out)
        self._stream = None
        if rate_in != rate_out:
            import soxr

            self._stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality="VHQ")

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        chunk = np.ascontiguousarray(chunk, dtype=np.float32)
        return chunk if self._stream is None else self._stream.resample_chunk(chunk)

    def flush(self) -> np.ndarray:
        if self._stream is None:
            return np.zeros(0, np.float32)
        return self._stream.resample_chunk(np.zeros(0, np.float32), last=True)


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


def check_output_path(path: str | os.PathLike, *, create_parents: bool = True) -> Path:
    """Refuse, before any work, an output path that cannot be written: AudioError naming it when it is a
    directory, when a parent is a file, when the directory it goes in is not writable, or (``create_parents``
    False) when that directory does not exist."""
    path = Path(path)
    if path.is_dir():
        raise AudioError(f"cannot write {path}: it is a directory")
    parent = path.parent
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise AudioError(f"cannot write {path}: {existing} is not a directory")
    if existing != parent and not create_parents:
        raise AudioError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise AudioError(f"cannot write {path}: directory {existing} is not writable")
    return path


def check_write_format(path: str | os.PathLike) -> None:
    """InvalidInput unless ``path``'s extension names a format :func:`write_audio` writes."""
    _write_format(Path(path))


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
        if chunk.size:
            self._emit(np.clip(chunk, -1.0, 1.0))
            self.samples_written += len(chunk)

    def _emit(self, samples: np.ndarray) -> None:
        self._handle.write(samples)

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
    check_output_path(path)
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
    check_output_path(path)
    with atomic_output(path, suffix=path.suffix) as tmp:
        sf.write(tmp, np.clip(samples, -1.0, 1.0), sample_rate, format=fmt[0], subtype=fmt[1])
    return path


# -- to a pipe: streamed WAV or raw PCM ----------------------------------------------------------------------------
UNKNOWN_SIZE = 0xFFFFFFFF  # RIFF / data sizes of a WAV streamed before its length is known (as ffmpeg and sox)


def wav_header(sample_rate: int, data_bytes: int = UNKNOWN_SIZE) -> bytes:
    """The 44-byte header of a mono 16-bit PCM WAV; ``data_bytes`` UNKNOWN_SIZE (the default) marks both the RIFF
    and the data chunk sizes unknown: readers (libsndfile, sox, ffmpeg, Python's ``wave``) read to the end."""
    riff = UNKNOWN_SIZE if data_bytes >= UNKNOWN_SIZE - 36 else 36 + data_bytes
    data = UNKNOWN_SIZE if data_bytes >= UNKNOWN_SIZE - 36 else data_bytes
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
            + b"data" + struct.pack("<I", data))


def pcm16(samples: np.ndarray) -> bytes:
    """Float samples -> 16-bit little-endian PCM bytes, converted as libsndfile converts them for WAV files
    (scale by 32768, floor, clip), so a piped WAV holds the very samples a written .wav does."""
    x = np.floor(np.asarray(samples, dtype=np.float32) * np.float32(32768.0))
    return np.clip(x, -32768, 32767).astype("<i2").tobytes()


class PCMStreamWriter(AudioStreamWriter):
    """Mono audio chunks to a binary file object (stdout) as 16-bit PCM, optionally after a streamed WAV header
    (sizes unknown: 0xFFFFFFFF). :meth:`close` fixes the sizes in place when the file can seek (stdout redirected
    to a regular file, not opened for appending) and flushes; a pipe keeps the unknown sizes."""

    def __init__(self, handle, sample_rate: int, *, wav: bool = True):
        super().__init__(handle, sample_rate)
        self.wav = wav
        self._start = None
        if wav:
            self._start = self._position()
            handle.write(wav_header(sample_rate))

    def _position(self) -> int | None:
        try:
            if not self._handle.seekable():
                return None
            fd = self._handle.fileno()
            import fcntl

            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND:
                return None
        except (AttributeError, OSError, ValueError, ImportError):
            pass
        try:
            return self._handle.tell() if self._handle.seekable() else None
        except (AttributeError, OSError, ValueError):
            return None

    def _emit(self, samples: np.ndarray) -> None:
        self._handle.write(pcm16(samples))
        self._handle.flush()

    def close(self) -> None:
        if self.wav and self._start is not None:
            try:
                end = self._handle.tell()
                self._handle.seek(self._start)
                self._handle.write(wav_header(self.sample_rate, self.samples_written * 2))
                self._handle.seek(end)
            except (OSError, ValueError):
                pass
        self._handle.flush()
