"""The names users need: ``voxlite.load``."""
from __future__ import annotations

import os

from .bundle import open_bundle
from .pipelines import family_class


def load(path: str | os.PathLike, *, backend: str = "auto", precision: str | None = None,
         threads: int | None = None, allow_fallback: bool = False, verify: bool = True):
    """Open a bundle (directory or archive), validate it, and return its family's model object.

    ``backend``: "auto" (TensorRT > CUDA > CPU, whichever is really present), or one of "cpu", "openvino",
    "cuda", "ort-tensorrt", "tensorrt". An absent backend raises BackendUnavailable unless
    ``allow_fallback=True``; the backend that runs is ``model.backend``.
    """
    bundle = open_bundle(path, verify=verify)
    cls = family_class(bundle.model_type)
    return cls(bundle, backend=backend, precision=precision, threads=threads, allow_fallback=allow_fallback)
