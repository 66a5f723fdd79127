"""Benchmark cases per kernel family: each module exposes cases() -> [(label, native, reference)]."""
