"""Hyper-parameters of a decoder-only unit language model component (kind ``unit-lm``): one stage of a
semantic-token cascade (Spear-TTS S2, Make-A-Voice S2, MVoice S1). The stage's vocabulary layout and frame rules
belong to the cascade, not to this component."""
from __future__ import annotations

from dataclasses import dataclass, field

from .base import HParams
from .voxcpm import KVGroup


@dataclass(frozen=True)
class UnitLMHParams(HParams):
    n_vocab: int  # ids the prefill / step graphs take and score (the logits' width)
    n_ctx: int  # learned positions: prefix + generated tokens never exceed it
    kv: dict[str, KVGroup]  # "lm": the step graph's cache
    config: dict = field(default_factory=dict)  # the reference model's configuration (informative)

    def check(self) -> None:
        if self.n_vocab < 2:
            raise ValueError(f"n_vocab must be >= 2 (a unit and an end id), got {self.n_vocab}")
        if self.n_ctx < 2:
            raise ValueError(f"n_ctx must be >= 2 (a prefix and a generated token), got {self.n_ctx}")
        if set(self.kv) != {"lm"}:
            raise ValueError(f"kv: needs the one group 'lm', got {sorted(self.kv)}")
