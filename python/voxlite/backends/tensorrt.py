"""Native TensorRT sessions.

Engines are specific to the GPU model and TensorRT version, so they are never shipped: each is built
here from the bundle's ONNX graph on first use and cached under a key of (GPU name, compute capability,
TensorRT version, graph identity, precision, shape profiles). Written to TensorRT 10's documented Python API
(``Builder`` / ``OnnxParser`` / ``execute_async_v3``) with device memory from cuda-python; runs only where an
NVIDIA GPU, TensorRT and cuda-python are present, and raises BackendUnavailable elsewhere.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .._hashing import sha256_file
from ..graphio import GraphIO, TensorSpec
from ..cache import cache_dir
from ..errors import BackendError, BackendUnavailable, BundleError, InvalidInput
from .base import Session
from .devices import probe_nvidia_gpus

PROFILE_KEY = "tensorrt_profiles"  # graphs.<name>.metadata.tensorrt_profiles: {input: {min, opt, max}}


def _cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError:
            raise BackendUnavailable("cuda-python is not installed: pip install 'voxlite[tensorrt]'") from None
    return cudart


def _check(result, what: str):
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise BackendError(f"tensorrt: {what} failed with CUDA error {err}")
    return rest[0] if len(rest) == 1 else rest


def engine_cache_key(gpu_name: str, capability: tuple[int, int], trt_version: str, graph_identity: str,
                     fp16: bool, profiles: Mapping) -> str:
    blob = json.dumps([gpu_name, list(capability), trt_version, graph_identity, fp16, profiles], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class TensorRTSession(Session):
    backend = "tensorrt"

    def __init__(self, path: str | os.PathLike, *, spec: GraphIO | None = None, identity: str | None = None,
                 fp16: bool = False, device: int = 0, workspace_bytes: int = 1 << 30):
        try:
            import tensorrt as trt
        except ImportError:
            raise BackendUnavailable("tensorrt is not installed: pip install 'voxlite[tensorrt]'") from None
        cudart = _cudart()
        probe = probe_nvidia_gpus()
        if device >= len(probe.gpus):
            raise BackendUnavailable(f"tensorrt: no NVIDIA GPU #{device} ({probe.reason})")
        gpu = probe.gpus[device]
        self.path = Path(path)
        self._trt, self._cudart = trt, cudart
        self._logger = trt.Logger(trt.Logger.WARNING)
        _check(cudart.cudaSetDevice(device), "cudaSetDevice")

        profiles = dict((spec.metadata.get(PROFILE_KEY, {}) if spec else {}))
        key = engine_cache_key(gpu.name, gpu.compute_capability, trt.__version__,
                               identity or sha256_file(self.path), fp16, profiles)
        engine_path = cache_dir("tensorrt") / f"{key}.engine"
        if not engine_path.is_file():
            self._build_engine(engine_path, spec, profiles, fp16, workspace_bytes)
        self.engine_path = engine_path
        runtime = trt.Runtime(self._logger)
        self._engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self._engine is None:
            raise BackendError(f"tensorrt: could not deserialize the cached engine {engine_path}; delete it to rebuild")
        self._context = self._engine.create_execution_context()
        self._stream = _check(cudart.cudaStreamCreate(), "cudaStreamCreate")
        self._device_buffers: dict[str, tuple[int, int]] = {}  # name -> (pointer, bytes)

        ins, outs = [], []
        for i in range(self._engine.num_io_tensors):
            name = self._engine.get_tensor_name(i)
            dtype = np.dtype(trt.nptype(self._engine.get_tensor_dtype(name))).name
            shape = tuple(d if d >= 0 else f"{name}_dim{j}" for j, d in enumerate(self._engine.get_tensor_shape(name)))
            (ins if self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else outs).append(
                TensorSpec(name, dtype, shape))
        self.inputs, self.outputs = tuple(ins), tuple(outs)

    def _build_engine(self, engine_path: Path, spec: GraphIO | None, profiles: Mapping, fp16: bool,
                      workspace_bytes: int) -> None:
        trt = self._trt
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse_from_file(str(self.path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise BackendError(f"tensorrt: the ONNX parser rejected {self.path.name}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
        if fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        dynamic = False
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            if all(d >= 0 for d in tensor.shape):
                continue
            dynamic = True
            if tensor.name not in profiles:
                raise BundleError(f"tensorrt: input {tensor.name!r} of {self.path.name} has dynamic dims "
                                  f"{list(tensor.shape)} but the manifest gives no shape profile "
                                  f"(graphs.<name>.metadata.{PROFILE_KEY})")
            p = profiles[tensor.name]
            profile.set_shape(tensor.name, p["min"], p["opt"], p["max"])
        if dynamic:
            config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise BackendError(f"tensorrt: building an engine for {self.path.name} failed (see TensorRT log)")
        fd, tmp = tempfile.mkstemp(prefix=".engine-", dir=engine_path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(serialized))
        os.replace(tmp, engine_path)

    def _device_buffer(self, name: str, nbytes: int) -> int:
        ptr, size = self._device_buffers.get(name, (0, 0))
        if size < nbytes:
            if ptr:
                _check(self._cudart.cudaFree(ptr), "cudaFree")
            ptr = _check(self._cudart.cudaMalloc(max(nbytes, 1)), "cudaMalloc")
            self._device_buffers[name] = (ptr, nbytes)
        return ptr

    def run(self, feeds: Mapping[str, np.ndarray], output_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        self.check_feeds(feeds)
        cudart = self._cudart
        h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        host_inputs = {k: np.ascontiguousarray(v) for k, v in feeds.items()}
        for name, arr in host_inputs.items():
            if not self._context.set_input_shape(name, arr.shape):
                raise InvalidInput(f"tensorrt: input {name!r} shape {arr.shape} is outside the engine's profile")
            ptr = self._device_buffer(name, arr.nbytes)
            _check(cudart.cudaMemcpyAsync(ptr, arr.ctypes.data, arr.nbytes, h2d, self._stream), "copy to device")
            self._context.set_tensor_address(name, ptr)
        names = list(output_names) if output_names is not None else [s.name for s in self.outputs]
        results = {}
        for spec in self.outputs:
            shape = tuple(self._context.get_tensor_shape(spec.name))
            host = np.empty(shape, dtype=spec.dtype)
            ptr = self._device_buffer(spec.name, host.nbytes)
            self._context.set_tensor_address(spec.name, ptr)
            results[spec.name] = (host, ptr)
        if not self._context.execute_async_v3(self._stream):
            raise BackendError(f"tensorrt: executing {self.path.name} failed")
        for name in names:
            host, ptr = results[name]
            _check(cudart.cudaMemcpyAsync(host.ctypes.data, ptr, host.nbytes, d2h, self._stream), "copy to host")
        _check(cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        return {name: results[name][0] for name in names}

    def __del__(self):
        cudart = getattr(self, "_cudart", None)
        if cudart is None:
            return
        for ptr, _ in getattr(self, "_device_buffers", {}).values():
            cudart.cudaFree(ptr)
        if getattr(self, "_stream", None) is not None:
            cudart.cudaStreamDestroy(self._stream)
