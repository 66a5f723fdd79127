"""Sampling over logits: penalties, temperature, top-k / top-p / min-p, seeded multinomial, greedy, CFG.

Thin wrappers over the C++ kernels in ``voxlite._native`` (``csrc/sampling.h`` holds the exact
definitions). Logits are float32 ``(B, V)``; every option is shared by the rows of the batch.
Processing order (Hugging Face ``generate()``): repetition penalty, temperature, top-k, top-p, min-p.

- Repetition penalty (CTRL / HF): ``history`` int64/int32 ``(B, H)`` with -1 as padding, most recent
  token last (pad on the left). Only the last ``window`` columns are used (0 = all). Each distinct id is
  penalised once: ``x > 0 -> x / penalty`` else ``x * penalty``.
- Temperature: ``x / temperature``; 0 means greedy in :func:`sample` (argmax of the penalised logits)
  and "no division" in :func:`process_logits`.
- top-k keeps ``x >= k-th largest`` (ties kept). top-p sorts probabilities descending (ties: lower
  index first) and keeps the smallest prefix whose cumulative probability reaches ``top_p`` (at least one
  token). min-p keeps ``p >= min_p * max(p)``. Removed tokens are ``-inf``.
- :func:`sample` draws u = counter_uniform(seed, step, row) (splitmix64, no state: same inputs -> same
  tokens on every thread and platform) and returns the first token whose running sum of
  ``exp(x - max)`` in token-index order exceeds ``u * total``.

Bad input (NaN or +inf logits, a row of all -inf, out-of-range options or history ids, wrong ndim)
raises ``ValueError``. The kernels release the GIL and are safe to call from several threads.
"""
from __future__ import annotations

import numpy as np

from .. import _native

__all__ = ["process_logits", "sample", "greedy", "cfg_logits", "log_softmax", "uniform"]

_U64 = 1 << 64


def _logits(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def _history(history):
    if history is None:
        return None
    h = np.asarray(history)
    if h.dtype.kind not in "iu":
        raise ValueError(f"history must be an integer array (int64 or int32), got dtype {h.dtype}")
    if h.dtype == np.int32:
        return np.ascontiguousarray(h)
    if h.dtype.kind == "u" and h.size and int(h.max()) > np.iinfo(np.int64).max:
        raise ValueError("history ids do not fit in int64")
    return np.ascontiguousarray(h, dtype=np.int64)


def _u64(value, name: str) -> int:
    v = int(value)
    if not 0 <= v < _U64:
        raise ValueError(f"{name} must be in [0, 2**64), got {v}")
    return v


def process_logits(logits, *, history=None, window: int = 0, repetition_penalty: float = 1.0,
                   temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                   min_p: float = 0.0) -> np.ndarray:
    """Processed logits float32 ``(B, V)``, ``-inf`` for removed tokens.

    logits: float32 ``(B, V)``; history: int64/int32 ``(B, H)`` or None (-1 = padding).
    ``temperature=0`` skips the division (penalty and top-k/p/min-p still apply).
    """
    return _native.sampling_process_logits(
        _logits(logits), _history(history), window=int(window),
        repetition_penalty=float(repetition_penalty), temperature=float(temperature),
        top_k=int(top_k), top_p=float(top_p), min_p=float(min_p))


def sample(logits, *, history=None, window: int = 0, repetition_penalty: float = 1.0,
           temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0,
           seed: int = 0, step: int = 0) -> np.ndarray:
    """One token per row, int64 ``(B,)``; reproducible from ``(seed, step, row)`` alone.

    logits: float32 ``(B, V)``; history: int64/int32 ``(B, H)`` or None. ``seed`` and ``step`` are
    integers in ``[0, 2**64)``; pass the decoding step as ``step`` instead of keeping RNG state.
    ``temperature=0`` is greedy (argmax of the penalised logits, lowest index on ties).
    """
    return _native.sampling_sample(
        _logits(logits), _history(history), window=int(window),
        repetition_penalty=float(repetition_penalty), temperature=float(temperature),
        top_k=int(top_k), top_p=float(top_p), min_p=float(min_p),
        seed=_u64(seed, "seed"), step=_u64(step, "step"))


def greedy(logits) -> np.ndarray:
    """Argmax per row of float32 ``(B, V)`` logits, lowest index on ties; int64 ``(B,)``."""
    return _native.sampling_greedy(_logits(logits))


def cfg_logits(cond, uncond, scale: float, *, space: str = "logits") -> np.ndarray:
    """Classifier-free guidance ``uncond + scale * (cond - uncond)``, float32 ``(B, V)``.

    cond, uncond: float32 ``(B, V)`` of equal shape. ``space="logprobs"`` log-softmaxes both first.
    Positions that are ``-inf`` in either input stay ``-inf``. ``scale=1`` returns ``cond``
    (``log_softmax(cond)`` in logprobs space), ``scale=0`` returns ``uncond``.
    """
    return _native.sampling_cfg_logits(_logits(cond), _logits(uncond), float(scale), space=str(space))


def log_softmax(logits) -> np.ndarray:
    """Numerically stable log-softmax per row of float32 ``(B, V)``; ``-inf`` stays ``-inf``."""
    return _native.sampling_log_softmax(_logits(logits))


def uniform(seed: int, step: int, rows: int) -> np.ndarray:
    """The uniforms in [0, 1) that :func:`sample` uses for rows ``0..rows-1``; float64 ``(rows,)``."""
    rows = int(rows)
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    return _native.sampling_uniform(_u64(seed, "seed"), _u64(step, "step"), rows)
