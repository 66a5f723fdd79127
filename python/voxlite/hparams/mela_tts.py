"""Hyper-parameters of MELA-TTS's language-model component (kind ``mela-tts-lm``): shapes, the KV group, the
streaming layout and generation defaults."""
from __future__ import annotations

from dataclasses import dataclass, field

from .base import HParams
from .voxcpm import KVGroup


@dataclass(frozen=True)
class MelaTTSLMHParams(HParams):
    n_mels: int  # mel bins of a frame (the codec's latent_dim)
    chunk_size: int  # mel frames per LM step
    lm_dim: int
    dit_dim: int
    speaker_dim: int  # width of the caller's speaker embedding
    vocab_size: int
    tos_token: int  # turn of speech: follows the last text token
    max_positions: int  # KV cache positions (2 conditions + text + TOS + chunks)
    kv: dict[str, KVGroup]  # "lm"
    step_kv: str = "buffer"  # the step / text graphs' cache contract (fixed-size buffers + length)
    text_per_group: int = 5  # streaming layout N:M: N text tokens, then M chunks
    chunks_per_group: int = 4
    # generation defaults (the user's options override them)
    cfg: float = 2.0
    steps: int = 10
    min_len: int = 2  # chunks generated before the stop head is read
    max_len_ratio: float = 4.0  # max chunks: min(int(ratio * text tokens + offset), cap)
    max_len_offset: int = 10
    max_len_cap: int = 1000
    stop_threshold: float = 0.5  # P(stop) needed to end
    config: dict = field(default_factory=dict)  # the reference model's configuration (informative)

    def check(self) -> None:
        for name in ("n_mels", "chunk_size", "lm_dim", "dit_dim", "speaker_dim", "vocab_size", "max_positions",
                     "text_per_group", "chunks_per_group", "steps", "max_len_cap"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if set(self.kv) != {"lm"}:
            raise ValueError(f"kv: needs the one group 'lm', got {sorted(self.kv)}")
        if not 0 <= self.tos_token < self.vocab_size:
            raise ValueError(f"tos_token: {self.tos_token} is outside the vocabulary")
        if not 0.0 < self.stop_threshold < 1.0:
            raise ValueError(f"stop_threshold: must lie in (0, 1), got {self.stop_threshold}")
        if self.cfg < 0 or self.min_len < 0 or self.max_len_ratio < 0 or self.max_len_offset < 0:
            raise ValueError(f"cfg / min_len / max_len_ratio / max_len_offset: out of range ({self.cfg}, "
                             f"{self.min_len}, {self.max_len_ratio}, {self.max_len_offset})")
