"""Benchmark cases, one module per kernel family: ``cases() -> [(label, native_fn, numpy_fn)]``."""
