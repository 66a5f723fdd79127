"""The one small session interface every backend implements: named NumPy arrays in, named arrays out."""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..graphio import GraphIO, TensorSpec
from ..errors import BundleError, InvalidInput


@dataclass(frozen=True)
class BackendChoice:
    """Which backend runs, and why it was chosen (shown by ``voxlite info`` and in logs)."""

    name: str
    reason: str
    requested: str


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _thread_count(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{where} must be a positive integer, got {value!r}")
    cpus = usable_cpus()
    if value > cpus:
        # more compute threads than CPUs only adds hand-offs; thousands of them take minutes to start
        raise InvalidInput(f"{where} is {value}, but this machine lets voxlite use {cpus} CPU"
                           f"{'s' if cpus != 1 else ''}: ask for at most {cpus}")
    return value


def default_threads() -> int | None:
    """``VOXLITE_THREADS`` if set (a positive integer, at most the usable CPUs), else None (the backend's own
    default)."""
    value = os.environ.get("VOXLITE_THREADS")
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        raise InvalidInput(f"VOXLITE_THREADS must be a positive integer, got {value!r}") from None
    return _thread_count(n, "VOXLITE_THREADS")


def check_threads(threads: int | None) -> int | None:
    """``threads`` as given (1 .. the usable CPUs), or ``VOXLITE_THREADS``'s when None; else InvalidInput."""
    if threads is None:
        return default_threads()
    return _thread_count(threads, "threads")


class Session(ABC):
    """A loaded graph on one backend.

    ``run(feeds)`` takes a dict of NumPy arrays keyed by input name and returns a dict keyed by output name.
    ``run_into(feeds, out)`` writes outputs into caller-owned arrays (no per-step allocation where the backend
    can bind buffers). ``backend`` names what really runs (never a silent substitute).
    """

    backend: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @abstractmethod
    def run(self, feeds: Mapping[str, np.ndarray], output_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        ...

    def run_into(self, feeds: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray]) -> None:
        """Run and write the named outputs into ``out`` arrays (shapes must match the results)."""
        results = self.run(feeds, list(out))
        for name, dst in out.items():
            src = results[name]
            if dst.shape != src.shape:
                raise InvalidInput(f"output {name!r} is {src.shape}, the buffer given is {dst.shape}")
            np.copyto(dst, src)

    def check_feeds(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Clear errors for missing/unknown inputs and wrong dtypes or ranks, before the backend sees them."""
        known = {s.name: s for s in self.inputs}
        unknown = set(feeds) - set(known)
        if unknown:
            raise InvalidInput(f"unknown inputs {sorted(unknown)}; the graph takes {sorted(known)}")
        missing = set(known) - set(feeds)
        if missing:
            raise InvalidInput(f"missing inputs {sorted(missing)}")
        for name, arr in feeds.items():
            spec = known[name]
            dtype = np.asarray(arr).dtype if not hasattr(arr, "dtype") else arr.dtype
            if spec.dtype != "bfloat16" and np.dtype(dtype) != np.dtype(spec.dtype):
                raise InvalidInput(f"input {name!r} must be {spec.dtype}, got {dtype}")
            shape = getattr(arr, "shape", None)
            if shape is not None:
                if len(shape) != len(spec.shape):
                    raise InvalidInput(f"input {name!r} must have rank {len(spec.shape)} {list(spec.shape)}, "
                                       f"got shape {tuple(shape)}")
                for want, got in zip(spec.shape, shape):
                    if isinstance(want, int) and want != got:
                        raise InvalidInput(f"input {name!r} must have shape {list(spec.shape)}, got {tuple(shape)}")


def check_against_manifest(real_inputs: Sequence[TensorSpec], real_outputs: Sequence[TensorSpec],
                           spec: GraphIO, where: str) -> None:
    """A graph file must have the inputs/outputs its manifest declares (names, dtypes, ranks, static dims)."""
    for kind, real, declared in (("input", real_inputs, spec.inputs), ("output", real_outputs, spec.outputs)):
        real_by_name = {s.name: s for s in real}
        declared_names = [s.name for s in declared]
        if sorted(real_by_name) != sorted(declared_names):
            raise BundleError(f"{where}: graph {kind}s are {sorted(real_by_name)}, manifest says {declared_names}")
        for d in declared:
            r = real_by_name[d.name]
            if r.dtype != d.dtype:
                raise BundleError(f"{where}: {kind} {d.name!r} is {r.dtype} in the graph, {d.dtype} in the manifest")
            if len(r.shape) != len(d.shape):
                raise BundleError(f"{where}: {kind} {d.name!r} has rank {len(r.shape)} in the graph, "
                                  f"{len(d.shape)} in the manifest")
            for rd, dd in zip(r.shape, d.shape):
                if isinstance(rd, int) and isinstance(dd, int) and rd != dd:
                    raise BundleError(f"{where}: {kind} {d.name!r} is {list(r.shape)} in the graph, "
                                      f"{list(d.shape)} in the manifest")
