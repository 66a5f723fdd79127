"""Streaming decoders: audio out while latents still come in. One helper per decoder kind, for every family.

- ``StatefulStreamDecoder``: causal decoders exported with a ``decoder_stream`` graph (latent chunk + states ->
  audio chunk + next states); the concatenated chunks equal the offline decode.
- ``WindowedStreamDecoder``: non-causal decoders (a Vocos over mel frames): decode the frames whose right context
  exists, with left context, and emit their audio. Offline decoding of the same frames differs only by the context
  cut at the window edges.

Both take latents (D, T) in any chunking through ``push`` and give audio chunks; ``flush`` ends the stream.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np


class StatefulStreamDecoder:
    def __init__(self, step: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]],
                 states: Mapping[str, np.ndarray]):
        """``step(feeds)`` runs the decoder_stream graph; ``states``: the initial states by input name."""
        self._step = step
        self.states = dict(states)

    def push(self, latents: np.ndarray) -> list[np.ndarray]:
        """Latents (D, T) -> [their audio (T * hop,)], the decoder's state carried on."""
        out = self._step({"latents": np.ascontiguousarray(latents[None], dtype=np.float32), **self.states})
        self.states = {name: out[f"new_{name}"] for name in self.states}
        return [out["audio"][0].mean(axis=0)]

    def flush(self) -> list[np.ndarray]:
        return []


class WindowedStreamDecoder:
    """The first chunk goes out as soon as its right context exists (time to first audio); each later one waits
    for twice the previous one's frames, up to ``max_chunk`` frames, because every decode repeats its context
    (8-frame chunks with 16 + 8 context frames cost 4x the offline decode, 32-frame ones 1.75x)."""

    def __init__(self, decode: Callable[[np.ndarray], np.ndarray], hop_length: int, left: int, right: int,
                 max_chunk: int = 32):
        """``decode(latents (1, D, T)) -> audio (T * hop,)``: the offline decoder."""
        self._decode, self.hop, self.left, self.right, self.max_chunk = decode, hop_length, left, right, max_chunk
        self._frames: list[np.ndarray] = []  # (T_i, D) pieces
        self._total = 0
        self._emitted = 0
        self._wanted = 1

    def push(self, latents: np.ndarray) -> list[np.ndarray]:
        self._frames.append(np.asarray(latents, np.float32).T)
        self._total += latents.shape[-1]
        ready = self._total - self.right
        if ready - self._emitted < self._wanted:
            return []
        audio = self._span(self._emitted, ready)
        self._wanted = min(2 * (ready - self._emitted), self.max_chunk)
        self._emitted = ready
        return [audio]

    def flush(self) -> list[np.ndarray]:
        if self._total <= self._emitted:
            return []
        audio = self._span(self._emitted, self._total)
        self._emitted = self._total
        return [audio]

    def _span(self, start: int, end: int) -> np.ndarray:
        """Audio of frames [start, end), decoded from frames [start - left, end + right) (clipped)."""
        mel = np.concatenate(self._frames)  # (F, D)
        lo, hi = max(0, start - self.left), min(mel.shape[0], end + self.right)
        audio = self._decode(np.ascontiguousarray(mel[lo:hi].T[None]))
        a = (start - lo) * self.hop
        b = (end - lo) * self.hop if end < mel.shape[0] else len(audio)
        return np.ascontiguousarray(audio[a:b])
