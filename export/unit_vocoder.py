"""Export Make-A-Voice's S3 unit vocoder (``voxlite.models.unit_vocoder``) as a bundle component of kind
``unit-vocoder`` (pipeline: ``voxlite.pipelines.unit_vocoder.UnitVocoderRunner``).

Graph ``decode``: ``codes`` (1, k, T) int64 [+ ``f0`` (1, T) int64 when the vocoder takes F0] -> ``audio``
(1, 1, T * hop), T dynamic; each variant verified against the PyTorch model before it is added (fp32: max|err|
<= 1e-4; fp16: SNR >= 30 dB). int8 is not offered as such: the generator is all convolutions whose dynamic-int8
noise the waveform cannot absorb (the repo's vocoders keep their int8-sensitive convs float), and a per-call
activation scale would make every streamed window round differently from the offline decode; so the graph is
float-only and an int8 bundle runs it in fp32. The hparams carry the streaming ``window`` (the generator's
receptive field, ``UnitVocoderConfig.receptive_field``).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from voxlite.bundle import BundleWriter
from voxlite.hparams.codec import StreamWindow
from voxlite.hparams.unit_vocoder import F0_MAX, F0_MIN, UnitVocoderHParams
from voxlite.models.unit_vocoder import UnitVocoder, UnitVocoderConfig
from voxlite.pipelines.unit_vocoder import GRAPH, KIND

from . import ExportError
from .graphs import Bounds, check_precisions, write_graphs

FP32_MAX_ABS = 1e-4
MIN_SNR_DB = {"fp16": 30.0}
UNIT_VOCODER_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB)
VERIFY_FRAMES = 24


class _Decode(nn.Module):
    """The graph's signature: ``codes`` alone, or ``codes`` + ``f0``."""

    def __init__(self, model: UnitVocoder):
        super().__init__()
        self.model = model

    def forward(self, codes, f0=None):
        return self.model(codes, f0)


def random_unit_vocoder(config: UnitVocoderConfig, seed: int = 0) -> UnitVocoder:
    """Random weights (tests, benchmarks). Embeddings scaled so their sum has unit variance whatever k (the
    generator's input stays in range and its clamp to [-1, 1] does not flatten the output)."""
    torch.manual_seed(seed)
    model = UnitVocoder(config)
    n = config.n_codebooks + (1 if config.f0_bins else 0)
    with torch.no_grad():
        for table in [*model.embeddings, *([model.f0_embedding] if model.f0_embedding is not None else [])]:
            table.weight.mul_(n ** -0.5)
    return model.eval()


def unit_vocoder_specs(model: UnitVocoder, seed: int = 0) -> dict:
    """``{"decode": (module, args, input names, output names, dynamic axes)}`` on a verify input that uses
    every code range's ends (and unvoiced frames)."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, cfg.codebook_size, (1, cfg.n_codebooks, VERIFY_FRAMES), generator=g)
    codes[0, :, 0], codes[0, :, -1] = 0, cfg.codebook_size - 1
    args, names = (codes,), ["codes"]
    axes = {"codes": {2: "frames"}, "audio": {2: "samples"}}
    if cfg.f0_bins:
        f0 = torch.randint(1, cfg.f0_bins, (1, VERIFY_FRAMES), generator=g)
        f0[0, :3], f0[0, -1] = 0, cfg.f0_bins - 1
        args, names = (codes, f0), ["codes", "f0"]
        axes["f0"] = {1: "frames"}
    return {GRAPH: (_Decode(model.eval()), args, names, ["audio"], axes)}


def unit_vocoder_hparams(model: UnitVocoder, sample_rate: int, *, window: bool = True, f0_min: float = F0_MIN,
                         f0_max: float = F0_MAX) -> UnitVocoderHParams:
    cfg = model.cfg
    left, right = cfg.receptive_field()
    hp = UnitVocoderHParams(sample_rate=sample_rate, hop_length=cfg.hop_length, n_codebooks=cfg.n_codebooks,
                            codebook_size=cfg.codebook_size, f0_bins=cfg.f0_bins, f0_min=f0_min, f0_max=f0_max,
                            config=cfg.to_dict(),
                            window=StreamWindow(left, right) if window else None)
    hp.check()
    return hp


def write_unit_vocoder_component(writer: BundleWriter, name: str, model: UnitVocoder, tmp, *, sample_rate: int,
                                 precisions=("fp32",), seed: int = 0, f0_min: float = F0_MIN,
                                 f0_max: float = F0_MAX, openvino_ir: bool = False, log=print) -> UnitVocoderHParams:
    """Declare component ``name`` (kind ``unit-vocoder``) on ``writer`` and write its ``decode`` graph in every
    precision (int8: none, the fp32 graph serves; see the module doc), each verified against ``model``.
    ``seed``: the verify input's. ``sample_rate`` must be the model's (its config's ``sampling_rate``).
    ``f0_min`` / ``f0_max``: the F0 scale the model was trained on (``voxlite.dsp.f0``; default C2 .. C7)."""
    if sample_rate != model.cfg.sample_rate:
        raise ExportError(f"sample_rate {sample_rate} differs from the vocoder config's {model.cfg.sample_rate}")
    precisions = check_precisions(precisions)
    hparams = unit_vocoder_hparams(model, sample_rate, f0_min=f0_min, f0_max=f0_max)
    writer.component(name, kind=KIND, hparams=hparams.to_json())
    write_graphs(writer, unit_vocoder_specs(model, seed), Path(tmp), bounds=UNIT_VOCODER_BOUNDS,
                 precisions=precisions, float_only=(GRAPH,), openvino_ir=openvino_ir, component=name,
                 metadata={"family": "unit-vocoder", "sample_rate": sample_rate}, log=log)
    return hparams
