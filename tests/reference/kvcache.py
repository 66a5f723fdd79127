"""The naive growing KV cache: per-layer arrays extended with np.concatenate every step.

Same protocol as voxlite's KVCache (write per layer, advance commits, trim, reset), written
the obvious way; the native cache must match it (tests) and beat it (benchmark).
"""
from __future__ import annotations

import numpy as np


class NaiveKVCache:
    def __init__(self, n_layers, batch, n_heads, max_len, head_dim, dtype=np.float32):
        self.n_layers, self.max_len = n_layers, max_len
        self.dtype = np.dtype(dtype)
        empty = np.zeros((batch, n_heads, 0, head_dim), self.dtype)
        self.k = [empty] * n_layers  # committed (B, H, length, D)
        self.v = [empty] * n_layers
        self.pending = [None] * n_layers  # (k, v) written since the last commit, (B, H, t, D)

    @property
    def length(self):
        return self.k[0].shape[2]

    def write(self, layer, k, v):
        if not 0 <= layer < self.n_layers:
            raise ValueError("layer out of range")
        k, v = np.asarray(k), np.asarray(v)
        if k.dtype != self.dtype or v.dtype != self.dtype:
            raise ValueError("dtype mismatch")
        if k.shape != v.shape or k.shape[:2] + k.shape[3:] != self.k[0].shape[:2] + self.k[0].shape[3:]:
            raise ValueError("shape mismatch")
        if self.length + k.shape[2] > self.max_len:
            raise ValueError("overflow")
        self.pending[layer] = (k.copy(), v.copy())

    def advance(self, t):
        for p in self.pending:
            if t > 0 and (p is None or p[0].shape[2] < t):
                raise ValueError("a layer was not written")
        if self.length + t > self.max_len:
            raise ValueError("overflow")
        if t == 0:
            return
        for layer, (k, v) in enumerate(self.pending):
            self.k[layer] = np.concatenate([self.k[layer], k[:, :, :t]], axis=2)
            self.v[layer] = np.concatenate([self.v[layer], v[:, :, :t]], axis=2)
            rest = (k[:, :, t:], v[:, :, t:])
            self.pending[layer] = rest if rest[0].shape[2] > 0 else None

    def append(self, ks, vs):
        if len(ks) != self.n_layers or len(vs) != self.n_layers:
            raise ValueError("one k and v per layer")
        t = np.asarray(ks[0]).shape[2]
        for k, v in zip(ks, vs):
            if np.asarray(k).shape[2] != t or np.asarray(v).shape[2] != t:
                raise ValueError("shape mismatch")
        saved = list(self.pending)
        try:
            for layer in range(self.n_layers):
                self.write(layer, ks[layer], vs[layer])
        except ValueError:
            self.pending = saved
            raise
        self.advance(t)

    def trim(self, n):
        if not 0 <= n <= self.length:
            raise ValueError("trim beyond length")
        self.k = [k[:, :, :n] for k in self.k]
        self.v = [v[:, :, :n] for v in self.v]
        self.pending = [None] * self.n_layers

    def reset(self):
        self.trim(0)

    def keys(self, layer):
        return self.k[layer]

    def values(self, layer):
        return self.v[layer]
