"""The bundle manifest (``manifest.json``): schema, validation, typed view.

A manifest is a JSON object::

    {
      "format": "voxlite.bundle",
      "format_version": 1,
      "model_type": "codec",                 # the family; the runtime dispatches on this alone
      "name": "encodec-24khz",
      "sample_rate": 24000,                  # or null for bundles that make no audio
      "default_precision": "fp32",
      "graphs": {
        "decoder": {
          "inputs":  [{"name": "codes", "dtype": "int64",   "shape": ["batch", 8, "frames"]}],
          "outputs": [{"name": "audio", "dtype": "float32", "shape": ["batch", 1, "samples"]}],
          "files": {"fp32": "graphs/decoder.fp32.onnx", "int8": "graphs/decoder.int8.onnx"},
          "metadata": {...}                  # optional, free-form (e.g. TensorRT shape profiles)
        }
      },
      "tensors": {"codebooks": {"file": "tensors/codebooks.npy", "dtype": "float32", "shape": [8, 1024, 128]}},
      "tokenizer": {"type": "hf-tokenizers", "file": "tokenizer.json"},   # optional; voxlite-g2p-en may also name
                                             # "letter_to_sound": a graph for words its lexicon lacks
      "hparams": {...},                      # family hyper-parameters, free-form JSON
      "provenance": {...},                   # who made it, from what, licence
      "files": {"graphs/decoder.fp32.onnx": {"sha256": "...", "bytes": 12345}, ...}
    }

Every file the manifest names must appear in ``files`` (with its sha256 and size), and nothing outside the
bundle may be named. ``format_version`` changes only for structural changes; readers refuse newer versions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import BundleError
from .files import check_relpath

FORMAT = "voxlite.bundle"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)

DTYPES = ("float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


TOKENIZER_FILE_KEYS = ("file", "letter_to_sound")  # tokenizer entries that name files of the bundle
# numeric types a precision name can end in ("int8", "fp32", "ov-fp16"), by bits: the order fallbacks keep to
_PRECISION_BITS = {"int4": 4, "int8": 8, "fp16": 16, "bf16": 16, "fp32": 32}


def precision_bits(precision: str | None) -> int | None:
    """Bits of a precision name's numeric type (its last ``-`` part), None when it names no known type."""
    if not isinstance(precision, str):
        return None
    return _PRECISION_BITS.get(precision.rsplit("-", 1)[-1])


@dataclass(frozen=True)
class TensorSpec:
    """Name, element type and shape of a graph input/output; a str dim is symbolic (dynamic)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class GraphSpec:
    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    files: Mapping[str, str]  # precision -> relative path
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def precisions(self) -> tuple[str, ...]:
        return tuple(self.files)


@dataclass(frozen=True)
class StoredTensor:
    name: str
    file: str
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model_type: str
    name: str
    sample_rate: int | None
    default_precision: str | None
    graphs: Mapping[str, GraphSpec]
    tensors: Mapping[str, StoredTensor]
    tokenizer: Mapping[str, Any] | None
    hparams: Mapping[str, Any]
    provenance: Mapping[str, Any]
    files: Mapping[str, FileEntry]
    raw: Mapping[str, Any]

    def referenced_files(self) -> list[str]:
        """Every path the manifest points at (graphs, tensors, tokenizer), in a stable order."""
        paths = [p for g in self.graphs.values() for p in g.files.values()]
        paths += [t.file for t in self.tensors.values()]
        if self.tokenizer:
            paths += [self.tokenizer[k] for k in TOKENIZER_FILE_KEYS if k in self.tokenizer]
        return paths


def _req(obj: Mapping, key: str, kind: type | tuple, where: str):
    if key not in obj:
        raise BundleError(f"manifest: {where} is missing {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BundleError(f"manifest: {where}.{key} must be {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def _name(value: str, where: str) -> str:
    if not _NAME.match(value):
        raise BundleError(f"manifest: {where} {value!r} must match [A-Za-z0-9_.-]+")
    return value


def _tensor_spec(obj: Any, where: str) -> TensorSpec:
    if not isinstance(obj, dict):
        raise BundleError(f"manifest: {where} must be an object")
    name = _req(obj, "name", str, where)
    dtype = _req(obj, "dtype", str, where)
    if dtype not in DTYPES:
        raise BundleError(f"manifest: {where} {name!r} has unknown dtype {dtype!r} (known: {', '.join(DTYPES)})")
    shape = _req(obj, "shape", list, where)
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, (int, str)) or (isinstance(d, int) and d < 0):
            raise BundleError(f"manifest: {where} {name!r} has a bad dimension {d!r} (ints >= 0 or names)")
    return TensorSpec(name, dtype, tuple(shape))


def _graph(name: str, obj: Any) -> GraphSpec:
    where = f"graphs.{name}"
    if not isinstance(obj, dict):
        raise BundleError(f"manifest: {where} must be an object")
    inputs = tuple(_tensor_spec(x, f"{where}.inputs") for x in _req(obj, "inputs", list, where))
    outputs = tuple(_tensor_spec(x, f"{where}.outputs") for x in _req(obj, "outputs", list, where))
    if not outputs:
        raise BundleError(f"manifest: {where} declares no outputs")
    for kind, specs in (("input", inputs), ("output", outputs)):
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise BundleError(f"manifest: {where} has duplicate {kind} names {names}")
    files = _req(obj, "files", dict, where)
    if not files:
        raise BundleError(f"manifest: {where} has no graph files")
    for precision, path in files.items():
        _name(precision, f"{where}.files precision")
        if not isinstance(path, str):
            raise BundleError(f"manifest: {where}.files.{precision} must be a path string")
        check_relpath(path)
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        raise BundleError(f"manifest: {where}.metadata must be an object")
    return GraphSpec(name, inputs, outputs, dict(files), metadata)


def parse_manifest(raw: Any) -> Manifest:
    """Validate a decoded manifest.json; raise BundleError naming the first problem found."""
    if not isinstance(raw, dict):
        raise BundleError("manifest.json must hold a JSON object")
    fmt = raw.get("format")
    if fmt != FORMAT:
        raise BundleError(f"manifest: format is {fmt!r}, expected {FORMAT!r}: not a voxlite bundle")
    version = _req(raw, "format_version", int, "manifest")
    if version not in SUPPORTED_VERSIONS:
        if version > max(SUPPORTED_VERSIONS):
            raise BundleError(
                f"bundle format_version {version} is newer than this voxlite reads "
                f"({', '.join(map(str, SUPPORTED_VERSIONS))}): upgrade voxlite")
        raise BundleError(f"bundle format_version {version} is not a known version")
    model_type = _name(_req(raw, "model_type", str, "manifest"), "model_type")
    name = _req(raw, "name", str, "manifest")
    sample_rate = raw.get("sample_rate")
    if sample_rate is not None and (isinstance(sample_rate, bool) or not isinstance(sample_rate, int)
                                    or sample_rate <= 0):
        raise BundleError(f"manifest: sample_rate must be a positive integer or null, got {sample_rate!r}")

    graphs = {_name(k, "graph name"): _graph(k, v) for k, v in _req(raw, "graphs", dict, "manifest").items()}

    tensors = {}
    for tname, t in raw.get("tensors", {}).items():
        where = f"tensors.{_name(tname, 'tensor name')}"
        if not isinstance(t, dict):
            raise BundleError(f"manifest: {where} must be an object")
        dtype = _req(t, "dtype", str, where)
        if dtype not in DTYPES:
            raise BundleError(f"manifest: {where} has unknown dtype {dtype!r}")
        shape = _req(t, "shape", list, where)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise BundleError(f"manifest: {where}.shape must be non-negative integers, got {shape}")
        tensors[tname] = StoredTensor(tname, check_relpath(_req(t, "file", str, where)), dtype, tuple(shape))

    tokenizer = raw.get("tokenizer")
    if tokenizer is not None:
        if not isinstance(tokenizer, dict):
            raise BundleError("manifest: tokenizer must be an object or null")
        for key in TOKENIZER_FILE_KEYS:
            if key in tokenizer:
                if not isinstance(tokenizer[key], str):
                    raise BundleError(f"manifest: tokenizer.{key} must be a path string")
                check_relpath(tokenizer[key])

    for key in ("hparams", "provenance"):
        if not isinstance(raw.get(key, {}), dict):
            raise BundleError(f"manifest: {key} must be an object")

    files = {}
    for path, entry in _req(raw, "files", dict, "manifest").items():
        check_relpath(path)
        if path == "manifest.json":
            raise BundleError("manifest: files must not list manifest.json itself")
        where = f"files[{path!r}]"
        if not isinstance(entry, dict):
            raise BundleError(f"manifest: {where} must be an object")
        digest = _req(entry, "sha256", str, where)
        if not _HEX64.match(digest):
            raise BundleError(f"manifest: {where}.sha256 is not 64 lowercase hex digits")
        size = _req(entry, "bytes", int, where)
        if size < 0:
            raise BundleError(f"manifest: {where}.bytes is negative")
        files[path] = FileEntry(digest, size)

    default_precision = raw.get("default_precision")
    manifest = Manifest(version, model_type, name, sample_rate, default_precision, graphs, tensors,
                        tokenizer, raw.get("hparams", {}), raw.get("provenance", {}), files, raw)
    for path in manifest.referenced_files():
        if path not in files:
            raise BundleError(f"manifest names {path!r} but does not list it (with its sha256) under files")
    if default_precision is not None:
        if not isinstance(default_precision, str):
            raise BundleError("manifest: default_precision must be a string")
        missing = [g.name for g in graphs.values() if default_precision not in g.files]
        if missing:
            raise BundleError(f"manifest: default_precision {default_precision!r} is missing for graphs {missing}")
    return manifest
