"""Hyper-parameters of a codec component (kind ``codec``): RVQ codecs, VAEs, and vocoders over log-mel frames."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .base import HParams


@dataclass(frozen=True)
class StreamState(HParams):
    """One state tensor a streaming decoder carries from chunk to chunk (``new_<name>`` is its next value)."""

    name: str
    shape: tuple[int | str, ...]  # "batch" for the batch dimension
    source: str = ""  # the module it comes from (export's note)


@dataclass(frozen=True)
class StreamWindow(HParams):
    """A non-causal decoder is streamed in overlapping windows: ``left`` frames of context, ``right`` of look-ahead."""

    left: int
    right: int

    def check(self) -> None:
        if self.left < 0 or self.right < 0:
            raise ValueError(f"window: left and right must be >= 0, got {self.left}, {self.right}")


@dataclass(frozen=True)
class LSTMStream(HParams):
    """A non-causal decoder with a unidirectional LSTM at its bottleneck (SEANet: UniAudio's SoundStream), streamed
    exactly in two graphs (``voxlite.models.seanet.LSTMSplit``; pipeline: ``streaming.LSTMSplitStreamDecoder``):

    - ``decoder_pre_lstm``: ``latents`` (B, D, T + pad_left + pad_right), the first conv's input with its context
      (reflect / replicate / zero padded at the stream's true start and end, as offline), + the LSTM's ``states``
      -> ``hidden`` (B, C, T) + ``new_<state>``;
    - ``decoder_post``: ``hidden`` (B, C, T) -> ``audio`` (B, channels, T * hop), decoded in windows: output hop k
      reads hidden frames k - ``left`` .. k + ``right``; the first ``early_samples`` samples of every hop need one
      frame less on the right (k + right - 1).
    """

    pad_left: int  # the first conv's history frames
    pad_right: int  # the first conv's look-ahead frames
    pad_mode: Literal["reflect", "replicate", "zeros"]
    left: int
    right: int
    early_samples: int = 0
    states: tuple[StreamState, ...] = ()

    def check(self) -> None:
        for name in ("pad_left", "pad_right", "left", "right", "early_samples"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.states:
            raise ValueError("states: the LSTM's states (h, c) are needed")

    @property
    def lookahead(self) -> int:
        """Frames after frame k that must have arrived before all of frame k's audio is final."""
        return self.pad_right + self.right


@dataclass(frozen=True)
class CodecHParams(HParams):
    family: str  # the reference it was exported from (encodec, dac, wavevae, vocos, ...)
    kind: Literal["rvq", "vae", "mel"]  # codes / continuous latents / log-mel frames (vocoders)
    hop_length: int
    latent_dim: int
    channels: int = 1
    frame_rate: float | None = None
    decoder_min_frames: int = 1
    config: dict = field(default_factory=dict)  # the reference model's configuration (informative)
    n_q: int | None = None  # RVQ stages
    codebook_size: int | None = None
    normalize: bool = False  # RVQ search on L2-normalised vectors (DAC)
    stream_states: tuple[StreamState, ...] = ()  # causal decoders: the decoder_stream graph's states
    stream_min_first_frames: int = 1
    stream_init: Literal["zeros", "graph"] = "zeros"  # "graph": decoder_stream_init makes them from the start
    window: StreamWindow | None = None  # non-causal decoders streamed in windows
    lstm_stream: LSTMStream | None = None  # non-causal decoders with a bottleneck LSTM: split at it (see LSTMStream)

    def check(self) -> None:
        for name in ("hop_length", "latent_dim", "channels", "decoder_min_frames", "stream_min_first_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.kind == "rvq" and (not self.n_q or not self.codebook_size or self.n_q < 1 or self.codebook_size < 1):
            raise ValueError(f"n_q: an rvq codec needs positive n_q and codebook_size, got {self.n_q}, "
                             f"{self.codebook_size}")
        if self.stream_states and self.window is not None:
            raise ValueError("window: a decoder streams by its states or by windows, not both")
        if self.lstm_stream is not None and (self.stream_states or self.window is not None):
            raise ValueError("lstm_stream: a decoder split at its LSTM streams in that mode only (no stream_states, "
                             "no window)")
        if self.lstm_stream is not None and self.lstm_stream.early_samples > self.hop_length:
            raise ValueError(f"lstm_stream.early_samples: at most hop_length ({self.hop_length}), got "
                             f"{self.lstm_stream.early_samples}")
