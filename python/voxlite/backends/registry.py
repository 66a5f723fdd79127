"""Which backends exist here, picking one (``auto``), and opening sessions on it.

Order for ``auto``: native TensorRT > ONNX Runtime TensorRT EP > ONNX Runtime CUDA EP > ONNX Runtime CPU.
OpenVINO runs when asked for. An unavailable backend raises BackendUnavailable with an install hint; the
next one is tried only when the caller passes ``allow_fallback=True``, and the choice (with its reason) is
recorded on the session as ``session.choice`` and logged.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from functools import lru_cache

from ..graphio import GraphIO
from ..errors import BackendUnavailable, InvalidInput
from .base import BackendChoice, Session, check_against_manifest, check_threads
from .devices import probe_nvidia_gpus

log = logging.getLogger("voxlite.backends")

BACKENDS = ("tensorrt", "ort-tensorrt", "cuda", "openvino", "cpu", "torch")
AUTO_ORDER = ("tensorrt", "ort-tensorrt", "cuda", "cpu")
GRAPH_BACKENDS = ("tensorrt", "ort-tensorrt", "cuda", "openvino", "cpu")

INSTALL_HINTS = {
    "cpu": "pip install onnxruntime",
    "cuda": "pip install 'voxlite[cuda]' (onnxruntime-gpu) on a machine with an NVIDIA GPU and driver",
    "ort-tensorrt": "pip install 'voxlite[cuda,tensorrt]' on a machine with an NVIDIA GPU and driver",
    "tensorrt": "pip install 'voxlite[tensorrt]' (tensorrt, cuda-python) on a machine with an NVIDIA GPU and driver",
    "openvino": "pip install 'voxlite[openvino]'",
    "torch": "pip install torch (reference models only: voxlite.backends.torch.TorchSession)",
}


@dataclass(frozen=True)
class BackendStatus:
    name: str
    available: bool
    reason: str
    install_hint: str


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@lru_cache(maxsize=1)
def _ort_providers() -> tuple[str, ...]:
    if not _has_module("onnxruntime"):
        return ()
    from .onnxruntime import ort_available_providers

    return tuple(ort_available_providers())


def backend_status(name: str) -> BackendStatus:
    """Is ``name`` usable here, and why (not)."""
    if name not in BACKENDS:
        raise InvalidInput(f"unknown backend {name!r}; choose from auto, {', '.join(BACKENDS)}")
    hint = INSTALL_HINTS[name]

    def status(ok: bool, reason: str) -> BackendStatus:
        return BackendStatus(name, ok, reason, hint)

    if name == "cpu":
        ok = "CPUExecutionProvider" in _ort_providers()
        return status(ok, "ONNX Runtime CPU execution provider" if ok else "onnxruntime is not installed")
    if name == "openvino":
        if not _has_module("openvino"):
            return status(False, "openvino is not installed")
        return status(True, "OpenVINO runtime (CPU)")
    if name == "torch":
        ok = _has_module("torch")
        return status(ok, "PyTorch installed (reference modules only)" if ok else "torch is not installed")

    gpus = probe_nvidia_gpus()
    if name == "tensorrt":
        missing = [m for m in ("tensorrt", "cuda") if not _has_module(m)]
        if missing:
            return status(False, f"missing Python packages: {', '.join(missing)}")
    else:
        provider = "CUDAExecutionProvider" if name == "cuda" else "TensorrtExecutionProvider"
        if provider not in _ort_providers():
            return status(False, f"this onnxruntime build has no {provider}")
    if not gpus.gpus:
        return status(False, gpus.reason)
    return status(True, f"{gpus.gpus[0].name} (compute {gpus.gpus[0].compute_capability[0]}."
                        f"{gpus.gpus[0].compute_capability[1]})")


def available_backends() -> list[BackendStatus]:
    return [backend_status(name) for name in BACKENDS]


def select_backend(requested: str = "auto", *, allow_fallback: bool = False) -> BackendChoice:
    """Resolve ``requested`` ("auto" or a backend name) to a backend that is really present."""
    if requested == "auto":
        skipped = []
        for name in AUTO_ORDER:
            st = backend_status(name)
            if st.available:
                reason = f"auto: {st.reason}" + (f" (not available: {'; '.join(skipped)})" if skipped else "")
                return BackendChoice(name, reason, requested)
            skipped.append(f"{name}: {st.reason}")
        raise BackendUnavailable("no backend is available: " + "; ".join(skipped))
    st = backend_status(requested)
    if st.available:
        return BackendChoice(requested, f"requested: {st.reason}", requested)
    if not allow_fallback:
        raise BackendUnavailable(f"backend {requested!r} is not available here ({st.reason}). "
                                 f"Install: {st.install_hint}. Or pass allow_fallback=True / --backend auto.")
    fallback = select_backend("auto")
    choice = BackendChoice(fallback.name, f"fallback from {requested} ({st.reason}) to {fallback.name}: "
                                          f"{fallback.reason}", requested)
    log.warning("voxlite: %s", choice.reason)
    return choice


def open_session(path: str | os.PathLike, *, spec: GraphIO | None = None, backend: str = "auto",
                 threads: int | None = None, allow_fallback: bool = False, identity: str | None = None,
                 **options) -> Session:
    """Load one graph file on a backend; check its IO against ``spec`` (the manifest) when given."""
    threads = check_threads(threads)
    if backend == "torch":
        raise BackendUnavailable("the torch backend runs reference modules, not exported graphs: "
                                 "use voxlite.backends.torch.TorchSession")
    choice = select_backend(backend, allow_fallback=allow_fallback)
    if choice.name == "torch":  # only reachable through a fallback list that never includes it; be explicit
        raise BackendUnavailable("torch cannot run exported graphs")
    try:
        session = _create(choice.name, path, spec=spec, threads=threads, identity=identity, **options)
    except BackendUnavailable as e:
        if not allow_fallback or choice.name == "cpu":
            raise
        log.warning("voxlite: %s failed to start (%s); falling back to cpu as allowed", choice.name, e)
        choice = BackendChoice("cpu", f"fallback from {choice.name} ({e}) to cpu", backend)
        session = _create("cpu", path, spec=spec, threads=threads, identity=identity)
    session.choice = choice
    if spec is not None:
        check_against_manifest(session.inputs, session.outputs, spec, f"{os.path.basename(path)} on {choice.name}")
        _check_metadata(session, spec, os.path.basename(path))
    log.info("voxlite: %s runs %s (%s)", choice.name, os.path.basename(path), choice.reason)
    return session


def _create(name: str, path, *, spec, threads, identity, **options) -> Session:
    if name in ("cpu", "cuda", "ort-tensorrt"):
        from .onnxruntime import OrtSession

        return OrtSession(path, backend=name, threads=threads, identity=identity)
    if name == "openvino":
        from .openvino import OpenVinoSession

        # the graph's declared tensor names (the manifest's, or ``names=`` when there is none: the exporter's verify)
        names = tuple(options.pop("names", ())) or (
            tuple(t.name for t in (*spec.inputs, *spec.outputs)) if spec is not None else ())
        return OpenVinoSession(path, threads=threads, names=names, **options)
    if name == "tensorrt":
        from .tensorrt import TensorRTSession

        return TensorRTSession(path, spec=spec, identity=identity, **options)
    raise InvalidInput(f"unknown backend {name!r}")


def _check_metadata(session: Session, spec: GraphIO, filename: str) -> None:
    """Facts stamped into the graph at export (``voxlite.*`` metadata) must agree with the manifest."""
    from ..errors import BundleError

    graph_meta = getattr(session, "metadata", {}) or {}
    for key, value in graph_meta.items():
        if not key.startswith("voxlite."):
            continue
        field = key[len("voxlite."):]
        if field == "graph" and value != spec.short_name:
            raise BundleError(f"{filename} says it is graph {value!r}, the manifest uses it as {spec.name!r}")
        if field in spec.metadata and str(spec.metadata[field]) != value:
            raise BundleError(f"{filename}: graph metadata {field}={value!r} disagrees with the manifest's "
                              f"{spec.metadata[field]!r}")
