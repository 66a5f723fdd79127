"""Preallocated key/value cache for exported decoder step graphs.

One buffer ``(n_layers, 2, batch, n_heads, max_len, head_dim)`` (float32 or float16) is allocated
once, zeroed. A decoder step that produced ``t`` new positions per layer does::

    for layer, (k, v) in enumerate(present):       # k, v: (B, H, t, D), the cache dtype
        cache.write(layer, k, v)
    cache.advance(t)                                # or cache.append(ks, vs) for both

and the next step reads either

- ``cache.keys(layer)`` / ``cache.values(layer)``: read-only strided (B, H, length, D) views, no copy;
- ``cache.contiguous_keys(layer, out=buf)``: a C-contiguous copy (what an ONNX Runtime feed needs),
  reusing ``buf`` (e.g. preallocated for max_len) so nothing is allocated per step; or
- ``cache.buffer(layer)``: the whole writable (2, B, H, max_len, D) block, for graphs that take
  fixed-size caches plus a length or mask, and for IO binding.

Lifetime: views share the cache's memory (``np.shares_memory``) and keep its storage alive, so a
view stays valid after the :class:`KVCache` is dropped. The buffer is never reallocated; ``trim``
and ``reset`` only move the length, so an earlier view sees later writes to its positions.
``grown(capacity)`` returns a new, larger cache with a copy of the committed positions.

Threads: an instance must not be written (or trimmed/reset) from several threads at once;
different instances are independent. Copies run with the GIL released.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .. import _native

__all__ = ["KVCache"]

_DTYPES = ("float32", "float16")
_SPEC_INT_KEYS = ("n_layers", "n_kv_heads", "head_dim")


def _dtype_name(dtype) -> str:
    try:
        name = np.dtype(dtype).name
    except TypeError as e:
        raise ValueError(f"KVCache: dtype must be one of {_DTYPES}, got {dtype!r}") from e
    if name not in _DTYPES:
        raise ValueError(f"KVCache: dtype must be one of {_DTYPES}, got {dtype!r}")
    return name


class KVCache:
    """Per-layer K/V store of ``n_layers`` x (batch, n_heads, max_len, head_dim), allocated once."""

    def __init__(self, n_layers: int, batch: int, n_heads: int, max_len: int, head_dim: int,
                 dtype="float32"):
        self._cache = _native.KVCache(n_layers, batch, n_heads, max_len, head_dim,
                                      _dtype_name(dtype))

    @classmethod
    def from_spec(cls, spec: Mapping, max_len: int, batch: int = 1) -> "KVCache":
        """Build from a manifest's KV spec ``{"n_layers", "n_kv_heads", "head_dim", "dtype"}``
        ("dtype" optional, default "float32")."""
        if not isinstance(spec, Mapping):
            raise ValueError(f"KV cache spec must be a dict, got {type(spec).__name__}")
        unknown = set(spec) - set(_SPEC_INT_KEYS) - {"dtype"}
        if unknown:
            raise ValueError(f"KV cache spec has unknown keys {sorted(unknown)}; "
                             f"expected {list(_SPEC_INT_KEYS)} and optionally 'dtype'")
        missing = [k for k in _SPEC_INT_KEYS if k not in spec]
        if missing:
            raise ValueError(f"KV cache spec is missing {missing}")
        for key, value in [*((k, spec[k]) for k in _SPEC_INT_KEYS), ("max_len", max_len),
                           ("batch", batch)]:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"KV cache spec: {key} must be a positive integer, got {value!r}")
        dtype = spec.get("dtype", "float32")
        if dtype not in _DTYPES:
            raise ValueError(f"KV cache spec: dtype must be one of {_DTYPES}, got {dtype!r}")
        return cls(int(spec["n_layers"]), int(batch), int(spec["n_kv_heads"]), int(max_len),
                   int(spec["head_dim"]), dtype)

    # --- facts -----------------------------------------------------------------------------
    @property
    def length(self) -> int:
        """Committed positions."""
        return self._cache.length

    @property
    def capacity(self) -> int:
        """max_len."""
        return self._cache.capacity

    @property
    def nbytes(self) -> int:
        return self._cache.nbytes

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._cache.dtype)

    @property
    def shape(self) -> tuple[int, int, int, int, int, int]:
        """(n_layers, 2, batch, n_heads, max_len, head_dim) of the buffer."""
        c = self._cache
        return (c.n_layers, 2, c.batch, c.n_heads, c.capacity, c.head_dim)

    def written(self, layer: int) -> int:
        """Positions of ``layer`` holding data (length + t after write(layer, t positions))."""
        return self._cache.written(layer)

    def __repr__(self) -> str:
        return repr(self._cache)

    # --- updates ---------------------------------------------------------------------------
    def write(self, layer: int, k, v) -> None:
        """Copy k, v (B, H, t, D) of the cache dtype (any strides) to positions
        [length, length + t) of ``layer``; committed by :meth:`advance`."""
        self._cache.write(layer, np.asarray(k), np.asarray(v))

    def advance(self, t: int) -> None:
        """Commit t positions; every layer must have been written for them."""
        self._cache.advance(t)

    def append(self, layer_ks: Sequence, layer_vs: Sequence) -> None:
        """Write one (B, H, t, D) k and v per layer (all validated first), then advance(t)."""
        self._cache.append([np.asarray(k) for k in layer_ks], [np.asarray(v) for v in layer_vs])

    def trim(self, n: int) -> None:
        """Keep the first n positions (n <= length), e.g. to reuse a prompt's cache."""
        self._cache.trim(n)

    def reset(self) -> None:
        """Length 0; the buffer is kept (no reallocation)."""
        self._cache.reset()

    def grown(self, capacity: int) -> "KVCache":
        """A new cache of ``capacity`` slots (>= length) holding this one's committed positions (copied once).
        Graphs that read the whole fixed-size buffer pay for every slot, filled or not: a cache can start small
        and be grown as it fills, instead of being allocated for the longest possible sequence."""
        c = self._cache
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < max(1, self.length):
            raise ValueError(f"KVCache.grown: capacity must be an integer >= length ({self.length}), got {capacity!r}")
        new = KVCache(c.n_layers, c.batch, c.n_heads, int(capacity), c.head_dim, self.dtype)
        if self.length:
            new.append([self.keys(i) for i in range(c.n_layers)], [self.values(i) for i in range(c.n_layers)])
        return new

    # --- reads -----------------------------------------------------------------------------
    def keys(self, layer: int) -> np.ndarray:
        """Read-only view (B, H, length, D) of the layer's keys; shares memory, no copy."""
        return self._cache.keys(layer)

    def values(self, layer: int) -> np.ndarray:
        """Read-only view (B, H, length, D) of the layer's values; shares memory, no copy."""
        return self._cache.values(layer)

    def buffer(self, layer: int) -> np.ndarray:
        """Writable contiguous view (2, B, H, max_len, D) of the layer's block (0 = K, 1 = V)."""
        return self._cache.buffer(layer)

    def contiguous_keys(self, layer: int, out: np.ndarray | None = None) -> np.ndarray:
        """C-contiguous copy (B, H, length, D) of the keys. ``out``: writable C-contiguous array
        of the cache dtype with enough elements; returned itself if its shape matches, else a
        (B, H, length, D) view of its start."""
        return self._cache.contiguous_keys(layer, out)

    def contiguous_values(self, layer: int, out: np.ndarray | None = None) -> np.ndarray:
        """Like :meth:`contiguous_keys`, for the values."""
        return self._cache.contiguous_values(layer, out)
