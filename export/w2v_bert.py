"""Export w2v-BERT 2.0 + k-means as a ``semantic-units`` component (speech -> discrete units; Spear-TTS-style
semantic tokens: a middle layer's features, normalised per dimension, nearest k-means centroid): inside another
family's bundle (``write_w2v_bert_component``) or as a bundle of its own (``model_type: "graph"``, read by
``voxlite.pipelines.semantic_units.SemanticUnits``).

    python -m export.w2v_bert --random-init --config tiny --layer 2 --n-clusters 17 --out /tmp/tiny-w2v-units
    python -m export.w2v_bert --checkpoint ~/models/w2v-bert-2.0/ --layer 7 --normalize-features \\
        --centroids ~/models/w2v_bert_l7_km.npy --out bundles/w2v-bert-l7 --precision fp32 int8

Nothing is downloaded. ``--checkpoint``: a local transformers folder (config.json + model.safetensors, e.g. a copy of
facebook/w2v-bert-2.0; ``voxlite.convert.w2v_bert``). ``--centroids``: the k-means centres as ``.npy`` (n_clusters,
dim) or ``.npz`` (``cluster_centers_``), fitted on the features this component outputs (the same layer, and
normalised if ``--normalize-features``). Spear-TTS used Google's w2v-BERT (layer 7); facebook/w2v-bert-2.0 is Meta's
model of the same architecture family with other weights, so which of its layers suits is for the centroids' author.

Component (kind ``semantic-units``, default name ``semantic``, hparams ``model: "w2v-bert"``): graph ``w2v_bert``
``fbank`` (B, T, 160) float32 -> ``features`` (B, T, dim), the hidden state after ``layer`` conformer layers (the
later layers are not in the graph), per item normalised to zero mean and unit variance per dimension over the T frames
when ``normalize_features`` (``models.w2v_bert.normalize_frames``); tensor ``centroids``. The runtime computes the
fbank front end in NumPy (``voxlite.dsp.fbank.w2v_bert_features``, equal to transformers'
``SeamlessM4TFeatureExtractor``; why not in the graph: that module's docstring).

Each variant is verified against the PyTorch reference on the front end's features of 1 s of speech-like audio
before anything is written: fp32 within ``FP32_MAX_ABS``, fp16 / int8 within ``MIN_SNR_DB`` on ``features``.
int8: models narrower than ``BLOCKWISE_BELOW`` get block-wise scales (``to_int8_blockwise``), wider ones dynamic
per-channel int8; the depthwise convolutions stay float (grouped convs always do).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from voxlite.bundle import BundleWriter
from voxlite.dsp.fbank import W2V_BERT_FBANK, w2v_bert_features
from voxlite.hparams import SemanticUnitsHParams
from voxlite.models.w2v_bert import HOP_LENGTH, RECEPTIVE_FIELD, SAMPLE_RATE, W2VBert, W2VBertConfig, normalize_frames
from voxlite.pipelines.semantic_units import CENTROIDS, KIND, W2V_BERT_GRAPH, W2V_BERT_INPUT

from . import ExportError
from .graphs import Bounds, add_source_arguments, check_precisions, jittered, weights_provenance, write_graphs
from .hubert import check_centroids, load_centroids

FP32_MAX_ABS = 1e-4
# SNR (dB) of the quantized graphs' features against the PyTorch reference. Tiny random model (3 layers of 32, run to
# layer 2), 3 seeds x raw / normalised features, on the verify input and on 2.3 s of other audio: block-wise int8
# (the default below BLOCKWISE_BELOW) 37.6-39.4 dB; dynamic int8 at that width only 17.1-23.1 dB; fp16 61.7-63.3 dB.
# Not measured on facebook/w2v-bert-2.0 (no weights offline; its width 1024 takes dynamic int8 by default): if its
# int8 misses the bound, export it with --int8-blockwise, and check units agreement on real speech before shipping.
MIN_SNR_DB = {"fp16": {"features": 30.0}, "int8": {"features": 25.0}}
W2V_BERT_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB)
BLOCKWISE_BELOW = 256  # dim under which int8 uses per-block scales (as the other exporters' narrow models)
PRESETS = {"tiny": W2VBertConfig.tiny, "2.0": W2VBertConfig.w2v_bert_2}


class UnitsEncoder(nn.Module):
    """What graph ``w2v_bert`` runs: (B, T, 160) fbank -> (B, T, dim) features after ``layer`` layers, normalised
    per dimension over the frames if ``normalize_features``."""

    def __init__(self, model: W2VBert, layer: int, normalize_features: bool = False):
        super().__init__()
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer <= model.config.n_layers:
            raise ExportError(f"layer must be in 0..{model.config.n_layers}, got {layer!r}")
        self.model, self.layer, self.normalize_features = model.eval(), layer, bool(normalize_features)

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        h = self.model(fbank, output_layer=self.layer)
        return normalize_frames(h) if self.normalize_features else h


def verify_audio(seconds: float = 1.0, seed: int = 1234) -> np.ndarray:
    """(N,) speech-like 16 kHz audio: a few decaying harmonics of a wandering f0, amplitude-modulated, plus noise."""
    n = max(int(seconds * SAMPLE_RATE), RECEPTIVE_FIELD + 8 * HOP_LENGTH)
    g = np.random.default_rng(seed)
    t = np.arange(n) / SAMPLE_RATE
    f0 = 110 + 60 * g.random() + 25 * np.sin(2 * np.pi * 0.8 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    wav = sum(np.sin(h * phase) / h for h in range(1, 6)) * (0.5 + 0.5 * np.sin(7 * t))
    return (0.2 * wav + 0.02 * g.standard_normal(n)).astype(np.float32)


def verify_fbank(seconds: float = 1.0, seed: int = 1234) -> torch.Tensor:
    """(1, T, 160): the runtime's front end on ``verify_audio`` (the graph sees realistic, normalised input)."""
    return torch.from_numpy(w2v_bert_features(verify_audio(seconds, seed)))[None]


def semantic_units_specs(model: W2VBert, layer: int, normalize_features: bool = False,
                         fbank: torch.Tensor | None = None) -> dict:
    """``{"w2v_bert": (module, args, input names, output names, dynamic axes)}`` for ``write_graphs``."""
    fbank = verify_fbank() if fbank is None else fbank
    return {W2V_BERT_GRAPH: (UnitsEncoder(model, layer, normalize_features), (fbank,), [W2V_BERT_INPUT],
                             ["features"], {W2V_BERT_INPUT: {0: "batch", 1: "frames"},
                                            "features": {0: "batch", 1: "frames"}})}


def semantic_units_hparams(model: W2VBert, layer: int, n_clusters: int, *, normalize_features: bool = False
                           ) -> SemanticUnitsHParams:
    cfg = model.config
    if cfg.input_dim != W2V_BERT_FBANK.dim:
        raise ExportError(f"the model reads {cfg.input_dim}-wide features; the runtime's fbank front end gives "
                          f"{W2V_BERT_FBANK.dim}")
    hp = SemanticUnitsHParams(layer=layer, n_clusters=n_clusters, dim=cfg.dim, sample_rate=SAMPLE_RATE,
                              hop_length=HOP_LENGTH, receptive_field=RECEPTIVE_FIELD, normalize=False,
                              model="w2v-bert", config=cfg.to_dict(), normalize_features=bool(normalize_features))
    hp.check()
    return hp


def write_w2v_bert_component(writer: BundleWriter, model: W2VBert, centroids, tmp: str | Path, *, layer: int,
                             component: str = "semantic", precisions=("fp32",), normalize_features: bool = False,
                             int8_blockwise: bool | None = None, bounds: Bounds | None = None, log=print,
                             **graph_options) -> SemanticUnitsHParams:
    """Declare a ``semantic-units`` component (``model: "w2v-bert"``) on ``writer`` and write its graph (verified,
    every precision) and centroids. ``int8_blockwise``: per-block int8 scales (default: below ``BLOCKWISE_BELOW``);
    ``graph_options``: passed on to ``write_graphs``."""
    c = check_centroids(centroids, model.config.dim)
    hparams = semantic_units_hparams(model, layer, c.shape[0], normalize_features=normalize_features)
    if int8_blockwise is None:
        int8_blockwise = model.config.dim < BLOCKWISE_BELOW
    writer.component(component, kind=KIND, hparams=hparams.to_json())
    write_graphs(writer, semantic_units_specs(model, layer, normalize_features), tmp,
                 precisions=check_precisions(precisions), bounds=bounds or W2V_BERT_BOUNDS, component=component,
                 metadata={"family": "w2v-bert", "sample_rate": SAMPLE_RATE, "layer": layer,
                           "normalize_features": bool(normalize_features)},
                 int8_blockwise=(W2V_BERT_GRAPH,) if int8_blockwise else (), log=log, **graph_options)
    writer.add_tensor(CENTROIDS, c, component=component)
    return hparams


def export_semantic_units(model: W2VBert, centroids, out: str | Path, *, layer: int, precisions=("fp32",),
                          normalize_features: bool = False, int8_blockwise: bool | None = None,
                          name: str | None = None, provenance: dict | None = None, overwrite: bool = False,
                          log=print) -> Path:
    """A bundle holding only the component (``model_type: "graph"``)."""
    precisions = check_precisions(precisions)
    n = np.asarray(centroids).shape[0]
    with BundleWriter(out, model_type="graph", name=name or f"w2v-bert-l{layer}-km{n}", sample_rate=SAMPLE_RATE,
                      default_precision="fp32", provenance=provenance or {}, overwrite=overwrite) as writer:
        with tempfile.TemporaryDirectory() as tmp:
            write_w2v_bert_component(writer, model, centroids, tmp, layer=layer, precisions=precisions,
                                     normalize_features=normalize_features, int8_blockwise=int8_blockwise, log=log)
        return writer.finish()


def random_centroids(model: W2VBert, layer: int, n_clusters: int, seed: int, normalize_features: bool = False
                     ) -> np.ndarray:
    """Centroids for random-weight bundles: feature rows of speech-like audio, so every cluster is reachable."""
    seconds = (RECEPTIVE_FIELD + 2 * n_clusters * HOP_LENGTH) / SAMPLE_RATE
    with torch.no_grad():
        feats = UnitsEncoder(model, layer, normalize_features)(verify_fbank(seconds, seed + 1))[0]
    pick = torch.randperm(feats.shape[0], generator=torch.Generator().manual_seed(seed + 1))[:n_clusters]
    return feats[pick].numpy()


def random_model(config: W2VBertConfig, seed: int) -> W2VBert:
    """Random weights, norm gains and biases moved off their init too (a test model exercises every weight)."""
    return jittered(W2VBert, config, seed)


def load_model(checkpoint: str | None, config: str, seed: int) -> W2VBert:
    if checkpoint is None:
        return random_model(PRESETS[config](), seed)
    from voxlite.convert.w2v_bert import load_official_dir

    return load_official_dir(checkpoint)


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_source_arguments(parser, checkpoint_help="a local transformers w2v-BERT folder (e.g. facebook/w2v-bert-2.0)",
                         config_default="tiny", config_help=f"preset for --random-init: {', '.join(PRESETS)}")
    parser.add_argument("--layer", type=int, default=7, help="conformer layers to run (Spear-TTS: 7)")
    parser.add_argument("--centroids", help=".npy (n_clusters, dim) or .npz with cluster_centers_")
    parser.add_argument("--n-clusters", type=int, default=500, help="random-init only: clusters to draw")
    parser.add_argument("--normalize-features", action="store_true",
                        help="normalise the layer's features per dimension over the utterance (Spear-TTS) in the "
                             "graph; the centroids must have been fitted on features normalised so")
    parser.add_argument("--int8-blockwise", action=argparse.BooleanOptionalAction, default=None,
                        help=f"block-wise int8 scales (default: for models narrower than {BLOCKWISE_BELOW})")
    args = parser.parse_args(argv)
    weights = weights_provenance(parser, args)
    if args.config not in PRESETS:
        parser.error(f"--config must be one of {', '.join(PRESETS)}")
    model = load_model(args.checkpoint, args.config, args.seed)
    if args.centroids:
        centroids = load_centroids(args.centroids)
    elif args.random_init:
        centroids = random_centroids(model, args.layer, args.n_clusters, args.seed, args.normalize_features)
    else:
        parser.error("--centroids is required with --checkpoint")
    provenance = {"family": "w2v-bert", "weights": weights, "centroids": Path(args.centroids).name
                  if args.centroids else f"random (seed {args.seed})"}
    out = export_semantic_units(model, centroids, args.out, layer=args.layer, precisions=tuple(args.precision),
                                normalize_features=args.normalize_features, int8_blockwise=args.int8_blockwise,
                                name=args.name, provenance=provenance, overwrite=args.overwrite)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
