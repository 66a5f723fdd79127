"""Seeded standard-normal noise drawn identically by the Python pipelines and the C API (``csrc/noise.h``).

Draws are counter-based: ``standard_normal(seed, stream, shape)`` depends on (seed, stream) only, so a pipeline
draws one stream per step (VoxCPM: stream = patch index) and any runtime reproduces it without sharing a
generator's state.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _native


def standard_normal(seed: int, stream: int, shape) -> np.ndarray:
    """float32 standard normals of ``shape`` for (``seed``, ``stream``), both integers in [0, 2**64)."""
    for name, value in (("seed", seed), ("stream", stream)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < 2**64:
            raise ValueError(f"{name} must be an integer in [0, 2**64), got {value!r}")
    shape = tuple(int(d) for d in np.atleast_1d(shape)) if not isinstance(shape, int) else (shape,)
    return _native.standard_normal(int(seed), int(stream), math.prod(shape)).reshape(shape)
