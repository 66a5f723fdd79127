"""Rewrite a format-version-1 bundle as version 2 (components). Graph and tensor files are kept byte for byte;
only the manifest changes.

Version 1 kept one flat list of graphs, a top-level tokenizer and one free-form hparams object per bundle. Version 2
groups them into components:

- ``graph`` bundles: one component ``model`` (kind ``graph``) with every graph and tensor.
- ``codec`` bundles: one component ``codec`` (kind ``codec``) whose hparams are the old hparams.
- ``voxcpm`` bundles: ``lm`` (kind ``voxcpm-lm``: prefill, step, locdit and the generation hparams), ``codec``
  (kind ``codec``: the AudioVAE's graphs, hparams from the old ``audio_vae``) and, with a tokenizer, ``text``
  (kind ``text``: its file and, for the English G2P, the letter-to-sound graph, which version 1 listed only as a
  tokenizer file). The old per-graph thread caps (``max_graph_threads``) become each graph's ``max_threads``.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import BundleError
from .files import resolve_inside
from .manifest import FORMAT, FORMAT_VERSION, parse_manifest
from .reader import MANIFEST, open_bundle
from ..text.frontends import FILE_ROLES as TEXT_FILE_ROLES
from .writer import onnx_io_specs

_VOXCPM_CODEC_GRAPHS = ("encoder", "decoder", "decoder_stream", "decoder_stream_init")
_VOXCPM_LM_DROPPED = ("audio_vae", "max_graph_threads", "text_front_end")  # moved elsewhere, or implied


def migrate_manifest(raw: dict, root: Path) -> dict:
    """A version 1 manifest (decoded JSON) as a version 2 one. ``root``: the bundle directory (the letter-to-sound
    graph's inputs and outputs are read from its file)."""
    if raw.get("format") != FORMAT or raw.get("format_version") != 1:
        raise BundleError(f"not a format_version 1 voxlite bundle (format {raw.get('format')!r}, version "
                          f"{raw.get('format_version')!r})")
    family = raw.get("model_type")
    graphs, tensors = dict(raw.get("graphs", {})), dict(raw.get("tensors", {}))
    hparams = dict(raw.get("hparams", {}))
    tokenizer = raw.get("tokenizer")

    def component(kind, names, component_hparams, with_tensors=False):
        return {"kind": kind, "graphs": {g: graphs[g] for g in names if g in graphs},
                "tensors": tensors if with_tensors else {}, "files": {}, "hparams": component_hparams}

    top_hparams: dict = {}
    if family == "graph":
        components = {"model": component("graph", graphs, {}, with_tensors=True)}
        top_hparams, capabilities = hparams, []
    elif family == "codec":
        components = {"codec": component("codec", graphs, hparams, with_tensors=True)}
        capabilities = ["codec"]
    elif family == "voxcpm":
        caps = hparams.get("max_graph_threads") or {}
        for name, cap in caps.items():
            if name in graphs:
                graphs[name] = {**graphs[name], "metadata": {**graphs[name].get("metadata", {}), "max_threads": cap}}
        lm_names = [g for g in graphs if g not in _VOXCPM_CODEC_GRAPHS]
        components = {
            "lm": component("voxcpm-lm", lm_names, {k: v for k, v in hparams.items() if k not in _VOXCPM_LM_DROPPED}),
            "codec": component("codec", _VOXCPM_CODEC_GRAPHS, dict(hparams.get("audio_vae", {})), with_tensors=True),
        }
        capabilities = ["text-to-speech"] + (["voice-cloning"] if hparams.get("voice_prompt", True) else [])
    else:
        raise BundleError(f"cannot migrate a version 1 {family!r} bundle: no such family had version 1 bundles")
    if tokenizer:
        kind = tokenizer.get("type")
        if kind not in TEXT_FILE_ROLES:
            raise BundleError(f"cannot migrate tokenizer type {kind!r}")
        text = {"kind": "text", "graphs": {}, "tensors": {}, "files": {TEXT_FILE_ROLES[kind]: tokenizer["file"]},
                "hparams": {"type": kind, **{k: v for k, v in tokenizer.items()
                                             if k not in ("type", "file", "letter_to_sound")}}}
        if "letter_to_sound" in tokenizer:
            path = tokenizer["letter_to_sound"]
            inputs, outputs = onnx_io_specs(resolve_inside(root, path))
            text["graphs"]["letter_to_sound"] = {
                "inputs": [s.to_json() for s in inputs], "outputs": [s.to_json() for s in outputs],
                "files": {_graph_precision(resolve_inside(root, path)): path},
                # a few dozen positions per unknown word: the CPU, one thread, whatever runs the rest
                "metadata": {"placement": "cpu", "max_threads": 1}}
        components["text"] = text
    new = {"format": FORMAT, "format_version": FORMAT_VERSION, "model_type": family, "name": raw.get("name"),
           "sample_rate": raw.get("sample_rate"), "default_precision": raw.get("default_precision"),
           "capabilities": capabilities, "components": components, "hparams": top_hparams,
           "provenance": {**raw.get("provenance", {}), "migrated_from_format_version": 1},
           "files": raw.get("files", {})}
    if new["default_precision"] is None:
        del new["default_precision"]
    parse_manifest(json.loads(json.dumps(new)))
    return new


def _graph_precision(path: Path) -> str:
    """The precision an exported graph was stamped with (``voxlite.precision`` metadata), else fp32."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next((p.value for p in model.metadata_props if p.key == "voxlite.precision"), "fp32")


def migrate_bundle(src: str | os.PathLike, dst: str | os.PathLike | None = None) -> Path:
    """Write ``src`` (a version 1 bundle directory) as a version 2 bundle at ``dst`` (atomically: a temporary
    sibling renamed into place), or rewrite its manifest in place when ``dst`` is None. Files are checked against
    their sha256 before anything is written."""
    src = Path(src)
    manifest_path = src / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{src} is not a bundle directory (no {MANIFEST})")
    try:
        raw = json.loads(manifest_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{manifest_path}: not valid JSON ({e})") from None
    new = migrate_manifest(raw, src)
    text = json.dumps(new, indent=2) + "\n"
    if dst is None:
        tmp = manifest_path.with_name(f".{MANIFEST}.tmp")
        tmp.write_text(text)
        os.replace(tmp, manifest_path)
        open_bundle(src)
        return src
    dst = Path(dst)
    if dst.exists():
        raise BundleError(f"{dst} exists; not replacing it")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}-", dir=dst.parent))
    try:
        for relpath in new["files"]:
            target = tmp / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(resolve_inside(src, relpath), target)
        (tmp / MANIFEST).write_text(text)
        open_bundle(tmp)  # every file's size and sha256, before the bundle appears
        os.replace(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dst
