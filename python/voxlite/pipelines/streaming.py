"""Streaming decoders: audio out while latents still come in. One helper per decoder kind, for every family.

- ``StatefulStreamDecoder``: causal decoders exported with a ``decoder_stream`` graph (latent chunk + states ->
  audio chunk + next states); the concatenated chunks equal the offline decode.
- ``WindowedStreamDecoder``: non-causal decoders (a Vocos over mel frames): decode the frames whose right context
  exists, with left context, and emit their audio. When ``left`` / ``right`` cover the decoder's receptive field
  and the decoder computes each frame from its neighbourhood alone, the concatenated chunks equal the offline
  decode of all the frames to float rounding (the stream's first and last spans hold the signal's true edges, as
  the offline decode does). A decoder that is not local differs: dynamic int8 (one activation scale per tensor,
  from the whole decoded span) gives every span its own rounding (see ``WindowedStreamDecoder``).

- ``LSTMSplitStreamDecoder``: non-causal decoders with a unidirectional LSTM at their bottleneck (UniAudio's
  SoundStream), exported split at the LSTM (``decoder_pre_lstm`` with the LSTM's states, ``decoder_post``): the
  first conv gets its look-ahead and the stream's true edges, the LSTM runs statefully, the rest is decoded in
  windows over the LSTM's outputs. The concatenated chunks equal the offline decode to float rounding, each sample
  given out once, as soon as it is final.

All take latents (D, T) in any chunking through ``push`` and give audio chunks; ``flush`` ends the stream.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ..errors import InvalidInput

Run = Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]


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


def pad_frames(x: np.ndarray, left: int, right: int, mode: str) -> np.ndarray:
    """(D, T) padded along time as the reference decoder's convs pad (``voxlite.models.blocks.conv.pad1d``):
    reflect on a stream no longer than the padding first zero-extends it, then drops what that added."""
    if left == 0 and right == 0:
        return x
    widths = ((0, 0), (left, right))
    if mode == "zeros":
        return np.pad(x, widths)
    if mode == "replicate":
        return np.pad(x, widths, mode="edge")
    length, most = x.shape[1], max(left, right)
    extra = most - length + 1 if length <= most else 0
    y = np.pad(np.pad(x, ((0, 0), (0, extra))), widths, mode="reflect")
    return y[:, : y.shape[1] - extra]


class LSTMSplitStreamDecoder:
    """A non-causal decoder streamed exactly in three parts (``voxlite.models.seanet.LSTMSplit``):

    1. its first conv (``pad_left`` frames of history, ``pad_right`` of look-ahead): hidden frame t is computed once
       latent frame t + pad_right has arrived; the conv's padding at the stream's start (reflect: the mirror of
       frames 1 .. pad_left) is made here, the padding at the end at ``flush``;
    2. the LSTM, in the same graph (``pre``), its states carried from call to call as offline;
    3. the rest (``post``), decoded in windows over the hidden frames: hop k of audio reads hidden frames
       k - left .. k + right (the first ``early_samples`` samples of a hop: .. k + right - 1), so the samples whose
       frames are all there are final; each window starts ``left`` frames before the first sample not yet given
       out and ends at the last hidden frame (the stream's true start and end get the offline edge padding).

    So sample n (hop k) comes out of the ``push`` that brings latent frame k + pad_right + right (one frame less for
    the first ``early_samples`` of a hop) and the last ones at ``flush``; pushing one frame at a time, the audio is
    ``lookahead`` frames behind. Per push: one ``pre`` call on the new frames + pad_left + pad_right, one ``post``
    call on the new frames + left + right (about; the LSTM runs each frame once, as offline). Buffers stay bounded.

    ``pre(feeds)``: ``latents`` (1, D, n + pad_left + pad_right) + the states -> ``hidden`` (1, C, n) +
    ``new_<state>``. ``post(feeds)``: ``hidden`` (1, C, m) -> ``audio`` (1, channels, m * hop)."""

    def __init__(self, pre: Run, post: Run, states: Mapping[str, np.ndarray], *, hop_length: int, latent_dim: int,
                 pad_left: int, pad_right: int, pad_mode: str, left: int, right: int, early_samples: int = 0):
        if not 0 <= early_samples <= hop_length or (right == 0 and early_samples):
            raise ValueError(f"early_samples must be in 0..{hop_length} (0 when right is 0), got {early_samples}")
        self._pre, self._post, self.states = pre, post, dict(states)
        self.hop, self.dim = hop_length, latent_dim
        self.pad_left, self.pad_right, self.pad_mode = pad_left, pad_right, pad_mode
        self.left, self.right, self.early = left, right, early_samples
        # below this many frames a reflect pad of the whole stream is not yet known (the offline decode pads a
        # stream that short otherwise: see pad_frames); replicate needs one frame, zeros none
        self._start_frames = {"reflect": max(pad_left, pad_right) + 1, "replicate": 1}.get(pad_mode, 0)
        self._x = np.zeros((latent_dim, 0), np.float32)  # latent frames from _x0 on
        self._x0 = 0
        self._total = 0  # latent frames pushed
        self._left_pad: np.ndarray | None = None  # the first conv's padding before frame 0, once known
        self._hidden: list[np.ndarray] = []  # (C, n) pieces, hidden frames from _h0 on
        self._h0 = 0
        self._done = 0  # hidden frames computed
        self._samples = 0  # samples given out
        self._ended = False

    @property
    def lookahead(self) -> int:
        """Frames after frame k that must have arrived before all of frame k's audio is out."""
        return self.pad_right + self.right

    def push(self, latents: np.ndarray) -> list[np.ndarray]:
        """Latents (D, T >= 1) -> the audio that became final ([] or [samples])."""
        if self._ended:
            raise InvalidInput("the stream has ended (flush was called): start a new stream decoder")
        x = np.asarray(latents)
        if x.ndim != 2 or x.shape[0] != self.dim or x.shape[1] < 1:
            raise InvalidInput(f"a latent chunk must be ({self.dim}, T >= 1), got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise InvalidInput(f"a latent chunk must hold real numbers, got dtype {x.dtype}")
        if not np.isfinite(x).all():
            raise InvalidInput("the latent chunk contains NaN or infinite values")
        self._x = np.concatenate([self._x, x.astype(np.float32)], axis=1)
        self._total += x.shape[1]
        if self._total < self._start_frames:
            return []
        self._run_pre(final=False)
        return self._run_post(final=False)

    def flush(self) -> list[np.ndarray]:
        """End of the stream: the rest of the audio (the end padded as offline)."""
        if self._ended:
            return []
        self._ended = True
        if self._total == 0:
            return []
        self._run_pre(final=True)
        return self._run_post(final=True)

    def _run_pre(self, final: bool) -> None:
        end = self._total if final else self._total - self.pad_right  # hidden frames computable
        if end <= self._done:
            return
        pl, pr = self.pad_left, self.pad_right
        if self._left_pad is None and not final:  # the stream is long enough: its start's padding is final
            self._left_pad = pad_frames(self._x, pl, 0, self.pad_mode)[:, :pl]
        if self._left_pad is None:  # a stream too short to know it before its end: pad it whole, as offline
            window = pad_frames(self._x, pl, pr, self.pad_mode)[:, self._done:]
        else:
            # padded frame j is latent frame j - pl; the window is padded frames [done, end + pl + pr)
            parts = [self._left_pad[:, self._done:]] if self._done < pl else []
            parts.append(self._x[:, max(0, self._done - pl) - self._x0:])
            if final and pr:
                parts.append(pad_frames(self._x, 0, pr, self.pad_mode)[:, -pr:])
            window = np.concatenate(parts, axis=1)
        out = self._pre({"latents": np.ascontiguousarray(window[None]), **self.states})
        self.states = {name: out[f"new_{name}"] for name in self.states}
        hidden = out["hidden"][0]
        if hidden.shape[1] != end - self._done:
            raise RuntimeError(f"decoder_pre_lstm gave {hidden.shape[1]} frames for {end - self._done}")
        self._hidden.append(hidden)
        self._done = end
        keep = max(0, end - pl)  # the next window starts at padded frame `end`, latent frame end - pl
        if keep > self._x0 and (self._left_pad is not None or final):
            self._x, self._x0 = self._x[:, keep - self._x0:], keep

    def _run_post(self, final: bool) -> list[np.ndarray]:
        n, hop = self._done, self.hop
        ready = n * hop if final else min(n * hop, max(0, (n - self.right) * hop + self.early))
        if ready <= self._samples:
            return []
        lo = max(0, self._samples // hop - self.left)
        if len(self._hidden) > 1:
            self._hidden = [np.concatenate(self._hidden, axis=1)]
        hidden = self._hidden[0][:, lo - self._h0:]
        audio = self._post({"hidden": np.ascontiguousarray(hidden[None])})["audio"][0]
        if audio.shape[-1] != hidden.shape[1] * hop:
            raise RuntimeError(f"decoder_post gave {audio.shape[-1]} samples for {hidden.shape[1]} frames")
        out = audio[:, self._samples - lo * hop: ready - lo * hop].mean(axis=0)
        self._samples = ready
        first = max(0, ready // hop - self.left)  # where the next window starts
        if first > self._h0:
            self._hidden = [self._hidden[0][:, first - self._h0:]]
            self._h0 = first
        return [np.ascontiguousarray(out, dtype=np.float32)]
