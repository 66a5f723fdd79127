"""KV cache benchmark: one decoder step of a 24-layer model (B=1, 2 KV heads, head_dim 64) at
length ~1000, native preallocated cache vs the naive growing cache (np.concatenate)."""
from __future__ import annotations

import numpy as np

from tests.reference.kvcache import NaiveKVCache
from voxlite.kernels.kvcache import KVCache

N_LAYERS, BATCH, HEADS, HEAD_DIM, MAX_LEN, LENGTH = 24, 1, 2, 64, 4096, 1000


def cases():
    rng = np.random.default_rng(0)
    shape = (BATCH, HEADS, LENGTH, HEAD_DIM)
    prompt_k = [rng.standard_normal(shape).astype(np.float32) for _ in range(N_LAYERS)]
    prompt_v = [rng.standard_normal(shape).astype(np.float32) for _ in range(N_LAYERS)]
    step_k = [rng.standard_normal((BATCH, HEADS, 1, HEAD_DIM)).astype(np.float32) for _ in range(N_LAYERS)]
    step_v = [rng.standard_normal((BATCH, HEADS, 1, HEAD_DIM)).astype(np.float32) for _ in range(N_LAYERS)]

    cache = KVCache(N_LAYERS, BATCH, HEADS, MAX_LEN, HEAD_DIM)
    cache.append(prompt_k, prompt_v)
    # Feed buffers preallocated for max_len: contiguous_* returns views of their start.
    k_out = [np.empty((BATCH, HEADS, MAX_LEN, HEAD_DIM), np.float32) for _ in range(N_LAYERS)]
    v_out = [np.empty((BATCH, HEADS, MAX_LEN, HEAD_DIM), np.float32) for _ in range(N_LAYERS)]

    def native_step_contiguous():
        cache.trim(LENGTH)  # O(1): keeps every call at the same length
        cache.append(step_k, step_v)
        return [(cache.contiguous_keys(l, out=k_out[l]), cache.contiguous_values(l, out=v_out[l]))
                for l in range(N_LAYERS)]

    def native_step_views():
        cache.trim(LENGTH)
        cache.append(step_k, step_v)
        return [(cache.keys(l), cache.values(l)) for l in range(N_LAYERS)]

    naive = NaiveKVCache(N_LAYERS, BATCH, HEADS, MAX_LEN, HEAD_DIM)
    naive.append(prompt_k, prompt_v)

    def naive_step():
        naive.trim(LENGTH)  # slicing back; the concatenation below is the per-step cost
        naive.append(step_k, step_v)
        return [(naive.keys(l), naive.values(l)) for l in range(N_LAYERS)]

    return [
        ("kvcache step: append 1 token x 24 layers + contiguous K/V (len 1000)",
         native_step_contiguous, naive_step),
        ("kvcache step: append 1 token x 24 layers + K/V views (len 1000)",
         native_step_views, naive_step),
    ]
