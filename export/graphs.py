"""The export library every family shares: ONNX export, metadata stamping, fp16 / int8 (dynamic and block-wise) /
OpenVINO IR variants, comparison, the one verify step that holds each exported variant to its family's bound table
against the PyTorch reference before a bundle is published (``Bounds``, ``verify``), and ``write_graphs``, which
does all of it for a set of graph specs and adds them to a ``BundleWriter``."""
from __future__ import annotations

import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from . import ExportError

PRECISIONS = ("fp32", "fp16", "int8")

# Graphs whose weights exceed this are written with their initializers in one external-data file beside the .onnx
# (``<file>.data``): a single ONNX protobuf cannot exceed 2 GiB. Tests lower it to exercise the path on tiny graphs.
EXTERNAL_DATA_BYTES = 2 ** 31 - 2 ** 26


def initializer_bytes(model) -> int:
    """Bytes of a loaded model's initializer data (inline or external)."""
    total = 0
    for t in model.graph.initializer:
        if t.data_location == 1:  # EXTERNAL
            total += int(next((e.value for e in t.external_data if e.key == "length"), 0) or 0)
        else:
            total += len(t.raw_data) or t.ByteSize()
    return total


def external_locations(path: str | os.PathLike) -> list[str]:
    """The external-data files a graph file names (relative to its directory), in first-use order."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    seen: list[str] = []
    for t in model.graph.initializer:
        if t.data_location == 1:
            loc = next(e.value for e in t.external_data if e.key == "location")
            if loc not in seen:
                seen.append(loc)
    return seen


def save_model(model, path: str | os.PathLike) -> Path:
    """Save a loaded model: inline below ``EXTERNAL_DATA_BYTES`` of weights, else with every initializer in one
    ``<name>.data`` file beside it."""
    import onnx

    path = Path(path)
    if initializer_bytes(model) > EXTERNAL_DATA_BYTES:
        data = path.with_name(path.name + ".data")
        if data.exists():
            data.unlink()
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data.name, size_threshold=1024)  # small constants (axes) stay inline
    else:
        onnx.save_model(model, str(path))
    return path


def export_onnx(module, args: tuple, path: str | os.PathLike, *, input_names: Sequence[str],
                output_names: Sequence[str], dynamic_axes: Mapping[str, Mapping[int, str]] | None = None,
                opset: int = 17, metadata: Mapping[str, object] | None = None) -> Path:
    """Trace ``module(*args)`` to ONNX (TorchScript exporter: stable for conv/RNN graphs), check it, and stamp
    ``voxlite.*`` metadata so facts known at export time travel with the graph."""
    import onnx

    path = Path(path)
    module = module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, str(path), input_names=list(input_names), output_names=list(output_names),
                          dynamic_axes=dict(dynamic_axes or {}), opset_version=opset, dynamo=False,
                          do_constant_folding=True)
    big = bool(external_locations(path))  # torch writes one file per tensor past 2 GiB
    if big or path.stat().st_size > EXTERNAL_DATA_BYTES:
        save_model(onnx.load(str(path)), path)  # one data file (or back inline), whatever torch chose
    onnx.checker.check_model(str(path))  # by path: works past 2 GiB
    if metadata:
        stamp_metadata(path, metadata)
    return path


def add_source_arguments(parser, *, checkpoint_help: str, config_default: str | None, config_help: str) -> None:
    """The options every model exporter takes: where the weights come from (a checkpoint, or random weights of a
    preset), precisions and the output bundle."""
    parser.add_argument("--checkpoint", help=checkpoint_help)
    parser.add_argument("--config", default=config_default, help=config_help)
    parser.add_argument("--random-init", action="store_true", help="random weights (tests / benchmarks only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=PRECISIONS)
    parser.add_argument("--out", required=True)
    parser.add_argument("--name")
    parser.add_argument("--overwrite", action="store_true")


def weights_provenance(parser, args) -> str:
    """What the weights are, for the bundle's provenance; exactly one of --checkpoint / --random-init."""
    if bool(args.checkpoint) == bool(args.random_init):
        parser.error("give exactly one of --checkpoint and --random-init")
    return f"random (seed {args.seed})" if args.random_init else Path(args.checkpoint).name


def graph_precision(path: str | os.PathLike) -> str:
    """The precision a graph was stamped with at export (``voxlite.precision`` metadata), else fp32."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next((p.value for p in model.metadata_props if p.key == "voxlite.precision"), "fp32")


def stamp_metadata(path: str | os.PathLike, metadata: Mapping[str, object]) -> None:
    """Write ``voxlite.<key>`` entries into the graph's metadata_props (replacing earlier values)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)  # external weights stay where they are
    keep = [p for p in model.metadata_props if not p.key.startswith("voxlite.") or
            p.key[len("voxlite."):] not in metadata]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"voxlite.{key}", str(value)
    onnx.save(model, str(path))


def to_fp16(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Weights and compute in float16, inputs and outputs kept float32 (callers feed the same arrays)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    return save_model(model, dst)


def _is_grouped_conv(node) -> bool:
    return node.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in node.attribute)


def to_int8(src: str | os.PathLike, dst: str | os.PathLike, *, op_types: Sequence[str] = ("MatMul", "Gemm", "Conv"),
            per_channel: bool = True, keep_float: Sequence[str] = ()) -> Path:
    """Dynamic int8 quantization (int8 weights, activations quantized per run) with ONNX Runtime's tools.

    ``keep_float``: node-name substrings left in float (layers whose error the output cannot absorb, e.g. a
    vocoder's spectral head feeding exp()). Grouped (depthwise) convolutions always stay float: ONNX Runtime runs
    a ConvInteger group by group as tiny GEMMs, slower than the float kernel, for weights too small to matter
    (Vocos-24k decoder, 368 frames, 2 threads: 130 ms with its 8 depthwise convs in int8, 92 ms without)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    big = bool(external_locations(src))
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True, save_as_external_data=big,
                          all_tensors_to_one_file=True, external_data_location="prepared.onnx.data")
        excluded = [n.name for n in onnx.load(str(prepared), load_external_data=False).graph.node
                    if any(k in n.name for k in keep_float) or _is_grouped_conv(n)]
        # dynamic quantization first rewrites each Gemm as MatMul + Add named "<gemm>_MatMul" / "<gemm>_Add",
        # and matches nodes_to_exclude against the new names: without these a kept-float Gemm was quantized
        excluded += [f"{name}_MatMul" for name in excluded]
        quantize_dynamic(str(prepared), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                         op_types_to_quantize=list(op_types), nodes_to_exclude=excluded,
                         use_external_data_format=big)
    if big:  # int8 weights are ~4x smaller: inline again when they fit
        save_model(onnx.load(str(dst)), dst)
    return Path(dst)


def to_int8_blockwise(src: str | os.PathLike, dst: str | os.PathLike, *, block_size: int = 32,
                      keep_float: Sequence[str] = (), weight_only: bool = False) -> Path:
    """int8 weights in blocks of ``block_size`` input channels, each with its own scale (ONNX Runtime's
    ``MatMulNBits``, 8 bits, symmetric), and activations quantized to int8 at run time per block too
    (``accuracy_level`` 4: MLAS's int8 dot-product kernels). Only MatMul weights are quantized (Gemms stay float).
    ``weight_only``: activations stay float (``accuracy_level`` 1: the weights are dequantized in the kernel), so
    each output row depends on its own input row only, as in the float graph.

    Why next to ``to_int8``: dynamic quantization gives each activation tensor one scale, which cost the default
    voice's 256-wide acoustic model ~2 WER points on 633 held-out sentences against fp32; per-block scales
    (32 numbers each) follow the activations' outliers. Needs ONNX Runtime >= 1.22 (8-bit MatMulNBits on x86)."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    # it logs a line per node at INFO (thousands per bundle)
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    model = onnx.load(str(src))
    excluded = [n.name for n in model.graph.node if any(k in n.name for k in keep_float)]
    accuracy_level = 1 if weight_only else 4
    config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=True, accuracy_level=accuracy_level,
                                          bits=8, op_types_to_quantize=("MatMul",))
    quantizer = MatMulNBitsQuantizer(model, bits=8, block_size=block_size, is_symmetric=True,
                                     accuracy_level=accuracy_level,
                                     nodes_to_exclude=excluded, op_types_to_quantize=("MatMul",), algo_config=config)
    quantizer.process()
    out = quantizer.model.model if hasattr(quantizer.model, "model") else quantizer.model
    save_model(out, dst)
    return Path(dst)


def to_openvino_ir(src: str | os.PathLike, dst_xml: str | os.PathLike) -> Path:
    """OpenVINO IR (.xml + .bin) of an ONNX graph, weights kept as they are (no fp16 compression)."""
    import openvino as ov

    model = ov.convert_model(str(src))
    ov.save_model(model, str(dst_xml), compress_to_fp16=False)
    return Path(dst_xml)


@dataclass
class Comparison:
    max_abs: float
    snr_db: float

    def __str__(self) -> str:
        return f"max|err| {self.max_abs:.3g}, SNR {self.snr_db:.1f} dB"


def compare(reference: np.ndarray, candidate: np.ndarray) -> Comparison:
    reference = np.asarray(reference, np.float64)
    candidate = np.asarray(candidate, np.float64)
    if reference.shape != candidate.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {candidate.shape}")
    err = candidate - reference
    noise = float(np.sum(err ** 2))
    signal = float(np.sum(reference ** 2))
    snr = float("inf") if noise == 0 else 10 * np.log10(max(signal, 1e-30) / noise)
    return Comparison(float(np.max(np.abs(err))) if err.size else 0.0, snr)


class VerificationError(ExportError):
    """An exported variant is out of its family's bounds against the PyTorch reference (nothing is published)."""


@dataclass(frozen=True)
class Bounds:
    """A family's bound table: what every exported variant must meet against the fp32 PyTorch reference on the
    verify input. fp32 graphs: max|err| <= ``fp32_max_abs``. Quantized variants: SNR (dB) >= ``snr[precision]``,
    either one number for every output or ``{output: dB}``; outputs (or precisions) the table does not name are
    logged only. ``graphs``: graphs held to another family's table instead (a VoxCPM bundle's AudioVAE graphs to
    the codec bounds)."""

    fp32_max_abs: float
    snr: Mapping[str, float | Mapping[str, float]] = field(default_factory=dict)
    graphs: Mapping[str, "Bounds"] = field(default_factory=dict)

    def bound(self, graph: str, precision: str, output: str) -> tuple[str, float]:
        """``("max_abs", value)`` or ``("snr", dB)`` for one output of one variant (-inf dB: logged only)."""
        if graph in self.graphs:
            return self.graphs[graph].bound(graph, precision, output)
        if precision == "fp32":
            return "max_abs", self.fp32_max_abs
        value = self.snr.get(precision)
        if isinstance(value, Mapping):
            value = value.get(output)
        return "snr", -math.inf if value is None else float(value)


def verify(path: str | os.PathLike, feeds: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray], *,
           graph: str, precision: str, bounds: Bounds, backend: str = "cpu", label: str | None = None,
           log: Callable[[str], object] | None = print) -> dict[str, Comparison]:
    """Run an exported graph (ONNX, or OpenVINO IR on ``backend="openvino"``) on ``feeds`` and hold each output to
    ``bounds.bound(graph, precision, output)`` against ``reference``; raise ``VerificationError`` on the first
    output out of bounds. Returns every output's comparison."""
    from voxlite.backends import open_session

    label = label or graph
    # the declared names pick each OpenVINO port's name where conversion merged several (an fp16 graph's casts)
    got = open_session(path, backend=backend, names=(*feeds, *reference)).run(feeds)
    results = {}
    for name, ref in reference.items():
        c = compare(ref, got[name])
        results[name] = c
        kind, value = bounds.bound(graph, precision, name)
        ok = c.max_abs <= value if kind == "max_abs" else c.snr_db >= value
        if log is not None:
            log(f"  {label}.{precision} {name}: {c}{'' if ok else '  <-- out of bounds'}")
        if not ok:
            bound = f"max|err| <= {value}" if kind == "max_abs" else f"SNR >= {value} dB"
            raise VerificationError(f"{label}.{precision}: output {name!r} fails the bound ({bound}): {c}")
    return results


def check_precisions(precisions) -> tuple[str, ...]:
    """The requested precisions, fp32 first (every quantized variant is made from the fp32 graph)."""
    for p in precisions:
        if p not in PRECISIONS:
            raise ExportError(f"unknown precision {p!r}; choose from {PRECISIONS}")
    if "fp32" not in precisions:
        precisions = ("fp32", *precisions)
    return tuple(precisions)


def jsonable(d: dict) -> dict:
    """A config dataclass's ``asdict`` with tuples as lists (what the bundle's JSON hparams hold)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def kv_buffers(kv, length: int, g: torch.Generator, spare: int = 3) -> list[torch.Tensor]:
    """Verify inputs for a step graph on fixed KV buffers: per layer a (2, B, H, length + spare, Dh) buffer holding a
    prefill's keys / values (``kv``: flat (k_0, v_0, ...)) in its first ``length`` slots and loud noise after them,
    which the step must not read (``Attention.forward_buffer``)."""
    cache = []
    for k, v in zip(kv[0::2], kv[1::2]):
        buf = 10 * torch.randn(2, k.shape[0], k.shape[1], length + spare, k.shape[3], generator=g)
        buf[0, :, :, :length], buf[1, :, :, :length] = k, v
        cache.append(buf)
    return cache


def spread_norms_and_biases(model: nn.Module, seed: int) -> None:
    """Random-init export: norm gains start at 1 and biases at 0; spread them so a wrong graph cannot hide."""
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.3 * torch.randn(p.shape, generator=g))


def jittered(model_cls, config, seed: int, scale: float = 0.1) -> nn.Module:
    """``model_cls(config)`` with every parameter (norm gains and biases included) moved by ``scale`` noise, in eval
    mode: a random test model that exercises every weight."""
    torch.manual_seed(seed)
    model = model_cls(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model.eval()


class MethodModule(nn.Module):
    """Wrap a bound method of ``owner`` as a module (what torch.onnx.export traces)."""

    def __init__(self, owner: nn.Module, fn):
        super().__init__()
        self.owner = owner
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def write_graphs(writer, specs: dict, tmp: str | Path, *, bounds: Bounds, precisions=("fp32",),
                 metadata: dict | None = None, int8_keep_float=(), float_only=(), openvino_ir: bool = False,
                 shared_data: str | None = None, keep_fp32: bool = True, int8_blockwise=(), int8_weight_only=(),
                 component: str = "model", graph_metadata: dict | None = None, log=print) -> None:
    """Export each spec ``{graph name: (module, args, input names, output names, dynamic axes)}`` to ONNX in every
    precision, verify each variant against the module's own outputs (``verify`` with the family's ``bounds``) and
    add it to ``writer`` (a ``voxlite.bundle.BundleWriter``; ``shared_data``: see ``BundleWriter.add_graph``).
    ``keep_fp32=False``: a graph that gets a quantized variant is stored without its fp32 one (small bundles; fp32
    is still exported as the quantizer's input). ``int8_blockwise``: graphs whose int8 variant has block-wise
    weight and activation scales (``to_int8_blockwise``) instead of dynamic quantization's one scale per
    activation tensor; ``int8_weight_only``: graphs whose int8 variant has block-wise int8 weights and float
    activations (``to_int8_blockwise(weight_only=True)``). ``float_only``: graphs without an int8 variant.
    ``openvino_ir``: also an ``ov-<precision>`` OpenVINO IR of each fp32 / fp16 variant, verified like the rest.
    ``component``: the bundle component the graphs belong to (declared on the writer first); ``graph_metadata``:
    per-graph manifest metadata (e.g. ``{"step": {"max_threads": 1}}``)."""
    metadata = dict(metadata or {})
    for gname, (module, args, ins, outs, axes) in specs.items():
        fp32 = export_onnx(module, args, Path(tmp) / f"{gname}.onnx", input_names=ins, output_names=outs,
                           dynamic_axes=axes, metadata={"graph": gname, **metadata})
        with torch.no_grad():
            ref = module(*args)
        ref = (ref,) if isinstance(ref, torch.Tensor) else ref
        reference = {o: r.numpy() for o, r in zip(outs, ref)}
        feeds = {i: a.numpy() for i, a in zip(ins, args)}
        quantized = [p for p in precisions if p != "fp32" and not (p == "int8" and gname in float_only)]
        for precision in precisions:
            if precision == "int8" and gname in float_only:
                continue
            if precision == "fp32" and not keep_fp32 and quantized:
                continue
            path = fp32 if precision == "fp32" else Path(tmp) / f"{gname}.{precision}.onnx"
            if precision == "fp16":
                to_fp16(fp32, path)
            elif precision == "int8" and (gname in int8_blockwise or gname in int8_weight_only):
                to_int8_blockwise(fp32, path, keep_float=int8_keep_float, weight_only=gname in int8_weight_only)
            elif precision == "int8":
                to_int8(fp32, path, keep_float=int8_keep_float)
            if precision != "fp32":
                stamp_metadata(path, {"graph": gname, "precision": precision})
            verify(path, feeds, reference, graph=gname, precision=precision, bounds=bounds, log=log)
            graph_meta = {**{k: v for k, v in metadata.items() if k == "sample_rate"},
                          **(graph_metadata or {}).get(gname, {})}
            writer.add_graph(gname, precision, path, metadata=graph_meta, shared_data=shared_data,
                             component=component)
            if openvino_ir and precision in ("fp32", "fp16"):
                xml = to_openvino_ir(path, Path(tmp) / f"{gname}.ov-{precision}.xml")
                verify(xml, feeds, reference, graph=gname, precision=precision, bounds=bounds, backend="openvino",
                       label=f"{gname} (OpenVINO IR)", log=log)
                writer.add_openvino_ir(gname, f"ov-{precision}", xml, component=component)
