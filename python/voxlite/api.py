"""The names users need: ``voxlite.load``."""
from __future__ import annotations

import os

from .bundle import open_bundle
from .capabilities import check_declared, require
from .hparams import check_components
from .pipelines import family_class


def load(path: str | os.PathLike | None = None, *, backend: str = "auto", precision: str | None = None,
         threads: int | None = None, allow_fallback: bool = False, verify: bool = True, task: str | None = None):
    """Open a bundle (directory or archive), validate it, and return its family's model object. No ``path``: the
    default voice (``$VOXLITE_DEFAULT_BUNDLE``, else the one embedded in the wheel).

    ``backend``: "auto" (TensorRT > CUDA > CPU, whichever is really present), or one of "cpu", "openvino",
    "cuda", "ort-tensorrt", "tensorrt". An absent backend raises BackendUnavailable unless
    ``allow_fallback=True``; the backend that runs is ``model.backend``. ``task``: a capability the model must
    have ("text-to-speech", "voice-cloning", "codec", "text-to-audio", "speech-to-speech", "multi-speaker",
    "singing"); a
    bundle that cannot do it raises CapabilityError naming what it can do, before any graph is opened.
    """
    if path is None:
        from .voices import default_bundle

        path = default_bundle()
    bundle = open_bundle(path, verify=verify)
    cls = family_class(bundle.model_type)
    check_declared(cls, bundle)
    check_components(bundle)
    if task is not None and task not in bundle.capabilities:
        from .errors import CapabilityError

        raise CapabilityError(f"bundle {bundle.name!r} ({bundle.model_type}) cannot do {task}; it can do: "
                              f"{', '.join(bundle.capabilities) or 'nothing but run its graphs'}")
    model = cls(bundle, backend=backend, precision=precision, threads=threads, allow_fallback=allow_fallback)
    return model if task is None else require(model, task)
