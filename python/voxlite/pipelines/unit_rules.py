"""Which ids a unit language model may emit at each generated position: one rule for every cascade stage.

A stage generates frames of ``k`` tokens (k = 1: semantic units; k = 3: three codec codebooks flattened frame by
frame). Generated token i sits at place ``j = i % k`` of frame ``i // k`` and may only be an id of ``ranges[j]``
(half-open ``[lo, hi)`` in the model's joint vocabulary), or the ``end`` id, which is allowed at frame boundaries only
(j = 0: a cut frame would not decode) and only once ``min_frames`` frames are complete. A stage stops at ``end`` or
after ``max_frames`` frames.

``masked`` applies the rule to a row of logits in place of the model's own distribution; the PyTorch references and
the runtime both call it, so their tokens agree for a fixed seed. ``choose`` is the one sampling step every unit loop
shares: greedy for temperature 0, else the native seeded sampler with a per-stage ``step`` offset (so two stages of
one run, given one seed, draw from different streams).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..errors import InvalidInput

# ``step`` offsets of the cascade's stages: stage s draws its i-th token with step STAGE_STEPS * s + i
STAGE_STEPS = 1 << 32


@dataclass(frozen=True)
class FrameRules:
    ranges: tuple[tuple[int, int], ...]  # allowed [lo, hi) per place in a frame
    end: int  # the id that ends the stage (at a frame boundary)
    min_frames: int = 0  # end is forbidden before this many complete frames
    max_frames: int = 1_000_000  # the stage stops after this many frames

    def __post_init__(self):
        if not self.ranges:
            raise ValueError("a frame needs at least one place")
        for lo, hi in self.ranges:
            if not 0 <= lo < hi:
                raise ValueError(f"range [{lo}, {hi}) is empty or negative")
            if lo <= self.end < hi:
                raise ValueError(f"the end id {self.end} lies inside the allowed range [{lo}, {hi})")
        if self.max_frames < 1 or self.min_frames < 0:
            raise ValueError(f"frame limits must be min_frames >= 0 and max_frames >= 1, got "
                             f"{self.min_frames} / {self.max_frames}")

    @property
    def k(self) -> int:
        return len(self.ranges)

    @property
    def max_tokens(self) -> int:
        return self.k * self.max_frames

    def ends(self, token: int, i: int) -> bool:
        """Whether generated token ``token`` at index ``i`` ends the stage (the end id; nothing after it)."""
        return token == self.end

    def masked(self, logits: np.ndarray, i: int) -> np.ndarray:
        """(1, V) or (V,) logits of generated token ``i`` -> float32 (1, V) with every id the rule forbids at -inf."""
        row = np.asarray(logits, np.float32).reshape(1, -1)
        lo, hi = self.ranges[i % self.k]
        if hi > row.shape[1] or self.end >= row.shape[1]:
            raise ValueError(f"the rule's ids (up to {max(hi - 1, self.end)}) exceed the {row.shape[1]} logits")
        out = np.full_like(row, -np.inf)
        out[:, lo:hi] = row[:, lo:hi]
        if i % self.k == 0 and i // self.k >= self.min_frames:
            out[:, self.end] = row[:, self.end]
        return out


def choose(masked_logits: np.ndarray, *, temperature: float, top_k: int | None = None, top_p: float | None = None,
           seed: int = 0, step: int = 0) -> int:
    """One token from masked (1, V) float32 logits: argmax for temperature 0, else the native seeded sampler."""
    from ..kernels import sampling

    if not temperature:
        return int(sampling.greedy(masked_logits)[0])
    return int(sampling.sample(masked_logits, temperature=temperature, top_k=top_k or 0,
                               top_p=1.0 if top_p is None else top_p, seed=seed, step=step)[0])


def sampler(*, temperature: float | None, top_k: int | None = None, top_p: float | None = None, seed: int = 0,
            step_offset: int = 0) -> Callable[[np.ndarray, int], int]:
    """``sample(masked logits, i)`` of a stage: ``choose`` at step ``step_offset + i``."""
    def sample(masked: np.ndarray, i: int) -> int:
        return choose(masked, temperature=temperature or 0.0, top_k=top_k, top_p=top_p, seed=seed,
                      step=step_offset + i)
    return sample


def options_sampler(options, step_offset: int = 0) -> Callable[[np.ndarray, int], int]:
    """``sampler`` of a ``GenerationOptions``."""
    return sampler(temperature=options.temperature, top_k=options.top_k, top_p=options.top_p, seed=options.seed,
                   step_offset=step_offset)


def rule_tokens(prefill: Callable[[], dict], step: Callable[[dict, int, int], dict], rules: FrameRules,
                sample: Callable[[np.ndarray, int], int], cap: int) -> Iterator[int]:
    """The loop of every unit stage, runtime and reference alike (``generation.autoregress``): ``prefill()`` and
    ``step(state, token, i)`` leave the next logits in ``state["logits"]``; token i is ``sample(rules.masked(
    logits, i), i)``; yields the tokens up to, not including, the rule's end id, at most ``cap``."""
    from .generation import autoregress

    def emit(state, i):
        state["token"] = int(sample(rules.masked(state["logits"], i), i))
        return state["token"]

    for i, token in enumerate(autoregress(prefill, emit, lambda state, i: rules.ends(state["token"], i), step, cap)):
        if rules.ends(token, i):
            return
        yield token


def check_prefix(prefix: np.ndarray, n_vocab: int, room: int, what: str = "the prefix") -> np.ndarray:
    """A 1-D int64 prefix of ids < n_vocab that leaves ``room`` > 0 positions to generate, else InvalidInput."""
    ids = np.asarray(prefix)
    if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise InvalidInput(f"{what} must be a non-empty 1-D sequence of integer ids")
    if ids.min() < 0 or ids.max() >= n_vocab:
        raise InvalidInput(f"{what} holds ids outside 0..{n_vocab - 1}")
    if room < 1:
        raise InvalidInput(f"{what} ({ids.size} ids) fills the model's context: shorten the input")
    return ids.astype(np.int64)
