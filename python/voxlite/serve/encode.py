"""Response audio formats, each encoded chunk by chunk so a response streams as the audio is generated.

OpenAI's formats: ``pcm`` (raw 16-bit little-endian mono), ``wav`` (16-bit, its header's sizes marked unknown, as
ffmpeg streams it) and ``opus`` (Ogg Opus, through libsndfile) stream as the audio is produced. ``flac`` and ``mp3``
are encoded as the chunks arrive but sent when complete: libsndfile writes their length into the header when the
file is closed (FLAC's STREAMINFO, LAME's Info frame), so bytes sent earlier would carry a wrong length (a decoder
trusting it stops early). ``aac`` is refused: no libsndfile build encodes it.
"""
from __future__ import annotations

import io

import numpy as np

from ..audio import pcm16, wav_header
from ..errors import InvalidInput

FORMATS = {"pcm": "audio/pcm", "wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "opus": "audio/ogg"}
_SOUNDFILE = {"flac": ("FLAC", "PCM_16"), "mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OGG", "OPUS")}
_WHOLE = {"flac", "mp3"}  # headers rewritten at close: sent complete
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def check_format(name: str, sample_rate: int) -> None:
    if name not in FORMATS:
        extra = " (no AAC encoder is available here)" if name == "aac" else ""
        raise InvalidInput(f"response_format {name!r} is not supported{extra}; choose from {', '.join(FORMATS)}")
    if name == "opus" and sample_rate not in OPUS_RATES:
        raise InvalidInput(f"opus needs a sample rate in {OPUS_RATES}, the server's is {sample_rate}")


class StreamEncoder:
    """``encoder.add(samples) -> bytes`` for each chunk, then ``encoder.finish() -> bytes``."""

    def __init__(self, fmt: str, sample_rate: int):
        check_format(fmt, sample_rate)
        self.format, self.sample_rate = fmt, sample_rate
        self._started = False
        self._file = None
        if fmt in _SOUNDFILE:
            import soundfile as sf

            container, subtype = _SOUNDFILE[fmt]
            self._buffer = io.BytesIO()
            self._file = sf.SoundFile(self._buffer, "w", samplerate=sample_rate, channels=1, format=container,
                                      subtype=subtype)
            self._sent = 0

    def _grown(self) -> bytes:
        data = self._buffer.getbuffer()[self._sent:].tobytes()
        self._sent += len(data)
        return data

    def add(self, samples: np.ndarray) -> bytes:
        samples = np.clip(np.asarray(samples, np.float32), -1.0, 1.0)
        if self._file is not None:
            self._file.write(samples)
            return b"" if self.format in _WHOLE else self._grown()
        head = b""
        if self.format == "wav" and not self._started:
            head = wav_header(self.sample_rate)
        self._started = True
        return head + pcm16(samples)

    def finish(self) -> bytes:
        if self._file is not None:
            self._file.close()
            return self._grown()
        if self.format == "wav" and not self._started:
            self._started = True
            return wav_header(self.sample_rate)
        return b""
