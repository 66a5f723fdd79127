"""Hyper-parameters of a T5 text-features component (kind ``t5-features``): a caption tokenized with the component's
tokenizer.json (truncated to ``max_length`` ids, its ``</s>`` included) through a T5 encoder -> one ``dim``-wide row
per token (the encoder's ``last_hidden_state``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .base import HParams


@dataclass(frozen=True)
class T5FeaturesHParams(HParams):
    dim: int  # feature width: the encoder's d_model (768 for google/t5-v1_1-base)
    vocab: int  # the encoder's embedding rows: every token id must be below it
    max_length: int = 100  # ids per caption after truncation, special tokens included (UniAudio: 100)
    model: Literal["t5"] = "t5"
    config: dict = field(default_factory=dict)  # the encoder's config (models.t5_encoder.T5EncoderConfig)

    def check(self) -> None:
        for name in ("dim", "vocab", "max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name, key in (("dim", "dim"), ("vocab", "vocab")):
            if key in self.config and self.config[key] != getattr(self, name):
                raise ValueError(f"{name}: {getattr(self, name)} differs from config.{key} {self.config[key]!r}")
