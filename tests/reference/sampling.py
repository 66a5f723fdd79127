"""NumPy reference for the sampling kernels (clarity over speed; full sorts, loops over rows).

Definitions follow csrc/sampling.h: float32 arithmetic for the penalty and the temperature,
float64 for probabilities; top-p sorts stably by probability descending and keeps the tokens whose
preceding cumulative mass is < top_p; sample() uses a splitmix64 counter RNG written with uint64 arrays.
"""
from __future__ import annotations

import numpy as np

NEG_INF = np.float32(-np.inf)

# ---------------------------------------------------------------- counter-based RNG (uint64, wraps)

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser of (x + golden gamma) on a uint64 array (arithmetic mod 2**64)."""
    z = np.asarray(x, dtype=np.uint64) + _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def uniform(seed: int, step: int, rows: int) -> np.ndarray:
    """u(seed, step, row) for row = 0..rows-1: 53 high bits of the triple-mixed hash times 2**-53."""
    seed_a = np.full(rows, seed, dtype=np.uint64)
    step_a = np.full(rows, step, dtype=np.uint64)
    row_a = np.arange(rows, dtype=np.uint64)
    h = splitmix64(splitmix64(splitmix64(seed_a) ^ step_a) ^ row_a)
    return (h >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)


# ---------------------------------------------------------------- validation


def _check_logits(x: np.ndarray) -> None:
    if x.ndim != 2:
        raise ValueError("logits must be 2-D")
    if x.shape[1] < 1:
        raise ValueError("V must be >= 1")
    if np.isnan(x).any() or np.isposinf(x).any():
        raise ValueError("logits contain NaN or +inf")
    if (~np.isfinite(x)).all(axis=1).any():
        raise ValueError("a row is all -inf")


# ---------------------------------------------------------------- the five steps (one row each)


def repetition_penalty_row(x: np.ndarray, hist_row, window: int, penalty: float) -> np.ndarray:
    x = x.astype(np.float32).copy()
    if hist_row is None or penalty == 1.0:
        return x
    h = np.asarray(hist_row, dtype=np.int64)
    if window > 0:
        h = h[-window:]
    ids = np.unique(h[h >= 0])
    p = np.float32(penalty)
    vals = x[ids]
    x[ids] = np.where(vals > 0, vals / p, vals * p).astype(np.float32)
    return x


def temperature_row(x: np.ndarray, temperature: float) -> np.ndarray:
    if temperature == 0.0:
        return x.copy()
    return (x / np.float32(temperature)).astype(np.float32)


def top_k_row(x: np.ndarray, k: int) -> np.ndarray:
    x = x.copy()
    if k <= 0 or k >= x.size:
        return x
    kth = np.sort(x)[::-1][k - 1]
    x[x < kth] = NEG_INF
    return x


def probs_row(x: np.ndarray) -> np.ndarray:
    """Softmax in float64 with the normaliser summed sequentially in token-index order."""
    m = np.float64(x.max())
    e = np.exp(x.astype(np.float64) - m)
    z = np.cumsum(e)[-1]
    return e / z


def top_p_row(x: np.ndarray, top_p: float) -> np.ndarray:
    x = x.copy()
    if top_p >= 1.0:
        return x
    p = probs_row(x)
    # probability descending, lower index first on ties; ordered on the logit (exp is monotone)
    order = np.argsort(-x, kind="stable")
    cum = np.cumsum(p[order])
    mass_before = np.concatenate([[0.0], cum[:-1]])
    remove = order[mass_before >= top_p]
    x[remove] = NEG_INF
    return x


def min_p_row(x: np.ndarray, min_p: float) -> np.ndarray:
    x = x.copy()
    if min_p <= 0.0:
        return x
    ratio = np.exp(x.astype(np.float64) - np.float64(x.max()))  # p / max(p)
    x[ratio < min_p] = NEG_INF
    return x


def _check_options(window, repetition_penalty, temperature, top_k, top_p, min_p):
    if window < 0:
        raise ValueError("window")
    if not (np.isfinite(repetition_penalty) and repetition_penalty > 0):
        raise ValueError("repetition_penalty")
    if not (np.isfinite(temperature) and temperature >= 0):
        raise ValueError("temperature")
    if top_k < 0:
        raise ValueError("top_k")
    if not 0 < top_p <= 1:
        raise ValueError("top_p")
    if not 0 <= min_p <= 1:
        raise ValueError("min_p")


def _check_history(history, B, V):
    if history is None:
        return None
    h = np.asarray(history, dtype=np.int64)
    if h.ndim != 2 or h.shape[0] != B:
        raise ValueError("history shape")
    if ((h < -1) | (h >= V)).any():
        raise ValueError("history id out of range")
    return h


def process_logits(logits, *, history=None, window=0, repetition_penalty=1.0, temperature=1.0,
                   top_k=0, top_p=1.0, min_p=0.0) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float32)
    _check_logits(x)
    _check_options(window, repetition_penalty, temperature, top_k, top_p, min_p)
    h = _check_history(history, x.shape[0], x.shape[1])
    out = np.empty_like(x)
    for b in range(x.shape[0]):
        r = repetition_penalty_row(x[b], None if h is None else h[b], window, repetition_penalty)
        r = temperature_row(r, temperature)
        if np.isposinf(r).any() or not np.isfinite(r).any():
            raise ValueError("overflow or all -inf after penalty/temperature")
        r = top_k_row(r, top_k)
        r = top_p_row(r, top_p)
        r = min_p_row(r, min_p)
        out[b] = r
    return out


def greedy(logits) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float32)
    _check_logits(x)
    return np.argmax(x, axis=1).astype(np.int64)


def sample(logits, *, history=None, window=0, repetition_penalty=1.0, temperature=1.0, top_k=0,
           top_p=1.0, min_p=0.0, seed=0, step=0) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float32)
    B = x.shape[0]
    if temperature == 0.0:
        penalised = process_logits(x, history=history, window=window,
                                   repetition_penalty=repetition_penalty, temperature=0.0)
        return np.argmax(penalised, axis=1).astype(np.int64)
    processed = process_logits(x, history=history, window=window,
                               repetition_penalty=repetition_penalty, temperature=temperature,
                               top_k=top_k, top_p=top_p, min_p=min_p)
    u = uniform(seed, step, B)
    tokens = np.empty(B, dtype=np.int64)
    for b in range(B):
        r = processed[b]
        e = np.exp(r.astype(np.float64) - np.float64(r.max()))
        cum = np.cumsum(e)  # sequential, token-index order
        hit = np.nonzero(cum > u[b] * cum[-1])[0]
        tokens[b] = hit[0] if hit.size else np.nonzero(e > 0)[0][-1]
    return tokens


def log_softmax(logits) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float32)
    _check_logits(x)
    return _log_softmax64(x).astype(np.float32)


def _log_softmax64(x: np.ndarray) -> np.ndarray:
    x64 = x.astype(np.float64)
    m = x64.max(axis=1, keepdims=True)
    return (x64 - m) - np.log(np.exp(x64 - m).sum(axis=1, keepdims=True))


def cfg_logits(cond, uncond, scale, *, space="logits") -> np.ndarray:
    c = np.asarray(cond, dtype=np.float32)
    u = np.asarray(uncond, dtype=np.float32)
    if c.shape != u.shape:
        raise ValueError("shape mismatch")
    _check_logits(c)
    _check_logits(u)
    if space == "logits":
        c64, u64 = c.astype(np.float64), u.astype(np.float64)
    elif space == "logprobs":
        c64, u64 = _log_softmax64(c), _log_softmax64(u)
    else:
        raise ValueError("space")
    masked = np.isneginf(c) | np.isneginf(u)
    with np.errstate(invalid="ignore"):
        out = u64 + scale * (c64 - u64)
    out[masked] = -np.inf
    return out.astype(np.float32)
