"""Sampling kernels vs the NumPy reference at decoder sizes (vocab 4096 x batch 8, vocab 32000 x 1)."""
from __future__ import annotations

import numpy as np

from tests.reference import sampling as ref
from voxlite.kernels import sampling as ks


def _logits(seed: int, B: int, V: int) -> np.ndarray:
    # LM-like rows: a broad body plus a few strong candidates, so top-p keeps tens to hundreds of tokens.
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, V)) * 2.0
    x[np.arange(B)[:, None], rng.integers(0, V, (B, 8))] += rng.uniform(4.0, 9.0, (B, 8))
    return x.astype(np.float32)


def cases() -> list[tuple[str, callable, callable]]:
    x8 = _logits(0, 8, 4096)
    history = np.random.default_rng(1).integers(0, 4096, (8, 64)).astype(np.int64)
    full = dict(history=history, window=64, repetition_penalty=1.1, temperature=0.8, top_k=50,
                top_p=0.9, seed=7, step=3)
    top_p = dict(top_p=0.9, seed=7, step=3)
    x1 = _logits(2, 1, 32000)
    return [
        ("sampling sample 8x4096 temp+top_k50+top_p0.9+penalty64",
         lambda: ks.sample(x8, **full), lambda: ref.sample(x8, **full)),
        ("sampling sample 8x4096 top_p0.9",
         lambda: ks.sample(x8, **top_p), lambda: ref.sample(x8, **top_p)),
        ("sampling greedy 8x4096",
         lambda: ks.greedy(x8), lambda: ref.greedy(x8)),
        ("sampling sample 1x32000 top_p0.9",
         lambda: ks.sample(x1, **top_p), lambda: ref.sample(x1, **top_p)),
    ]
