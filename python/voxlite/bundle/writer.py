"""Writing bundles (used by the exporters in ``export`` and by tests). Nothing here needs torch.

The bundle is assembled in a temporary sibling directory and renamed into place by :meth:`finish`, so a
failed export leaves nothing half-written at the destination.
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .._atomic import atomic_output
from .._version import __version__
from ..errors import BundleError
from .files import check_relpath, sha256_file
from ..graphio import TensorSpec, ort_tensor_spec
from .manifest import FORMAT, FORMAT_VERSION, parse_manifest
from .reader import MANIFEST

DEFAULT_COMPONENT = "model"  # where graphs and tensors go when no component is named (kind "graph")


def onnx_io_specs(path: str | os.PathLike) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """Read a graph's inputs and outputs (names, dtypes, shapes with symbolic dims) with ONNX Runtime."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def spec(arg) -> TensorSpec:
        result = ort_tensor_spec(arg, name_dims=True)
        if result is None:
            raise BundleError(f"{path}: {arg.name} has unsupported type {arg.type}")
        return result

    return [spec(a) for a in sess.get_inputs()], [spec(a) for a in sess.get_outputs()]


def _has_external_data(path) -> bool:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


class BundleWriter:
    """Assemble a bundle directory.

    >>> w = BundleWriter("out/my-codec", model_type="codec", name="my-codec", sample_rate=24000,
    ...                  capabilities=["codec"])
    >>> w.component("codec", kind="codec", hparams=codec_hparams.to_json())
    >>> w.add_graph("decoder", "fp32", "decoder.onnx", component="codec")
    >>> w.add_tensor("codebooks", codebooks, component="codec")
    >>> w.finish()

    Graphs and tensors added without a component go to ``"model"`` (kind ``"graph"``), declared on first use.
    """

    def __init__(self, out_dir: str | os.PathLike, *, model_type: str, name: str, sample_rate: int | None,
                 hparams: Mapping[str, Any] | None = None, provenance: Mapping[str, Any] | None = None,
                 default_precision: str | None = None, overwrite: bool = False,
                 capabilities: Iterable[str] = ()):
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not overwrite:
            raise BundleError(f"{self.out_dir} exists; pass overwrite=True to replace it")
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}-", dir=self.out_dir.parent))
        self._overwrite = overwrite
        self._manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model_type": model_type,
            "name": name,
            "sample_rate": sample_rate,
            "default_precision": default_precision,
            "capabilities": list(capabilities),
            "components": {},
            "hparams": dict(hparams or {}),
            "provenance": {
                "created_by": f"voxlite {__version__}",
                "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                **dict(provenance or {}),
            },
            "files": {},
        }
        self._shared: dict[str, dict] = {}  # shared weight files: name -> {"offsets": {sha256: offset}, "size"}
        self._done = False

    # -- components ---------------------------------------------------------------------------------------
    def component(self, name: str, *, kind: str, hparams: Mapping[str, Any] | None = None) -> None:
        """Declare a component (before adding its graphs, tensors or files)."""
        if name in self._manifest["components"]:
            raise BundleError(f"bundle already has a component {name!r}")
        self._manifest["components"][name] = {"kind": kind, "graphs": {}, "tensors": {}, "files": {},
                                              "hparams": dict(hparams or {})}

    def has_component(self, name: str) -> bool:
        return name in self._manifest["components"]

    def set_hparams(self, component: str, hparams: Mapping[str, Any]) -> None:
        """Replace a declared component's hparams (an exporter that declares the component early, for files that
        must come first, learns them once its graphs are specified)."""
        self._component(component)["hparams"] = dict(hparams)

    def _component(self, name: str) -> dict:
        if name not in self._manifest["components"]:
            if name != DEFAULT_COMPONENT:
                raise BundleError(f"declare component {name!r} (writer.component(name, kind=...)) before adding "
                                  "to it")
            self.component(name, kind="graph")
        return self._manifest["components"][name]

    def add_component_file(self, component: str, role: str, source: str | os.PathLike | bytes,
                           filename: str) -> str:
        """Store a file a component reads (a lexicon, a tokenizer.json ...) as ``<component>/<filename>``."""
        entry = self._component(component)
        if role in entry["files"]:
            raise BundleError(f"component {component!r} already has a {role!r} file")
        entry["files"][role] = self.add_file(f"{component}/{filename}", source)
        return entry["files"][role]

    def copy_component(self, bundle, name: str) -> None:
        """Carry component ``name`` of another bundle (a ``Bundle`` or a path to one) into this one unchanged: its
        kind, hparams, every graph with all its precision variants (IO specs and metadata as declared), tensors and
        files. Each file keeps its bytes and its relative path, so its sha256 entry is the source's; that includes
        the OpenVINO ``.bin`` beside an ``.xml`` and the external-data files the component's ONNX graphs name (a
        shared ``graphs/weights.data`` is copied whole, since the graphs read it at fixed offsets, even the parts
        that hold other components' weights). A path this bundle already holds (or a shared-data file of this
        writer) is an error; copy before adding graphs with ``shared_data`` to get it from ``add_graph``."""
        import copy

        import onnx

        from .files import resolve_inside
        from .reader import Bundle, open_bundle

        if not isinstance(bundle, Bundle):
            bundle = open_bundle(bundle)
        source = bundle.component(name)  # the clear error for a missing component
        listed = bundle.manifest.files
        paths: list[str] = []

        def need(relpath: str, why: str) -> None:
            if relpath not in listed:
                raise BundleError(f"bundle {bundle.name!r}: {why} {relpath!r} is not listed under its files")
            if relpath not in paths:
                paths.append(relpath)

        for graph in source.graphs.values():
            for relpath in graph.files.values():
                need(relpath, f"graph {graph.name}")
                if relpath.endswith(".xml"):
                    need(relpath[:-len(".xml")] + ".bin", f"the weights of graph {graph.name}")
                elif relpath.endswith(".onnx"):
                    model = onnx.load(str(resolve_inside(bundle.root, relpath)), load_external_data=False)
                    folder = Path(relpath).parent
                    for t in model.graph.initializer:
                        if t.data_location == onnx.TensorProto.EXTERNAL:
                            location = next(e.value for e in t.external_data if e.key == "location")
                            need((folder / location).as_posix(), f"the external data of graph {graph.name}")
        paths += [p for p in [t.file for t in source.tensors.values()] + list(source.files.values())
                  if p not in paths]
        self.component(name, kind=source.kind)  # refuses a name this bundle already has
        for relpath in paths:
            self.add_file(relpath, resolve_inside(bundle.root, relpath))
            if self._manifest["files"][relpath] != {"sha256": listed[relpath].sha256, "bytes": listed[relpath].bytes}:
                raise BundleError(f"bundle {bundle.name!r}: {relpath!r} changed since it was opened")
        self._manifest["components"][name] = copy.deepcopy(dict(bundle.manifest.raw["components"][name]))

    # -- adding content -------------------------------------------------------------------------------
    def add_file(self, relpath: str, source: str | os.PathLike | bytes) -> str:
        """Copy a file (or bytes) into the bundle at ``relpath`` and record its hash."""
        check_relpath(relpath)
        if (relpath == MANIFEST or relpath in self._manifest["files"]
                or relpath in {f"graphs/{shared}.data" for shared in self._shared}):
            raise BundleError(f"bundle already has a file {relpath!r}")
        target = self._tmp / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, (bytes, bytearray)):
            target.write_bytes(source)
        else:
            shutil.copyfile(source, target)
        self._manifest["files"][relpath] = {"sha256": sha256_file(target), "bytes": target.stat().st_size}
        return relpath

    def add_graph(self, name: str, precision: str, onnx_file: str | os.PathLike | bytes, *,
                  inputs: Iterable[TensorSpec] | None = None, outputs: Iterable[TensorSpec] | None = None,
                  metadata: Mapping[str, Any] | None = None, shared_data: str | None = None,
                  component: str = DEFAULT_COMPONENT) -> None:
        """Add one precision variant of a component's graph (stored as ``graphs/<component>.<name>.<precision>``).
        IO specs are read from the graph unless given.

        ``shared_data``: store the graph's weights (initializers of 1 KiB or more) in ``graphs/<shared_data>.data``,
        one copy of each distinct tensor for every graph added with the same name: graphs that share weights (an LM's
        prefill and step graphs, all holding the same layers) then cost their size once. The file is hashed like the
        others when the bundle is finished.

        A graph whose weights live in external-data files beside it (graphs over ONNX's 2 GiB protobuf limit) is
        stored with them as ``graphs/<name>.<precision>.onnx.data`` (``.data1``, ... if it names several), the
        graph's references rewritten to match; each data file is listed (and hashed) under the manifest's files."""
        self._component(component)
        relpath = f"graphs/{component}.{name}.{precision}.onnx"
        if shared_data is not None:
            onnx_file = self._share_weights(onnx_file, shared_data)
        elif not isinstance(onnx_file, (bytes, bytearray)) and _has_external_data(onnx_file):
            onnx_file = self._add_external_data(onnx_file, relpath)
        relpath = self.add_file(relpath, onnx_file)
        self._register_graph(component, name, precision, relpath, inputs, outputs, metadata)

    def _share_weights(self, onnx_file, shared: str) -> bytes:
        import hashlib

        import onnx

        check_relpath(f"graphs/{shared}.data")
        if f"graphs/{shared}.data" in self._manifest["files"]:
            raise BundleError(f"bundle already has a file graphs/{shared}.data")
        if isinstance(onnx_file, (bytes, bytearray)):
            model = onnx.load_model_from_string(bytes(onnx_file))
        else:
            model = onnx.load(str(onnx_file))  # external data loaded
        store = self._shared.setdefault(shared, {"offsets": {}, "size": 0})
        target = self._tmp / "graphs" / f"{shared}.data"
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab") as f:
            for t in model.graph.initializer:
                if t.data_location == onnx.TensorProto.EXTERNAL or not t.raw_data or len(t.raw_data) < 1024:
                    continue
                raw = t.raw_data
                digest = hashlib.sha256(raw).hexdigest()
                if digest not in store["offsets"]:
                    pad = (-store["size"]) % 4096  # page-aligned: lets a runtime map tensors in place
                    f.write(b"\0" * pad)
                    store["offsets"][digest] = store["size"] + pad
                    f.write(raw)
                    store["size"] += pad + len(raw)
                t.ClearField("raw_data")
                t.data_location = onnx.TensorProto.EXTERNAL
                del t.external_data[:]
                for key, value in (("location", f"{shared}.data"), ("offset", store["offsets"][digest]),
                                   ("length", len(raw))):
                    entry = t.external_data.add()
                    entry.key, entry.value = key, str(value)
        return model.SerializeToString()

    def _add_external_data(self, onnx_file, relpath: str) -> bytes:
        import onnx

        src = Path(onnx_file)
        model = onnx.load(str(src), load_external_data=False)
        renamed: dict[str, str] = {}
        for t in model.graph.initializer:
            if t.data_location != onnx.TensorProto.EXTERNAL:
                continue
            entry = next(e for e in t.external_data if e.key == "location")
            if entry.value not in renamed:
                target = f"{relpath}.data" + (str(len(renamed)) if renamed else "")
                data_src = (src.parent / entry.value).resolve()
                if src.parent.resolve() not in data_src.parents:
                    raise BundleError(f"{src}: external data {entry.value!r} is outside the graph's directory")
                self.add_file(target, data_src)
                renamed[entry.value] = target
            entry.value = Path(renamed[entry.value]).name
        return model.SerializeToString()

    def add_openvino_ir(self, name: str, precision: str, xml_file: str | os.PathLike, *,
                        component: str = DEFAULT_COMPONENT) -> None:
        """Add an OpenVINO IR variant (``.xml`` + its ``.bin``) of a graph already added as ONNX; it runs only on
        the openvino backend and must have the ONNX variants' inputs and outputs."""
        graphs = self._component(component)["graphs"]
        if name not in graphs:
            raise BundleError(f"add the ONNX variant of graph {component}/{name} before its OpenVINO IR")
        xml_file = Path(xml_file)
        relpath = self.add_file(f"graphs/{component}.{name}.{precision}.xml", xml_file)
        self.add_file(f"graphs/{component}.{name}.{precision}.bin", xml_file.with_suffix(".bin"))
        entry = graphs[name]
        inputs = [TensorSpec(x["name"], x["dtype"], tuple(x["shape"])) for x in entry["inputs"]]
        outputs = [TensorSpec(x["name"], x["dtype"], tuple(x["shape"])) for x in entry["outputs"]]
        self._register_graph(component, name, precision, relpath, inputs, outputs, None)

    def _register_graph(self, component, name, precision, relpath, inputs, outputs, metadata) -> None:
        if inputs is None or outputs is None:
            read_in, read_out = onnx_io_specs(self._tmp / relpath)
            inputs = read_in if inputs is None else inputs
            outputs = read_out if outputs is None else outputs
        entry = self._component(component)["graphs"].setdefault(name, {
            "inputs": [s.to_json() for s in inputs],
            "outputs": [s.to_json() for s in outputs],
            "files": {},
            "metadata": dict(metadata or {}),
        })
        names_now = ([s.name for s in inputs], [s.name for s in outputs])
        names_before = ([s["name"] for s in entry["inputs"]], [s["name"] for s in entry["outputs"]])
        if names_now != names_before:
            raise BundleError(f"graph {component}/{name}: the {precision} variant's IO names {names_now} differ from "
                              f"the other variants' {names_before}")
        if precision in entry["files"]:
            raise BundleError(f"graph {component}/{name} already has a {precision} variant")
        entry["files"][precision] = relpath

    def add_tensor(self, name: str, array: np.ndarray, *, component: str = DEFAULT_COMPONENT) -> None:
        tensors = self._component(component)["tensors"]
        array = np.ascontiguousarray(array)
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)
        relpath = self.add_file(f"tensors/{component}.{name}.npy", buf.getvalue())
        tensors[name] = {"file": relpath, "dtype": str(array.dtype), "shape": list(array.shape)}

    # -- finishing ------------------------------------------------------------------------------------
    def finish(self) -> Path:
        """Validate the manifest, write it, and move the bundle into place atomically."""
        if self._done:
            raise BundleError("bundle already finished")
        try:
            for shared in self._shared:
                relpath = f"graphs/{shared}.data"
                target = self._tmp / relpath
                self._manifest["files"][relpath] = {"sha256": sha256_file(target), "bytes": target.stat().st_size}
            manifest = {k: v for k, v in self._manifest.items() if v is not None or k == "sample_rate"}
            parse_manifest(json.loads(json.dumps(manifest)))  # the reader's rules, before anything is final
            (self._tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
            if self.out_dir.exists():
                if not self._overwrite:
                    raise BundleError(f"{self.out_dir} appeared while writing; not replacing it")
                old = self.out_dir.with_name(f".{self.out_dir.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(self.out_dir, old)
                os.replace(self._tmp, self.out_dir)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(self._tmp, self.out_dir)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self.out_dir

    def abort(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._done = True

    def __enter__(self) -> "BundleWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._done:
            self.finish()


def pack_archive(bundle_dir: str | os.PathLike, archive: str | os.PathLike) -> Path:
    """Write a bundle directory as a single-file archive (zip; graphs stored, other files deflated)."""
    from .reader import open_bundle

    bundle = open_bundle(bundle_dir)  # only a valid bundle is packed
    archive = Path(archive)
    with atomic_output(archive) as tmp_name:
        with zipfile.ZipFile(tmp_name, "w") as zf:
            zf.write(bundle.root / MANIFEST, MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
            for relpath in bundle.manifest.files:
                # ONNX/npy barely compress and storing them keeps extraction cheap
                method = zipfile.ZIP_STORED if relpath.endswith((".onnx", ".npy", ".bin", ".data")) else zipfile.ZIP_DEFLATED
                zf.write(bundle.root / relpath, relpath, compress_type=method)
    return archive
