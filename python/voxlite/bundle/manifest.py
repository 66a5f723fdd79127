"""The bundle manifest (``manifest.json``): schema, validation, typed view.

A manifest is a JSON object (format version 2)::

    {
      "format": "voxlite.bundle",
      "format_version": 2,
      "model_type": "voxcpm",                # the family: which pipeline assembles the components
      "name": "voxcpm-0.5b",
      "sample_rate": 24000,                  # or null for bundles that make no audio
      "default_precision": "fp32",
      "capabilities": ["text-to-speech", "voice-cloning"],   # what the model can be asked to do
      "components": {
        "lm": {
          "kind": "voxcpm-lm",               # what the component is; its hparams are typed by kind
          "graphs": {
            "step": {
              "inputs":  [{"name": "patch", "dtype": "float32", "shape": ["batch", 2, 64]}, ...],
              "outputs": [...],
              "files": {"fp32": "graphs/lm.step.fp32.onnx", "int8": "graphs/lm.step.int8.onnx"},
              "metadata": {...}              # optional (e.g. "max_threads", "placement": "cpu")
            }
          },
          "tensors": {"codebooks": {"file": "tensors/codec.codebooks.npy", "dtype": "float32", "shape": [8, 1024, 128]}},
          "files": {"lexicon": "text/lexicon.json"},   # other files the component reads, by role
          "hparams": {...}                   # the kind's typed hyper-parameters
        },
        "codec": {"kind": "codec", ...},
        "text": {"kind": "text", ...}
      },
      "hparams": {...},                      # the family's own (typed by model_type)
      "provenance": {...},                   # who made it, from what, licence
      "files": {"graphs/lm.step.fp32.onnx": {"sha256": "...", "bytes": 12345}, ...}
    }

A graph is named ``component/graph``, or by its bare name where only one component has a graph of that name.
Every file the manifest names must appear in ``files`` (with its sha256 and size), and nothing outside the
bundle may be named. ``format_version`` changes only for structural changes; readers refuse other versions
(``voxlite bundle migrate`` rewrites a version 1 bundle).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import BundleError
from ..graphio import DTYPES, GraphIO, TensorSpec
from .files import check_relpath

FORMAT = "voxlite.bundle"
FORMAT_VERSION = 2
SUPPORTED_VERSIONS = (2,)
MIGRATABLE_VERSIONS = (1,)  # `voxlite bundle migrate` rewrites these

# What a model can be asked to do (see voxlite.capabilities); a manifest declares a subset.
CAPABILITIES = ("text-to-speech", "voice-cloning", "codec", "text-to-audio", "speech-to-speech", "multi-speaker",
                "singing")

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")

# numeric types a precision name can end in ("int8", "fp32", "ov-fp16"), by bits: the order fallbacks keep to
_PRECISION_BITS = {"int4": 4, "int8": 8, "fp16": 16, "bf16": 16, "fp32": 32}


def precision_bits(precision: str | None) -> int | None:
    """Bits of a precision name's numeric type (its last ``-`` part), None when it names no known type."""
    if not isinstance(precision, str):
        return None
    return _PRECISION_BITS.get(precision.rsplit("-", 1)[-1])


@dataclass(frozen=True)
class GraphSpec(GraphIO):
    """One graph of a component: its IO (``GraphIO``), files per precision, metadata."""

    files: Mapping[str, str] = field(default_factory=dict)  # precision -> relative path

    @property
    def precisions(self) -> tuple[str, ...]:
        return tuple(self.files)

    @property
    def component(self) -> str:
        return self.name.partition("/")[0]


@dataclass(frozen=True)
class StoredTensor:
    name: str
    file: str
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Component:
    """A named part of a model (an LM, a codec, a text front end, ...): graphs, tensors, files, typed hparams."""

    name: str
    kind: str
    graphs: Mapping[str, GraphSpec]
    tensors: Mapping[str, StoredTensor]
    files: Mapping[str, str]  # role -> relative path
    hparams: Mapping[str, Any]


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
    capabilities: tuple[str, ...]
    components: Mapping[str, Component]
    hparams: Mapping[str, Any]
    provenance: Mapping[str, Any]
    files: Mapping[str, FileEntry]
    raw: Mapping[str, Any]

    @property
    def graphs(self) -> dict[str, GraphSpec]:
        """Every graph of every component, by qualified name (``component/graph``)."""
        return {g.name: g for c in self.components.values() for g in c.graphs.values()}

    def graph(self, name: str) -> GraphSpec:
        """A graph by qualified name, or by bare name when one component alone has it."""
        component, slash, short = name.partition("/")
        if slash:
            c = self.components.get(component)
            if c is not None and short in c.graphs:
                return c.graphs[short]
        else:
            found = [c.graphs[name] for c in self.components.values() if name in c.graphs]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise BundleError(f"bundle {self.name!r} has several graphs named {name!r}: "
                                  f"{', '.join(g.name for g in found)}; name one of them")
        raise BundleError(f"bundle {self.name!r} has no graph {name!r} "
                          f"(it has: {', '.join(self.graphs) or 'none'})")

    def component(self, name: str) -> Component:
        try:
            return self.components[name]
        except KeyError:
            raise BundleError(f"bundle {self.name!r} has no component {name!r} "
                              f"(it has: {', '.join(self.components) or 'none'})") from None

    def components_of_kind(self, kind: str) -> list[Component]:
        return [c for c in self.components.values() if c.kind == kind]

    def referenced_files(self) -> list[str]:
        """Every path the manifest points at (graphs, tensors, component files), in a stable order."""
        paths = []
        for c in self.components.values():
            paths += [p for g in c.graphs.values() for p in g.files.values()]
            paths += [t.file for t in c.tensors.values()]
            paths += list(c.files.values())
        return paths


def _req(obj: Mapping, key: str, kind: type | tuple, where: str):
    if key not in obj:
        raise BundleError(f"manifest: {where} is missing {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BundleError(f"manifest: {where}.{key} must be {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _opt_dict(obj: Mapping, key: str, where: str) -> dict:
    value = obj.get(key, {})
    if not isinstance(value, dict):
        raise BundleError(f"manifest: {where}.{key} must be an object")
    return value


def _kind_name(kind) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def _name(value: str, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
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


def _graph(qualified: str, obj: Any) -> GraphSpec:
    where = f"graphs.{qualified}"
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
    metadata = _opt_dict(obj, "metadata", where)
    return GraphSpec(inputs=inputs, outputs=outputs, name=qualified, files=dict(files), metadata=metadata)


def _tensors(obj: Mapping, where: str) -> dict[str, StoredTensor]:
    tensors = {}
    for tname, t in _opt_dict(obj, "tensors", where).items():
        at = f"{where}.tensors.{_name(tname, 'tensor name')}"
        if not isinstance(t, dict):
            raise BundleError(f"manifest: {at} must be an object")
        dtype = _req(t, "dtype", str, at)
        if dtype not in DTYPES:
            raise BundleError(f"manifest: {at} has unknown dtype {dtype!r}")
        shape = _req(t, "shape", list, at)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise BundleError(f"manifest: {at}.shape must be non-negative integers, got {shape}")
        tensors[tname] = StoredTensor(tname, check_relpath(_req(t, "file", str, at)), dtype, tuple(shape))
    return tensors


def _component(cname: str, obj: Any) -> Component:
    where = f"components.{_name(cname, 'component name')}"
    if not isinstance(obj, dict):
        raise BundleError(f"manifest: {where} must be an object")
    kind = _name(_req(obj, "kind", str, where), f"{where}.kind")
    graphs = {_name(g, f"{where} graph name"): _graph(f"{cname}/{g}", spec)
              for g, spec in _opt_dict(obj, "graphs", where).items()}
    files = {}
    for role, path in _opt_dict(obj, "files", where).items():
        _name(role, f"{where}.files role")
        if not isinstance(path, str):
            raise BundleError(f"manifest: {where}.files.{role} must be a path string")
        files[role] = check_relpath(path)
    return Component(cname, kind, graphs, _tensors(obj, where), files, _opt_dict(obj, "hparams", where))


def parse_manifest(raw: Any) -> Manifest:
    """Validate a decoded manifest.json; raise BundleError naming the first problem found."""
    if not isinstance(raw, dict):
        raise BundleError("manifest.json must hold a JSON object")
    fmt = raw.get("format")
    if fmt != FORMAT:
        raise BundleError(f"manifest: format is {fmt!r}, expected {FORMAT!r}: not a voxlite bundle")
    version = _req(raw, "format_version", int, "manifest")
    if version not in SUPPORTED_VERSIONS:
        if version in MIGRATABLE_VERSIONS:
            raise BundleError(f"bundle format_version {version} is older than this voxlite reads "
                              f"({', '.join(map(str, SUPPORTED_VERSIONS))}): rewrite it with "
                              "`voxlite bundle migrate OLD NEW` (or re-export it)")
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

    capabilities = raw.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        raise BundleError("manifest: capabilities must be a list of strings")
    unknown = [c for c in capabilities if c not in CAPABILITIES]
    if unknown:
        raise BundleError(f"manifest: unknown capabilities {unknown} (known: {', '.join(CAPABILITIES)})")

    components = {c: _component(c, obj) for c, obj in _req(raw, "components", dict, "manifest").items()}

    for key in ("hparams", "provenance"):
        _opt_dict(raw, key, "manifest")

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
    manifest = Manifest(version, model_type, name, sample_rate, default_precision, tuple(capabilities), components,
                        raw.get("hparams", {}), raw.get("provenance", {}), files, raw)
    for path in manifest.referenced_files():
        if path not in files:
            raise BundleError(f"manifest names {path!r} but does not list it (with its sha256) under files")
    if default_precision is not None:
        if not isinstance(default_precision, str):
            raise BundleError("manifest: default_precision must be a string")
        missing = [g.name for g in manifest.graphs.values() if default_precision not in g.files]
        if missing:
            raise BundleError(f"manifest: default_precision {default_precision!r} is missing for graphs {missing}")
    return manifest
