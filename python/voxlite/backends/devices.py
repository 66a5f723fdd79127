"""What accelerators are really here, found without importing any framework.

NVIDIA GPUs are found through the CUDA driver API (``libcuda``), which is present exactly when a usable
NVIDIA driver is installed; no CUDA toolkit, torch or ONNX Runtime GPU build is needed to ask.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    compute_capability: tuple[int, int]
    memory_bytes: int


@dataclass(frozen=True)
class GpuProbe:
    gpus: tuple[Gpu, ...]
    driver_version: int | None
    reason: str  # why there are none, or where they were found


_LIBCUDA_NAMES = ("libcuda.so.1", "libcuda.so", "nvcuda.dll", "libcuda.dylib")


@lru_cache(maxsize=1)
def probe_nvidia_gpus() -> GpuProbe:
    if os.environ.get("VOXLITE_DISABLE_GPU"):
        return GpuProbe((), None, "GPU use disabled by VOXLITE_DISABLE_GPU")
    lib = None
    for name in _LIBCUDA_NAMES + ((ctypes.util.find_library("cuda") or ""),):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        return GpuProbe((), None, "no NVIDIA driver (libcuda) found")
    if lib.cuInit(0) != 0:
        return GpuProbe((), None, "NVIDIA driver present but cuInit failed (no usable GPU)")
    version = ctypes.c_int(0)
    lib.cuDriverGetVersion(ctypes.byref(version))
    count = ctypes.c_int(0)
    if lib.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return GpuProbe((), version.value, "NVIDIA driver present but no GPU visible")
    gpus = []
    for i in range(count.value):
        dev = ctypes.c_int(0)
        if lib.cuDeviceGet(ctypes.byref(dev), i) != 0:
            continue
        buf = ctypes.create_string_buffer(256)
        lib.cuDeviceGetName(buf, 256, dev)
        major, minor = ctypes.c_int(0), ctypes.c_int(0)
        lib.cuDeviceGetAttribute(ctypes.byref(major), 75, dev)  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
        lib.cuDeviceGetAttribute(ctypes.byref(minor), 76, dev)  # ..._MINOR
        mem = ctypes.c_size_t(0)
        fn = getattr(lib, "cuDeviceTotalMem_v2", None) or lib.cuDeviceTotalMem
        fn(ctypes.byref(mem), dev)
        gpus.append(Gpu(i, buf.value.decode(errors="replace"), (major.value, minor.value), mem.value))
    return GpuProbe(tuple(gpus), version.value, f"{len(gpus)} NVIDIA GPU(s) via the CUDA driver")


def cpu_description() -> dict:
    """CPU model, logical cores, and SIMD features (from the native module when built)."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"model": model, "machine": platform.machine(), "logical_cores": os.cpu_count(), "usable_cores": usable}
