"""Hyper-parameters of VoxCPM's language-model component (kind ``voxcpm-lm``): shapes, KV groups, generation
defaults."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .base import HParams


@dataclass(frozen=True)
class KVGroup(HParams):
    """One group of KV caches a step graph reads (``cache.<group>.<layer>``) and extends (``present.<group>.<layer>.
    key|value``)."""

    n_layers: int
    n_kv_heads: int
    head_dim: int
    dtype: Literal["float32", "float16"] = "float32"

    def check(self) -> None:
        for name in ("n_layers", "n_kv_heads", "head_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")


@dataclass(frozen=True)
class VoxCPMLMHParams(HParams):
    patch_size: int  # latent frames per LM step
    feat_dim: int  # latent channels (the codec's latent_dim)
    dit_dim: int
    vocab_size: int
    audio_start_token: int
    max_positions: int
    kv: dict[str, KVGroup]  # "base" and "residual"
    lm_dim: int | None = None
    audio_end_token: int | None = None
    step_kv: str = ""  # the step graph's cache contract ("buffer": fixed-size buffers + length)
    # generation defaults (the user's options override them)
    cfg: float = 2.0
    steps: int = 10
    sway_coef: float = 1.0
    zero_init_ratio: float = 0.04
    min_len: int = 2
    stop_rule: Literal["argmax"] = "argmax"
    max_len_ratio: float = 6.0
    max_len_offset: int = 10
    max_len_cap: int = 2000
    flow_start: float = 1.0  # < 1: solve from the prior head's patch (bundles with one)
    stop_threshold: float = 0.5  # P(stop) needed to end (0.5: the official argmax)
    audio_position_rate: float = 0.0  # > 0: the step graph takes its RoPE position
    voice_prompt: bool = True  # False: a single voice; no prompt is taken
    config: dict = field(default_factory=dict)  # the reference model's configuration (informative)

    def check(self) -> None:
        for name in ("patch_size", "feat_dim", "dit_dim", "vocab_size", "max_positions", "max_len_cap"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if set(self.kv) != {"base", "residual"}:
            raise ValueError(f"kv: needs the groups 'base' and 'residual', got {sorted(self.kv)}")
        if not 0 <= self.audio_start_token < self.vocab_size:
            raise ValueError(f"audio_start_token: {self.audio_start_token} is outside the vocabulary")
        if not 0.0 < self.stop_threshold < 1.0:
            raise ValueError(f"stop_threshold: must lie in (0, 1), got {self.stop_threshold}")
        if not 0.0 <= self.flow_start <= 1.0:
            raise ValueError(f"flow_start: must lie in [0, 1], got {self.flow_start}")
        if not 0.0 <= self.zero_init_ratio <= 1.0:
            raise ValueError(f"zero_init_ratio: must lie in [0, 1], got {self.zero_init_ratio}")
        if self.steps < 1 or self.min_len < 0 or self.cfg < 0:
            raise ValueError(f"steps / min_len / cfg: out of range ({self.steps}, {self.min_len}, {self.cfg})")
        if self.audio_position_rate < 0:
            raise ValueError(f"audio_position_rate: must be >= 0, got {self.audio_position_rate}")
