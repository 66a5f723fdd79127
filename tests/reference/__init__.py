"""NumPy reference implementations that the native kernels must match (tests and benchmarks)."""
