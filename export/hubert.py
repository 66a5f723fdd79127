"""Export HuBERT + k-means as a ``semantic-units`` component (audio -> discrete units; UniAudio's semantic tokens):
inside another family's bundle (``write_semantic_units_component``) or as a bundle of its own (``model_type:
"graph"``, read by ``voxlite.pipelines.semantic_units.SemanticUnits``).

    python -m export.hubert --random-init --config tiny --layer 2 --n-clusters 17 --out /tmp/tiny-units
    python -m export.hubert --checkpoint ~/models/hubert_base_ls960.pt --trust-pickle --layer 9 \\
        --centroids ~/models/km500_centroids.npy --out bundles/hubert-base-l9-km500 --precision fp32 int8
    python -m export.hubert --checkpoint ~/models/hubert-base-ls960/ ...   (a transformers folder)

Nothing is downloaded. ``--checkpoint``: a transformers folder (config.json + weights) or a fairseq ``.pt``
(``voxlite.convert.hubert``; fairseq pickles its config, so ``--trust-pickle`` is needed unless the file was
re-saved with a plain-dict config). ``--centroids``: the k-means centres as a ``.npy`` (n_clusters, dim) float array,
or an ``.npz`` holding ``cluster_centers_`` (or one array). A scikit-learn k-means file (fairseq's / UniAudio's
``hubert_base_ls960_L9_km500.bin``, a joblib pickle) is converted once where scikit-learn is installed::

    python -c "import joblib, numpy; numpy.save('km500.npy', joblib.load('km.bin').cluster_centers_)"

Component (kind ``semantic-units``, default name ``semantic``): graph ``hubert`` ``audio`` (B, N) float32 16 kHz ->
``features`` (B, T, dim), the hidden state after ``layer`` layers (the later layers are not in the graph);
tensor ``centroids`` (n_clusters, dim) float32; hparams ``SemanticUnitsHParams`` (layer, sample rate, hop, receptive
field, n_clusters, dim, waveform normalisation, the model config). Each variant is verified against the PyTorch
reference on 1 s of noise-like audio before anything is written: fp32 within ``FP32_MAX_ABS``, fp16 / int8 within
``MIN_SNR_DB`` on ``features``. int8 keeps the conv feature extractor and the (grouped) positional conv in float;
the transformer's matmuls are dynamically quantized.
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
from voxlite.models.hubert import SAMPLE_RATE, Hubert, HubertConfig
from voxlite.hparams import SemanticUnitsHParams
from voxlite.pipelines.semantic_units import CENTROIDS, GRAPH, KIND

from . import ExportError
from .graphs import Bounds, add_source_arguments, check_precisions, weights_provenance, write_graphs

FP32_MAX_ABS = 1e-4
# SNR (dB) of the quantized graphs' features against fp32 on the verify input. Tiny random model (3 layers of 32,
# tests/test_semantic_units.py): fp16 ~60 dB; int8 19.7-26 dB over 3 seeds x 3 inputs, 87-96 % of 17-cluster units
# unchanged. Not measured on the published weights (none offline): check units agreement before shipping int8.
MIN_SNR_DB = {"fp16": {"features": 30.0}, "int8": {"features": 15.0}}
SEMANTIC_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB)
INT8_KEEP_FLOAT = ("feature_extractor", "pos_conv")  # node-name substrings left in float for int8
PRESETS = {"tiny": HubertConfig.tiny, "base": HubertConfig.base, "large": HubertConfig.large}


class UnitsEncoder(nn.Module):
    """What graph ``hubert`` runs: (B, N) audio -> (B, T, dim) features after ``layer`` layers."""

    def __init__(self, model: Hubert, layer: int):
        super().__init__()
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer <= model.config.n_layers:
            raise ExportError(f"layer must be in 0..{model.config.n_layers}, got {layer!r}")
        self.model, self.layer = model.eval(), layer

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.model(audio, output_layer=self.layer)


def verify_audio(config: HubertConfig, seconds: float = 1.0, seed: int = 1234) -> torch.Tensor:
    """(1, N) speech-like verify input: a few decaying harmonic tones plus noise, at least 8 frames long."""
    n = max(int(seconds * SAMPLE_RATE), config.receptive_field + 8 * config.hop_length)
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / SAMPLE_RATE
    f0 = 110 + 60 * torch.rand(1, generator=g)
    wav = sum(torch.sin(2 * torch.pi * f0 * h * t) / h for h in range(1, 6)) * (0.5 + 0.5 * torch.sin(7 * t))
    return (0.2 * wav + 0.02 * torch.randn(n, generator=g))[None].float()


def semantic_units_specs(model: Hubert, layer: int, audio: torch.Tensor | None = None) -> dict:
    """``{"hubert": (module, args, input names, output names, dynamic axes)}`` for ``write_graphs``."""
    audio = verify_audio(model.config) if audio is None else audio
    return {GRAPH: (UnitsEncoder(model, layer), (audio,), ["audio"], ["features"],
                    {"audio": {0: "batch", 1: "samples"}, "features": {0: "batch", 1: "frames"}})}


def semantic_units_hparams(model: Hubert, layer: int, n_clusters: int, *, normalize: bool = False
                           ) -> SemanticUnitsHParams:
    cfg = model.config
    hp = SemanticUnitsHParams(layer=layer, n_clusters=n_clusters, dim=cfg.dim, sample_rate=SAMPLE_RATE,
                              hop_length=cfg.hop_length, receptive_field=cfg.receptive_field, normalize=normalize,
                              config=cfg.to_dict())
    hp.check()
    return hp


def check_centroids(centroids, dim: int) -> np.ndarray:
    c = np.asarray(centroids, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] < 1 or c.shape[1] != dim:
        raise ExportError(f"centroids must be (n_clusters, {dim}), got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ExportError("centroids hold NaN or infinite values")
    return np.ascontiguousarray(c, dtype=np.float32)


def write_semantic_units_component(writer: BundleWriter, model: Hubert, centroids, tmp: str | Path, *, layer: int,
                                   component: str = "semantic", precisions=("fp32",), normalize: bool = False,
                                   bounds: Bounds | None = None, log=print, **graph_options) -> SemanticUnitsHParams:
    """Declare a ``semantic-units`` component on ``writer`` and write its graph (verified, every precision) and its
    centroids: the same component in a bundle of its own and inside another family's (UniAudio's ``semantic``)."""
    c = check_centroids(centroids, model.config.dim)
    hparams = semantic_units_hparams(model, layer, c.shape[0], normalize=normalize)
    writer.component(component, kind=KIND, hparams=hparams.to_json())
    write_graphs(writer, semantic_units_specs(model, layer), tmp, precisions=check_precisions(precisions),
                 bounds=bounds or SEMANTIC_BOUNDS, component=component,
                 metadata={"family": "hubert", "sample_rate": SAMPLE_RATE, "layer": layer},
                 int8_keep_float=graph_options.pop("int8_keep_float", INT8_KEEP_FLOAT), log=log, **graph_options)
    writer.add_tensor(CENTROIDS, c, component=component)
    return hparams


def export_semantic_units(model: Hubert, centroids, out: str | Path, *, layer: int, precisions=("fp32",),
                          normalize: bool = False, name: str | None = None, provenance: dict | None = None,
                          overwrite: bool = False, log=print) -> Path:
    """A bundle holding only the component (``model_type: "graph"``)."""
    precisions = check_precisions(precisions)
    n = np.asarray(centroids).shape[0]
    with BundleWriter(out, model_type="graph", name=name or f"hubert-l{layer}-km{n}", sample_rate=SAMPLE_RATE,
                      default_precision="fp32", provenance=provenance or {}, overwrite=overwrite) as writer:
        with tempfile.TemporaryDirectory() as tmp:
            write_semantic_units_component(writer, model, centroids, tmp, layer=layer, precisions=precisions,
                                           normalize=normalize, log=log)
        return writer.finish()


def load_centroids(path: str | Path) -> np.ndarray:
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if "cluster_centers_" in z:
                return z["cluster_centers_"]
            if len(z.files) == 1:
                return z[z.files[0]]
            raise ExportError(f"{path}: several arrays and no 'cluster_centers_' ({z.files})")
    raise ExportError(f"{path}: centroids must be a .npy or .npz file (see the module help for k-means .bin files)")


def random_centroids(model: Hubert, layer: int, n_clusters: int, seed: int) -> np.ndarray:
    """Centroids for random-weight bundles: feature rows of random audio, so every cluster is reachable."""
    g = torch.Generator().manual_seed(seed + 1)
    cfg = model.config
    n = cfg.receptive_field + (2 * n_clusters - 1) * cfg.hop_length
    with torch.no_grad():
        feats = model(0.3 * torch.randn(1, n, generator=g), output_layer=layer)[0]
    pick = torch.randperm(feats.shape[0], generator=g)[:n_clusters]
    return feats[pick].numpy()


def load_model(checkpoint: str | None, config: str, seed: int, trust_pickle: bool) -> Hubert:
    from voxlite.convert import hubert as conv

    if checkpoint is None:
        torch.manual_seed(seed)
        model = Hubert(PRESETS[config]())
        with torch.no_grad():  # random norm gains / biases too (a tiny test model should exercise every weight)
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
        return model.eval()
    path = Path(checkpoint)
    if path.is_dir():
        return conv.load_official_dir(path)
    state, cfg = conv.read_fairseq_checkpoint(path, trust_pickle=trust_pickle)
    return conv.load_fairseq(state, cfg)


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_source_arguments(parser, checkpoint_help="a transformers HuBERT folder or a fairseq .pt checkpoint",
                         config_default="base", config_help=f"preset for --random-init: {', '.join(PRESETS)}")
    parser.add_argument("--layer", type=int, default=9, help="transformer layers to run (UniAudio: 9)")
    parser.add_argument("--centroids", help=".npy (n_clusters, dim) or .npz with cluster_centers_")
    parser.add_argument("--n-clusters", type=int, default=500, help="random-init only: clusters to draw")
    parser.add_argument("--normalize", action="store_true",
                        help="normalise the waveform first (HuBERT large; base models were trained without)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="load a fairseq checkpoint's pickled config (runs its code: trusted files only)")
    args = parser.parse_args(argv)
    weights = weights_provenance(parser, args)
    if args.config not in PRESETS:
        parser.error(f"--config must be one of {', '.join(PRESETS)}")
    model = load_model(args.checkpoint, args.config, args.seed, args.trust_pickle)
    if args.centroids:
        centroids = load_centroids(args.centroids)
    elif args.random_init:
        centroids = random_centroids(model, args.layer, args.n_clusters, args.seed)
    else:
        parser.error("--centroids is required with --checkpoint")
    provenance = {"family": "hubert", "weights": weights, "centroids": Path(args.centroids).name
                  if args.centroids else f"random (seed {args.seed})"}
    out = export_semantic_units(model, centroids, args.out, layer=args.layer, precisions=tuple(args.precision),
                                normalize=args.normalize, name=args.name, provenance=provenance,
                                overwrite=args.overwrite)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
