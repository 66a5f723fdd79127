"""NumPy reference of csrc/noise.h: Box-Muller over the sampler's counter-based uniforms."""
from __future__ import annotations

import numpy as np

from .sampling import uniform


def standard_normal(seed: int, stream: int, n: int) -> np.ndarray:
    u = uniform(seed, stream, 2 * ((n + 1) // 2))  # u(seed, stream, j) for j = 0 .. 2 * pairs - 1
    r = np.sqrt(-2.0 * np.log(1.0 - u[0::2]))
    a = 2.0 * np.pi * u[1::2]
    out = np.empty(2 * len(r), np.float32)
    out[0::2] = (r * np.cos(a)).astype(np.float32)
    out[1::2] = (r * np.sin(a)).astype(np.float32)
    return out[:n]
