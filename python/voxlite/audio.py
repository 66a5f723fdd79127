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


def resample(samples: np.ndarray, rate_in: int, rate_out: int, quality: str = "VHQ") -> np.ndarray:
    """High-quality resampling (soxr, VHQ unless told) of (N,) or (N, C) float audio. ``quality="HQ"`` is
    librosa.resample's default (``res_type="soxr_hq"``), bit for bit, for features that must match a pipeline
    which resamples with librosa."""
    for r in (rate_in, rate_out):
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r <= 0:
            raise InvalidInput(f"sample rates must be positive integers, got {rate_in!r} -> {rate_out!r}")
    if rate_in == rate_out:
        return np.asarray(samples, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(samples, dtype=np.float32), rate_in, rate_out, quality=quality).astype(np.float32)


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


# -- user control: speed (frame time-stretch), pauses, volume ------------------------------------------------------
SPEED_RANGE = (0.5, 2.0)
MAX_PAUSE_SECONDS = 10.0
MAX_VOLUME = 4.0  # linear gain (+12 dB)


def check_speed(speed, what: str = "speed") -> float:
    """A speaking-rate factor in SPEED_RANGE (1: as generated; 2: twice as fast)."""
    if isinstance(speed, bool) or not isinstance(speed, (int, float, np.integer, np.floating)):
        raise InvalidInput(f"{what} must be a number from {SPEED_RANGE[0]} to {SPEED_RANGE[1]}, got {speed!r}")
    x = float(speed)
    if not (SPEED_RANGE[0] <= x <= SPEED_RANGE[1]):
        raise InvalidInput(f"{what} must be from {SPEED_RANGE[0]} to {SPEED_RANGE[1]} (1: normal), got {speed!r}")
    return x


def check_pause(pause, what: str = "pause") -> float:
    """Seconds of silence, 0 to MAX_PAUSE_SECONDS (None: 0)."""
    if pause is None:
        return 0.0
    if isinstance(pause, bool) or not isinstance(pause, (int, float, np.integer, np.floating)) \
            or not (0.0 <= float(pause) <= MAX_PAUSE_SECONDS):
        raise InvalidInput(f"{what} must be seconds of silence from 0 to {MAX_PAUSE_SECONDS:g}, got {pause!r}")
    return float(pause)


def volume_gain(volume, what: str = "volume") -> float:
    """``volume`` -> a linear gain in [0, MAX_VOLUME]: a number is the gain itself (1: unchanged, 0.5: half the
    amplitude); a string is a number or decibels ("-6dB", "+3 dB", "0.5")."""
    if volume is None:
        return 1.0
    bad = InvalidInput(f"{what} must be a linear gain from 0 to {MAX_VOLUME:g} or decibels such as '-6dB' (at most "
                       f"+{20 * np.log10(MAX_VOLUME):.1f} dB), got {volume!r}")
    if isinstance(volume, str):
        s = volume.strip().lower().replace(" ", "")
        try:
            gain = 10.0 ** (float(s[:-2]) / 20.0) if s.endswith("db") else float(s)
        except ValueError:
            raise bad from None
    elif isinstance(volume, bool) or not isinstance(volume, (int, float, np.integer, np.floating)):
        raise bad
    else:
        gain = float(volume)
    if not (0.0 <= gain <= MAX_VOLUME * (1 + 1e-9)):  # "+12.04dB" rounds a hair over 4
        raise bad
    return min(gain, MAX_VOLUME)


def apply_gain(samples: np.ndarray, gain: float) -> np.ndarray:
    """``samples * gain`` clipped to [-1, 1] (float32); gain 1 returns ``samples`` untouched."""
    if gain == 1.0:
        return samples
    return np.clip(np.asarray(samples, np.float32) * np.float32(gain), -1.0, 1.0).astype(np.float32)


def silence(seconds: float, sample_rate: int) -> np.ndarray:
    return np.zeros(int(round(seconds * sample_rate)), np.float32)


class FrameStretcher:
    """Time-stretch a sequence of feature frames (T, D) by linear interpolation along time, as they stream in.

    Output frame j reads the input at position ``(j + 0.5) * speed - 0.5`` (clamped to the frames there are), and
    there are ``round(T / speed)`` output frames (at least one): speed 2 halves the duration, 0.5 doubles it.
    For a vocoder over (log-)mel frames this changes the tempo and keeps the pitch (each frame's spectrum is kept).
    Pushing all frames at once then flushing gives exactly the frames of any other chunking."""

    def __init__(self, speed: float):
        self.speed = float(speed)
        self._frames: list[np.ndarray] = []
        self._total = 0
        self._next = 0  # the next output frame
        self._base = 0  # index of self._frames[0]'s first frame in the input

    def _emit(self, upto: int, final: bool) -> np.ndarray:
        """Output frames [self._next, upto)."""
        if upto <= self._next:
            return np.zeros((0, self._frames[0].shape[1] if self._frames else 0), np.float32)
        frames = np.concatenate(self._frames) if len(self._frames) > 1 else self._frames[0]
        self._frames = [frames]
        j = np.arange(self._next, upto, dtype=np.float64)
        pos = np.clip((j + 0.5) * self.speed - 0.5, 0.0, self._total - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, self._total - 1)
        w = (pos - lo).astype(np.float32)[:, None]
        out = frames[lo - self._base] * (1 - w) + frames[hi - self._base] * w
        self._next = upto
        if not final:  # drop the frames no later output frame reads
            keep_from = int(np.floor(max((upto + 0.5) * self.speed - 0.5, 0.0)))
            if keep_from > self._base:
                self._frames = [frames[keep_from - self._base:]]
                self._base = keep_from
        return np.ascontiguousarray(out, dtype=np.float32)

    def push(self, frames: np.ndarray) -> np.ndarray:
        """Frames (T, D) in -> the stretched frames (T', D) that are ready (T' may be 0)."""
        frames = np.asarray(frames, np.float32)
        self._frames.append(frames)
        self._total += frames.shape[0]
        # frame j is ready when the input frame after its position exists: (j + 0.5) * speed - 0.5 + 1 < total
        upto = int(np.ceil((self._total - 0.5) / self.speed - 0.5))
        while upto > self._next and (upto - 0.5) * self.speed - 0.5 + 1 >= self._total:
            upto -= 1
        return self._emit(upto, final=False)

    def flush(self) -> np.ndarray:
        """The remaining frames, ``round(T / speed)`` in all."""
        n = max(1, int(np.floor(self._total / self.speed + 0.5))) if self._total else 0
        if not self._total:
            return np.zeros((0, 0), np.float32)
        return self._emit(n, final=True)


def stretch_frames(frames: np.ndarray, speed: float) -> np.ndarray:
    """Frames (T, D) -> ``round(T / speed)`` frames (``FrameStretcher`` at once)."""
    s = FrameStretcher(speed)
    return np.concatenate([s.push(frames), s.flush()])
