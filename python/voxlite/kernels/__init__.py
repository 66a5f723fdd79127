"""Python faces of the native kernels in ``voxlite._native``.

Each submodule (``rvq``, ``sampling``, ``kvcache``, ``solvers``) validates and documents its
arguments and calls the C++ kernel, which runs with the GIL released.
"""
