"""OpenVINO sessions (CPU), reading a bundle's ONNX graph (or OpenVINO IR) directly."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..graphio import TensorSpec
from ..cache import cache_dir
from ..errors import BackendError, BackendUnavailable, BundleError, InvalidInput
from .base import Session

_OV_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16", "i64": "int64", "i32": "int32",
              "i16": "int16", "i8": "int8", "u8": "uint8", "boolean": "bool"}


_CORE = None
_CORE_LOCK = threading.Lock()


def _shared_core():
    """The one ``ov.Core`` every session uses, created on first use and kept until exit.

    Each Core creates its own CPU plugin, and the plugin's constructor gives the calling thread a new alternate
    signal stack (``sigaltstack``, for AMX register state), remembering the previous one; its destructor restores
    the remembered one only if its own is still current, and unmaps its own either way. Two Cores destroyed in
    creation order (two sessions garbage-collected first-in first-out) thus leave the thread with an alternate
    stack in unmapped memory, and the next signal it handles (CPython's handlers use SA_ONSTACK: SIGTERM, Ctrl-C)
    segfaults or overwrites whatever was mapped there since. One Core that is never destroyed early avoids it
    (tests/test_openvino_signal_stack.py)."""
    global _CORE
    with _CORE_LOCK:
        if _CORE is None:
            import openvino as ov

            _CORE = ov.Core()
        return _CORE


class OpenVinoSession(Session):
    backend = "openvino"

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None, device: str = "CPU",
                 inference_precision: str = "f32", names: tuple[str, ...] = ()):
        """``names``: the graph's declared input/output names (from the manifest), used to pick each port's name
        when OpenVINO gives a port several (it merges an ONNX input or output with adjacent tensors' names)."""
        try:
            import openvino as ov
        except ImportError:
            raise BackendUnavailable("openvino is not installed: pip install 'voxlite[openvino]'") from None
        self.path = Path(path)
        core = _shared_core()
        if device not in core.available_devices:
            raise BackendUnavailable(f"OpenVINO device {device!r} is not available "
                                     f"(available: {core.available_devices})")
        try:
            model = core.read_model(str(self.path))
        except Exception as e:
            raise BundleError(f"openvino could not read {self.path.name}: {e}") from None
        # f32 by default: on CPUs with bf16 units OpenVINO would otherwise quietly compute in bf16.
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": inference_precision,
                  "CACHE_DIR": str(cache_dir("openvino"))}
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            self._compiled = core.compile_model(model, device, config)
        except Exception as e:
            raise BackendError(f"openvino could not compile {self.path.name} for {device}: {e}") from None
        self.device = device
        self.threads = threads
        self._request = self._compiled.create_infer_request()
        self.inputs = tuple(_spec(p, names) for p in self._compiled.inputs)
        self.outputs = tuple(_spec(p, names) for p in self._compiled.outputs)
        self._ports = {s.name: p for s, p in zip(self.outputs, self._compiled.outputs)}
        # ONNX metadata_props arrive as rt_info["framework"] (OVAny values)
        rt_info = model.get_rt_info()
        framework = rt_info["framework"] if "framework" in rt_info.keys() else {}
        self.metadata = {k: str(getattr(v, "value", v)) for k, v in dict(framework).items()}

    def run(self, feeds: Mapping[str, np.ndarray], output_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        self.check_feeds(feeds)
        names = list(output_names) if output_names is not None else list(self._ports)
        unknown = set(names) - set(self._ports)
        if unknown:
            raise InvalidInput(f"unknown outputs {sorted(unknown)}; the graph gives {list(self._ports)}")
        try:
            # share_inputs: the request reads the arrays in place (a KV cache buffer is not copied per step); the
            # run is synchronous, so they outlive it
            results = self._request.infer({k: np.ascontiguousarray(v) for k, v in feeds.items()}, share_inputs=True)
        except Exception as e:
            raise BackendError(f"openvino: running {self.path.name} failed: {e}") from None
        # results are views of the request's buffers: copy so the next run cannot change them
        return {name: np.array(results[self._ports[name]], copy=True) for name in names}


def _port_name(port, declared: tuple[str, ...]) -> str:
    """A port can carry several tensor names (an ONNX output merged with the internal tensor feeding it, an fp16
    graph's input with its cast): take the declared one, else one that is not an exporter-made ``/path/Op``."""
    names = sorted(port.get_names())
    for n in names:
        if n in declared:
            return n
    public = [n for n in names if not n.startswith("/")]
    return public[0] if len(public) == 1 else port.get_any_name()


def _spec(port, declared: tuple[str, ...] = ()) -> TensorSpec:
    name = _port_name(port, declared)
    etype = port.get_element_type().get_type_name()
    dtype = _OV_DTYPES.get(etype)
    if dtype is None:
        raise BundleError(f"graph port {name} has unsupported element type {etype}")
    shape = tuple(d.get_length() if d.is_static else f"{name}_dim{i}" for i, d in enumerate(port.get_partial_shape()))
    return TensorSpec(name, dtype, shape)
