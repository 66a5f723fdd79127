"""Unit vocoder components (kind ``unit-vocoder``): Make-A-Voice's S3 vocoder, torch-free.

    codes (k, T) int64 [+ F0 bins (T,) int64, singing] -> graph ``decode`` -> samples (T * hop,) float32

Component contract (written by ``export/unit_vocoder.py``; hparams ``voxlite.hparams.unit_vocoder.UnitVocoderHParams``):
graph ``decode``: ``codes`` (1, k, T) int64 [+ ``f0`` (1, T) int64 when ``f0_bins`` > 0] -> ``audio`` (1, 1, T * hop).
The F0 bins are ``voxlite.dsp.f0``'s quantised log scale over the component's ``f0_min`` .. ``f0_max``
(``f0_bins_for_midi`` turns a score's notes into them).

The graph gathers embedding rows by code: ONNX reads a negative index from the table's end and a runtime may fail
or read garbage past it, so every code and F0 bin is checked here first. The decoder is non-causal; with a
``window`` in its hparams it streams in overlapping windows (``stream_decoder``), each sample equal to the offline
decode's to float rounding.
"""
from __future__ import annotations

from typing import Iterable, Iterator, Mapping

import numpy as np

from ..dsp.f0 import f0_bins_from_midi
from ..errors import BundleError, InvalidInput
from ..hparams.unit_vocoder import UnitVocoderHParams
from .streaming import WindowedStreamDecoder

KIND = "unit-vocoder"
GRAPH = "decode"
MAX_SECONDS = 3600.0
STREAM_CHUNK_FRAMES = 32  # a windowed stream's largest chunk (0.64 s at 50 Hz)


def _int_array(x, what: str, ndim: int) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise InvalidInput(f"{what} must be integers, got dtype {a.dtype}")
    if a.ndim != ndim:
        raise InvalidInput(f"{what} must have {ndim} dimension(s), got shape {a.shape}")
    return a


class UnitVocoderRunner:
    """One unit-vocoder component of a bundle, run through the owning model's sessions (``sessions.get(
    "<component>/decode")``). ``hparams``: the component's ``UnitVocoderHParams`` (or its manifest JSON)."""

    def __init__(self, sessions, component: str, hparams: UnitVocoderHParams | Mapping):
        if not isinstance(hparams, UnitVocoderHParams):
            hparams = UnitVocoderHParams.from_json(hparams, f"components.{component}.hparams")
        self.sessions, self.component, self.hparams = sessions, component, hparams
        self.sample_rate, self.hop_length = hparams.sample_rate, hparams.hop_length
        self.n_codebooks, self.codebook_size, self.f0_bins = hparams.n_codebooks, hparams.codebook_size, hparams.f0_bins
        self.max_frames = int(MAX_SECONDS * hparams.frame_rate)

    @classmethod
    def from_bundle(cls, sessions, component: str) -> "UnitVocoderRunner":
        """The runner of ``sessions.bundle``'s component ``component`` (checked to be a unit vocoder)."""
        bundle = sessions.bundle
        spec = bundle.component(component)
        if spec.kind != KIND:
            raise BundleError(f"component {component!r} of bundle {bundle.name!r} is a {spec.kind!r}, not a {KIND}")
        if GRAPH not in spec.graphs:
            raise BundleError(f"bundle {bundle.name!r}: unit vocoder {component!r} has no graph {GRAPH!r}")
        return cls(sessions, component, UnitVocoderHParams.from_json(
            spec.hparams, f"bundle {bundle.name!r}: components.{component}.hparams"))

    @property
    def takes_f0(self) -> bool:
        return self.f0_bins > 0

    def f0_bins_for_midi(self, midi_per_frame, *, rest: float | None = 0) -> np.ndarray:
        """A score's note per frame (MIDI; ``rest`` / None / NaN: a rest) -> this component's F0 bins (T,)."""
        if not self.takes_f0:
            raise InvalidInput(f"unit vocoder {self.component!r} takes no F0 (f0_bins = 0)")
        hp = self.hparams
        return f0_bins_from_midi(midi_per_frame, rest=rest, bins=hp.f0_bins, f_min=hp.f0_min, f_max=hp.f0_max)

    # -- checks -----------------------------------------------------------------------------------------
    def check_inputs(self, codes, f0=None) -> tuple[np.ndarray, np.ndarray | None]:
        """(k, T) codes and (T,) F0 bins as the graph takes them (int64), or InvalidInput naming the problem."""
        c = _int_array(codes, "codes", 2)
        k, t = c.shape
        if k != self.n_codebooks:
            raise InvalidInput(f"codes must be ({self.n_codebooks}, T): this vocoder reads {self.n_codebooks} "
                               f"codebooks, got {k}")
        if t == 0:
            raise InvalidInput("codes are empty (T = 0): nothing to decode")
        if t > self.max_frames:
            raise InvalidInput(f"codes have {t} frames, more than {self.max_frames} ({MAX_SECONDS:.0f} s)")
        lo, hi = int(c.min()), int(c.max())
        if lo < 0 or hi >= self.codebook_size:
            bad = np.argwhere((c < 0) | (c >= self.codebook_size))[0]
            raise InvalidInput(f"codes must be in 0..{self.codebook_size - 1}; codebook {bad[0]}, frame {bad[1]} "
                               f"holds {int(c[tuple(bad)])}")
        return np.ascontiguousarray(c, dtype=np.int64), self.check_f0(f0, t)

    def check_f0(self, f0, frames: int | None = None) -> np.ndarray | None:
        """F0 bins (T,) as the graph takes them (int64; ``frames``: the length they must have), None for a
        vocoder without F0 input, or InvalidInput (F0 missing / given when not taken / out of range)."""
        if not self.takes_f0:
            if f0 is not None:
                raise InvalidInput(f"unit vocoder {self.component!r} takes no F0 (f0_bins = 0): pass f0=None")
            return None
        if f0 is None:
            raise InvalidInput(f"unit vocoder {self.component!r} needs an F0 track (T,) of bins 0..{self.f0_bins - 1} "
                               "(f0_bins_for_midi makes one from a score)")
        f = _int_array(f0, "f0", 1)
        if frames is not None and f.shape[0] != frames:
            raise InvalidInput(f"f0 has {f.shape[0]} frames, the codes {frames}")
        if f.size and (int(f.min()) < 0 or int(f.max()) >= self.f0_bins):
            raise InvalidInput(f"f0 bins must be in 0..{self.f0_bins - 1}, got {int(f.min())}..{int(f.max())}")
        return np.ascontiguousarray(f, dtype=np.int64)

    # -- offline ------------------------------------------------------------------------------------------
    def _run(self, codes: np.ndarray, f0: np.ndarray | None) -> np.ndarray:
        feeds = {"codes": codes[None]}
        if f0 is not None:
            feeds["f0"] = f0[None]
        audio = self.sessions.get(f"{self.component}/{GRAPH}").run(feeds)["audio"]
        n = codes.shape[1] * self.hop_length
        if audio.shape[-1] != n:
            raise BundleError(f"unit vocoder {self.component!r} gave {audio.shape[-1]} samples for "
                              f"{codes.shape[1]} frames (expected {n})")
        return np.ascontiguousarray(audio.reshape(-1), dtype=np.float32)

    def decode(self, codes: np.ndarray, f0: np.ndarray | None = None) -> np.ndarray:
        """codes (k, T) int, f0 (T,) int bins (singing components only) -> samples (T * hop,) float32."""
        return self._run(*self.check_inputs(codes, f0))

    # -- streaming ----------------------------------------------------------------------------------------
    @property
    def streams(self) -> bool:
        return self.hparams.window is not None

    def stream_decoder(self, f0: np.ndarray | None = None, *,
                       max_chunk: int = STREAM_CHUNK_FRAMES) -> "UnitVocoderStream":
        """A stream: ``push(codes (k, T) [, f0 (T,)])`` -> audio chunks as they become final, ``flush()`` the
        rest. Concatenated, they are ``decode`` of all the frames to float rounding (the window covers the
        decoder's receptive field). ``f0``: the whole stream's F0 bins up front (singing: known from the score
        before the codes), then ``push(codes)`` takes each chunk's F0 from it; else each push brings its own."""
        if self.hparams.window is None:
            raise InvalidInput(f"unit vocoder {self.component!r} has no streaming window (exported without one)")
        return UnitVocoderStream(self, f0, max_chunk)

    def stream(self, chunks: Iterable, f0: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Audio pieces of a stream of chunks: each ``codes`` (k, T) or, for singing, ``(codes, f0)`` (or
        ``codes`` with the whole track as ``f0``)."""
        s = self.stream_decoder(f0)
        for chunk in chunks:
            codes, f = chunk if isinstance(chunk, tuple) else (chunk, None)
            yield from s.push(codes, f)
        yield from s.flush()


class UnitVocoderStream:
    """``WindowedStreamDecoder`` over the codes: it buffers frames as float32 rows (k codes [+ the F0 bin] per
    frame, exact below 2^24) and hands each window back here, where the rows become int64 graph inputs again."""

    def __init__(self, runner: UnitVocoderRunner, f0: np.ndarray | None = None,
                 max_chunk: int = STREAM_CHUNK_FRAMES):
        w = runner.hparams.window
        self.runner = runner
        self._track = None if f0 is None else runner.check_f0(f0)
        self._frames = 0
        self._windows = WindowedStreamDecoder(self._decode, runner.hop_length, w.left, w.right, max_chunk=max_chunk)

    def _decode(self, rows: np.ndarray) -> np.ndarray:  # (1, k [+ 1], T) float32
        x = rows[0].astype(np.int64)
        k = self.runner.n_codebooks
        return self.runner._run(np.ascontiguousarray(x[:k]), np.ascontiguousarray(x[k]) if x.shape[0] > k else None)

    def push(self, codes: np.ndarray, f0: np.ndarray | None = None) -> list[np.ndarray]:
        """A chunk of codes (k, T >= 1) [and its F0 bins (T,), unless the track was given up front] -> the audio
        that became final ([] or [samples])."""
        if self._track is not None:
            if f0 is not None:
                raise InvalidInput("the stream's F0 track was given to stream_decoder: push codes alone")
            n = np.shape(codes)[-1] if np.ndim(codes) == 2 else 0
            if self._frames + n > len(self._track):
                raise InvalidInput(f"the codes go past the stream's F0 track ({len(self._track)} frames)")
            f0 = self._track[self._frames:self._frames + n]
        c, f = self.runner.check_inputs(codes, f0)
        if self._frames + c.shape[1] > self.runner.max_frames:
            raise InvalidInput(f"the stream exceeds {self.runner.max_frames} frames ({MAX_SECONDS:.0f} s)")
        self._frames += c.shape[1]
        rows = c if f is None else np.concatenate([c, f[None]])
        return self._windows.push(rows.astype(np.float32))

    def flush(self) -> list[np.ndarray]:
        """End of the stream: the rest of the audio."""
        return self._windows.flush()
