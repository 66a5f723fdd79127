"""Streaming decoders: audio out while latents still come in. One helper per decoder kind, for every family.

- ``StatefulStreamDecoder``: causal decoders exported with a ``decoder_stream`` graph (latent chunk + states ->
  audio chunk + next states); the concatenated chunks equal the offline decode.
- ``WindowedStreamDecoder``: non-causal decoders (a Vocos over mel frames): decode the frames whose right context
  exists, with left context, and emit their audio. When ``left`` / ``right`` cover the decoder's receptive field
  and the decoder computes each frame from its neighbourhood alone, the concatenated chunks equal the offline
  decode of all the frames to float rounding (the stream's first and last spans hold the signal's true edges, as
  the offline decode does). A decoder that is not local differs: dynamic int8 (one activation scale per tensor,
  from the whole decoded span) gives every span its own rounding (see ``WindowedStreamDecoder``).

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
    """Audio of frames ``[start, end)`` is decoded from frames ``[start - left, end + right)`` (clipped to the
    stream: the first span starts at frame 0 and the last ends at the last frame, so the signal's edges, the
    decoder's zero / "center" padding there, are the offline decode's). Output sample ``n`` depends on frames
    ``n // hop - L .. n // hop + R`` for a decoder of receptive field (L, R) frames; ``left >= L`` and
    ``right >= R`` make every emitted sample the offline one, up to float rounding (the same arithmetic on a
    shorter input). The default voice's Vocos (kernel-7 embed conv + 8 kernel-7 depthwise convs: +-27 frames;
    iSTFT with n_fft = 4 hops, "center": a hop of samples is touched by frames -1 .. +2) has (L, R) = (28, 29).

    What is left when the window covers the receptive field is the decoder's own non-locality: with dynamic int8
    matmuls (one activation scale per tensor, from its range over the decoded span) each span rounds with its own
    scales. For the embedded int8 decoder that is the size of the int8 noise itself: stream vs offline 22-42 dB SNR
    (max abs 0.01-0.12), and the stream as close to the float decoder as the offline decode is (25-33 dB, within
    1.5 dB; five sentences). With that decoder made float, stream and offline agree to 2e-6.

    The first chunk goes out as soon as its right context exists (time to first audio); each later one waits
    for twice the previous one's frames, up to ``max_chunk`` frames, because every decode repeats its context
    (32-frame chunks with 28 + 29 context frames decode 89 frames; on the default voice that took the vocoder
    1.2x the time of 16 + 8 context frames, per-call overhead included). Samples are tracked one by one, so
    decoders whose output has (T - 1) hops ("center") or T hops ("same") both come out whole."""

    def __init__(self, decode: Callable[[np.ndarray], np.ndarray], hop_length: int, left: int, right: int,
                 max_chunk: int = 32):
        """``decode(latents (1, D, T)) -> audio ((T - 1) * hop or T * hop,)``: the offline decoder, sample
        ``i`` at ``i / hop`` frames."""
        self._decode, self.hop, self.left, self.right, self.max_chunk = decode, hop_length, left, right, max_chunk
        self._frames: list[np.ndarray] = []  # (T_i, D) pieces
        self._total = 0  # frames pushed
        self._emitted = 0  # frames whose audio went out (the chunk schedule)
        self._samples = 0  # samples that went out
        self._wanted = 1

    def push(self, latents: np.ndarray) -> list[np.ndarray]:
        self._frames.append(np.asarray(latents, np.float32).T)
        self._total += latents.shape[-1]
        ready = self._total - self.right
        if ready - self._emitted < self._wanted:
            return []
        audio = self._span(ready, final=False)
        self._wanted = min(2 * (ready - self._emitted), self.max_chunk)
        self._emitted = ready
        return [audio] if len(audio) else []

    def flush(self) -> list[np.ndarray]:
        """The rest of the audio, the stream's last frame as its right edge."""
        if self._total <= self._emitted:  # nothing pushed, or a right = 0 window already gave every sample
            return []
        audio = self._span(self._total, final=True)
        self._emitted = self._total
        return [audio] if len(audio) else []

    def _span(self, end: int, final: bool) -> np.ndarray:
        """The samples not yet out, up to frame ``end`` (to the end of the decode when ``final``), decoded from
        frames [first - left, end + right) (clipped), ``first`` the frame of the first sample not yet out."""
        if len(self._frames) > 1:
            self._frames = [np.concatenate(self._frames)]
        mel = self._frames[0]  # (F, D)
        lo = max(0, self._samples // self.hop - self.left)
        hi = min(mel.shape[0], end + self.right)
        audio = self._decode(np.ascontiguousarray(mel[lo:hi].T[None]))
        a = self._samples - lo * self.hop
        b = len(audio) if final else min((end - lo) * self.hop, len(audio))
        if b <= a:
            return audio[:0]
        self._samples = lo * self.hop + b
        return np.ascontiguousarray(audio[a:b])
