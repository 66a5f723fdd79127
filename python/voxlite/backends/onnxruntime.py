"""ONNX Runtime sessions: CPU, CUDA execution provider, TensorRT execution provider."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..graphio import TensorSpec, ort_tensor_spec
from ..cache import cache_dir
from ..errors import BackendError, BackendUnavailable, BundleError, InvalidInput
from .base import Session

# voxlite backend name -> the provider list handed to ONNX Runtime (first = the one that must really run)
PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "ort-tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def _provider_options(backend: str, identity: str | None) -> list[dict]:
    if backend == "ort-tensorrt":
        # ONNX Runtime keys its engine cache by GPU and TensorRT version inside this directory.
        key = (identity or "unnamed").replace(":", "_").replace("/", "_")
        path = cache_dir("ort-tensorrt") / key
        path.mkdir(parents=True, exist_ok=True)
        return [{"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(path)}, {}, {}]
    return [{} for _ in PROVIDERS[backend]]


class OrtSession(Session):
    def __init__(self, path: str | os.PathLike, *, backend: str = "cpu", threads: int | None = None,
                 identity: str | None = None):
        import onnxruntime as ort

        if backend not in PROVIDERS:
            raise InvalidInput(f"OrtSession backend must be one of {sorted(PROVIDERS)}, got {backend!r}")
        self.backend = backend
        self.path = Path(path)
        if self.path.suffix == ".xml":
            raise BackendUnavailable(f"{self.path.name} is an OpenVINO IR variant: run it with backend='openvino' "
                                     "or pick an ONNX precision")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        providers = PROVIDERS[backend]
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=providers,
                                                 provider_options=_provider_options(backend, identity))
        except Exception as e:  # ORT raises its own exception types for unloadable graphs
            raise BundleError(f"onnxruntime could not load {self.path.name}: {e}") from None
        really = self._session.get_providers()
        if providers[0] not in really:
            # ORT falls back to CPU silently when a GPU provider fails to initialise; voxlite does not.
            raise BackendUnavailable(f"{backend}: ONNX Runtime did not enable {providers[0]} "
                                     f"(enabled: {really}); check the GPU driver and CUDA/TensorRT libraries")
        self.providers = tuple(really)
        self.threads = threads
        self.inputs = tuple(_spec(a) for a in self._session.get_inputs())
        self.outputs = tuple(_spec(a) for a in self._session.get_outputs())
        self._output_names = [s.name for s in self.outputs]
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)

    def run(self, feeds: Mapping[str, np.ndarray], output_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        self.check_feeds(feeds)
        names = list(output_names) if output_names is not None else self._output_names
        unknown = set(names) - set(self._output_names)
        if unknown:
            raise InvalidInput(f"unknown outputs {sorted(unknown)}; the graph gives {self._output_names}")
        try:
            results = self._session.run(names, dict(feeds))
        except Exception as e:
            raise BackendError(f"{self.backend}: running {self.path.name} failed: {e}") from None
        return dict(zip(names, results))

    def run_into(self, feeds: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray]) -> None:
        """IO binding: inputs read in place, outputs written straight into the caller's buffers."""
        self.check_feeds(feeds)
        binding = self._session.io_binding()
        for name, arr in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(arr))
        for name, dst in out.items():
            if name not in self._output_names:
                raise InvalidInput(f"unknown output {name!r}; the graph gives {self._output_names}")
            if not dst.flags.c_contiguous or not dst.flags.writeable:
                raise InvalidInput(f"output buffer {name!r} must be a writeable C-contiguous array")
            binding.bind_output(name, "cpu", 0, dst.dtype, list(dst.shape), dst.ctypes.data)
        try:
            self._session.run_with_iobinding(binding)
        except Exception as e:
            raise BackendError(f"{self.backend}: running {self.path.name} with bound buffers failed: {e}") from None


def _spec(arg) -> TensorSpec:
    spec = ort_tensor_spec(arg)
    if spec is None:
        raise BundleError(f"graph input/output {arg.name} has unsupported type {arg.type}")
    return spec


def ort_available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())
