"""What a graph takes and gives: element types, tensor specs, ONNX type strings.

Shared by the bundle format (which declares a graph's inputs and outputs) and the backends (which check a loaded
graph against that declaration), so that neither imports the other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

DTYPES = ("float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")

# ONNX type strings as ONNX Runtime reports them -> dtype names
ONNX_TYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(bfloat16)": "bfloat16",
    "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int16)": "int16", "tensor(int8)": "int8",
    "tensor(uint8)": "uint8", "tensor(bool)": "bool",
}


@dataclass(frozen=True)
class TensorSpec:
    """Name, element type and shape of a graph input/output; a str dim is symbolic (dynamic)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class GraphIO:
    """A graph's declared inputs and outputs, name and metadata: what a backend checks a loaded graph against
    (the bundle's ``GraphSpec`` adds the files)."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    name: str = ""  # qualified in bundles: "component/graph"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def short_name(self) -> str:
        """The graph's own name (what export stamps into the graph), without its component."""
        return self.name.rpartition("/")[2]


def ort_tensor_spec(arg, *, name_dims: bool = False) -> TensorSpec | None:
    """An ONNX Runtime ``NodeArg`` as a TensorSpec (None for a type voxlite does not carry). ``name_dims``: give
    unnamed dynamic dimensions a name of their own (``<input>_dim<i>``) instead of ``"None"``."""
    dtype = ONNX_TYPES.get(arg.type)
    if dtype is None:
        return None
    shape = tuple(d if isinstance(d, int) else ((d or f"{arg.name}_dim{i}") if name_dims else str(d))
                  for i, d in enumerate(arg.shape))
    return TensorSpec(arg.name, dtype, shape)
