"""The names users need: ``voxlite.load``."""
from __future__ import annotations

import os

from .bundle import open_bundle
from .pipelines import family_class


def load(path: str | os.PathLike | None = None, *, backend: str = "auto", precision: str | None = None,
         threads: int | None = None, allow_fallback: bool = False, verify: bool = True):
    """Open a bundle (directory or archive), validate it, and return its family's model object. No ``path``: the
    default voice (``$VOXLITE_DEFAULT_BUNDLE``, else the one embedded in the wheel).

    ``backend``: "auto" (TensorRT > CUDA > CPU, whichever is really present), or one of "cpu", "openvino",
    "cuda", "ort-tensorrt", "tensorrt". An absent backend raises BackendUnavailable unless
    ``allow_fallback=True``; the backend that runs is ``model.backend``.
    """
    if path is None:
        from .voices import default_bundle

        path = default_bundle()
    bundle = open_bundle(path, verify=verify)
    cls = family_class(bundle.model_type)
    return cls(bundle, backend=backend, precision=precision, threads=threads, allow_fallback=allow_fallback)
