"""Generation machinery shared by the autoregressive families: the options object, KV-cache groups, the loop.

- ``GenerationOptions``: every user-facing knob of generation (seed, cfg, steps, flow_start, temperature, top-k,
  top-p, min-p, repetition penalty, max length), validated once where it is built; ``resolved(defaults)`` fills
  what the user left None from the bundle's defaults.
- ``KVGroups``: the named groups of native ``KVCache`` buffers a step graph reads (``cache.<group>.<layer>``: the
  whole fixed-size (2, B, H, capacity, D) buffer plus the filled length) and extends (``present.<group>.<layer>.
  key|value``); capacity starts small and doubles, because a step reads every slot.
- ``autoregress``: prefill, then emit / stop / step until a stop or the length limit: the skeleton every family's
  loop fills in (a token LM's emit samples a token; a continuous one's solves a flow or diffusion).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from ..errors import InvalidInput

MAX_STEPS = 1000
MAX_CFG = 100.0
MAX_TEMPERATURE = 100.0
MAX_LENGTH = 1_000_000


def _number(value, name: str, lo: float, hi: float, *, lo_open: bool = False) -> None:
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
          and math.isfinite(float(value)) and (lo < float(value) if lo_open else lo <= float(value))
          and float(value) <= hi)
    if not ok:
        raise InvalidInput(f"{name} must be a finite number in {'(' if lo_open else '['}{lo:g}, {hi:g}], "
                           f"got {value!r}")


def _integer(value, name: str, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= int(value) <= hi:
        raise InvalidInput(f"{name} must be an integer in {lo}..{hi}, got {value!r}")


@dataclass(frozen=True)
class GenerationOptions:
    """Options of one generation call; None means the bundle's default. Invalid values raise InvalidInput."""

    seed: int = 0
    cfg: float | None = None  # classifier-free guidance scale
    steps: int | None = None  # solver steps (flow matching / diffusion)
    flow_start: float | None = None  # where a flow solve starts (1: noise; < 1: a prior estimate)
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    max_length: int | None = None  # frames / patches / tokens to generate at most

    def __post_init__(self):
        _integer(self.seed, "seed", 0, 2**63 - 1)
        checks: dict[str, Callable[[Any], None]] = {
            "cfg": lambda v: _number(v, "cfg", 0.0, MAX_CFG),
            "steps": lambda v: _integer(v, "steps", 1, MAX_STEPS),
            "flow_start": lambda v: _number(v, "flow_start (1: the solve starts from noise; 0: the prior's estimate, "
                                               "no solve)", 0.0, 1.0),
            "temperature": lambda v: _number(v, "temperature", 0.0, MAX_TEMPERATURE),
            "top_k": lambda v: _integer(v, "top_k", 0, 2**31 - 1),
            "top_p": lambda v: _number(v, "top_p", 0.0, 1.0, lo_open=True),
            "min_p": lambda v: _number(v, "min_p", 0.0, 1.0),
            "repetition_penalty": lambda v: _number(v, "repetition_penalty", 0.0, 100.0, lo_open=True),
            "max_length": lambda v: _integer(v, "max_length", 1, MAX_LENGTH),
        }
        for name, check in checks.items():
            value = getattr(self, name)
            if value is not None:
                check(value)

    def resolved(self, defaults: Mapping[str, Any]) -> "GenerationOptions":
        """These options with every None field that ``defaults`` names filled from it."""
        fill = {k: v for k, v in defaults.items() if getattr(self, k) is None and v is not None}
        return dataclasses.replace(self, **fill) if fill else self


class KVGroups:
    """Named KV-cache groups of a step graph (``KVGroup`` specs from the bundle's hparams)."""

    def __init__(self, specs: Mapping[str, Any], capacity: int, limit: int):
        """``capacity``: positions allocated now; ``limit``: what growth may reach (the positions the generation can
        ever fill)."""
        from ..kernels.kvcache import KVCache

        self.limit = int(limit)
        self.caches = {g: KVCache(spec.n_layers, 1, spec.n_kv_heads, min(int(capacity), self.limit), spec.head_dim,
                                  spec.dtype) for g, spec in specs.items()}
        self._present = {g: ([f"present.{g}.{i}.key" for i in range(spec.n_layers)],
                             [f"present.{g}.{i}.value" for i in range(spec.n_layers)]) for g, spec in specs.items()}
        self._feeds = self._buffers()

    @staticmethod
    def input_names(specs: Mapping[str, Any]) -> set[str]:
        """The cache inputs a step graph over ``specs`` takes."""
        return {f"cache.{g}.{i}" for g, spec in specs.items() for i in range(spec.n_layers)}

    def _buffers(self) -> dict[str, np.ndarray]:
        return {f"cache.{g}.{i}": c.buffer(i) for g, c in self.caches.items() for i in range(c.shape[0])}

    @property
    def length(self) -> int:
        return next(iter(self.caches.values())).length

    def feeds(self) -> dict[str, np.ndarray]:
        """The step graph's cache inputs: each layer's whole buffer (read in place; slots >= length ignored)."""
        return self._feeds

    def append(self, outputs: Mapping[str, np.ndarray]) -> None:
        """Commit the K/V a graph gave for its new positions (``present.<group>.<layer>.key|value``)."""
        for g, cache in self.caches.items():
            keys, values = self._present[g]
            cache.append([outputs[k] for k in keys], [outputs[v] for v in values])

    def make_room(self, positions: int = 1) -> None:
        """Before a step that adds ``positions``: double a full group's capacity (up to the limit)."""
        grown = False
        for g, c in list(self.caches.items()):
            if c.length + positions > c.capacity:
                self.caches[g] = c.grown(min(self.limit, max(2 * c.capacity, c.length + positions)))
                grown = True
        if grown:
            self._feeds = self._buffers()


def autoregress(prefill: Callable[[], Any], emit: Callable[[Any, int], Any], stop: Callable[[Any, int], bool],
                step: Callable[[Any, Any, int], Any], max_length: int) -> Iterator[Any]:
    """The loop every autoregressive family runs: ``state = prefill()``; then for i < max_length: yield
    ``frame = emit(state, i)``; end if ``stop(state, i)``; else ``state = step(state, frame, i)`` (no step after the
    last frame: it would compute a position nothing reads)."""
    state = prefill()
    for i in range(max_length):
        frame = emit(state, i)
        yield frame
        if stop(state, i) or i + 1 == max_length:
            return
        state = step(state, frame, i)
