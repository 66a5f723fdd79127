"""Export HuBERT (or wav2vec 2.0 / XLSR-53, the same encoder) + k-means as a ``semantic-units`` component (audio ->
discrete units; UniAudio's semantic tokens): inside another family's bundle (``write_semantic_units_component``) or
as a bundle of its own (``model_type: "graph"``, read by ``voxlite.pipelines.semantic_units.SemanticUnits``).

    python -m export.hubert --random-init --config tiny --layer 2 --n-clusters 17 --out /tmp/tiny-units
    python -m export.hubert --checkpoint ~/models/hubert_base_ls960.pt --trust-pickle --layer 9 \\
        --centroids ~/models/km500_centroids.npy --out bundles/hubert-base-l9-km500 --precision fp32 int8
    python -m export.hubert --checkpoint ~/models/hubert-base-ls960/ ...   (a transformers folder)
    python -m export.hubert --checkpoint ~/models/wav2vec2-large-xlsr-53/ --layer K --centroids km.npy ...

Nothing is downloaded. ``--checkpoint``: a transformers folder (config.json + weights) or a fairseq HuBERT ``.pt``
(``voxlite.convert.hubert``; fairseq pickles its config, so ``--trust-pickle`` is needed unless the file was
re-saved with a plain-dict config). A transformers folder's ``model_type`` (config.json) picks the converter:
``hubert`` (or none) -> ``voxlite.convert.hubert``, ``wav2vec2`` -> ``voxlite.convert.wav2vec2`` (the component's
hparams say which: ``model``). The component's waveform normalisation, unless ``--normalize`` / ``--no-normalize``
says otherwise: for wav2vec 2.0, the folder's ``preprocessor_config.json`` ``do_normalize`` (off without it); for
HuBERT, what fairseq trained with: on for the layer-norm (large) models, off for base (transformers' base folders
set ``do_normalize`` anyway, so it is not read). ``--centroids``: the k-means centres as a ``.npy`` (n_clusters, dim) float array, or an ``.npz`` holding
``cluster_centers_`` (or one array). A scikit-learn k-means file (fairseq's / UniAudio's
``hubert_base_ls960_L9_km500.bin``, a joblib pickle) is converted once where scikit-learn is installed::

    python -c "import joblib, numpy; numpy.save('km500.npy', joblib.load('km.bin').cluster_centers_)"

Component (kind ``semantic-units``, default name ``semantic``): graph ``hubert`` ``audio`` (B, N) float32 16 kHz ->
``features`` (B, T, dim), the hidden state after ``layer`` layers (the later layers are not in the graph);
tensor ``centroids`` (n_clusters, dim) float32; hparams ``SemanticUnitsHParams`` (layer, sample rate, hop, receptive
field, n_clusters, dim, waveform normalisation, the encoder's family, the model config). Centroids fitted on your own
audio: ``recipes/semantic_units/fit_kmeans.py``. Each variant is verified against the PyTorch reference on 1 s of
noise-like audio before anything is written: fp32 within ``FP32_MAX_ABS``, fp16 / int8 within ``MIN_SNR_DB`` on
``features``. int8 keeps the conv feature extractor and the (grouped) positional conv in float;
the transformer's matmuls are dynamically quantized.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from voxlite.bundle import BundleWriter
from voxlite.models.hubert import SAMPLE_RATE, Hubert, HubertConfig
from voxlite.hparams import SemanticUnitsHParams
from voxlite.pipelines.semantic_units import CENTROIDS, GRAPH, KIND

from . import ExportError
from .graphs import Bounds, add_source_arguments, check_precisions, jittered, weights_provenance, write_graphs

FP32_MAX_ABS = 1e-4
# SNR (dB) of the quantized graphs' features against fp32 on the verify input. Tiny random model (3 layers of 32,
# tests/test_semantic_units.py): fp16 ~60 dB; int8 19.7-26 dB over 3 seeds x 3 inputs, 87-96 % of 17-cluster units
# unchanged. Not measured on the published weights (none offline): check units agreement before shipping int8.
MIN_SNR_DB = {"fp16": {"features": 30.0}, "int8": {"features": 15.0}}
SEMANTIC_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB)
INT8_KEEP_FLOAT = ("feature_extractor", "pos_conv")  # node-name substrings left in float for int8
PRESETS = {"tiny": HubertConfig.tiny, "base": HubertConfig.base, "large": HubertConfig.large}
FAMILIES = ("hubert", "wav2vec2")  # SemanticUnitsHParams.model: where the weights come from (same graph)


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


def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ExportError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    return family


def semantic_units_hparams(model: Hubert, layer: int, n_clusters: int, *, normalize: bool = False,
                           family: str = "hubert") -> SemanticUnitsHParams:
    cfg = model.config
    hp = SemanticUnitsHParams(layer=layer, n_clusters=n_clusters, dim=cfg.dim, sample_rate=SAMPLE_RATE,
                              hop_length=cfg.hop_length, receptive_field=cfg.receptive_field, normalize=normalize,
                              model=check_family(family), config=cfg.to_dict())
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
                                   family: str = "hubert", bounds: Bounds | None = None, log=print,
                                   **graph_options) -> SemanticUnitsHParams:
    """Declare a ``semantic-units`` component on ``writer`` and write its graph (verified, every precision) and its
    centroids: the same component in a bundle of its own and inside another family's (UniAudio's ``semantic``).
    ``family``: "hubert" or "wav2vec2" (the weights' origin, recorded in the hparams)."""
    c = check_centroids(centroids, model.config.dim)
    hparams = semantic_units_hparams(model, layer, c.shape[0], normalize=normalize, family=family)
    writer.component(component, kind=KIND, hparams=hparams.to_json())
    write_graphs(writer, semantic_units_specs(model, layer), tmp, precisions=check_precisions(precisions),
                 bounds=bounds or SEMANTIC_BOUNDS, component=component,
                 metadata={"family": family, "sample_rate": SAMPLE_RATE, "layer": layer},
                 int8_keep_float=graph_options.pop("int8_keep_float", INT8_KEEP_FLOAT), log=log, **graph_options)
    writer.add_tensor(CENTROIDS, c, component=component)
    return hparams


def export_semantic_units(model: Hubert, centroids, out: str | Path, *, layer: int, precisions=("fp32",),
                          normalize: bool = False, family: str = "hubert", name: str | None = None,
                          provenance: dict | None = None, overwrite: bool = False, log=print) -> Path:
    """A bundle holding only the component (``model_type: "graph"``)."""
    precisions = check_precisions(precisions)
    n = np.asarray(centroids).shape[0]
    with BundleWriter(out, model_type="graph", name=name or f"{check_family(family)}-l{layer}-km{n}",
                      sample_rate=SAMPLE_RATE,
                      default_precision="fp32", provenance=provenance or {}, overwrite=overwrite) as writer:
        with tempfile.TemporaryDirectory() as tmp:
            write_semantic_units_component(writer, model, centroids, tmp, layer=layer, precisions=precisions,
                                           normalize=normalize, family=family, log=log)
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


@dataclass
class Checkpoint:
    """A loaded encoder and what its files say about it: ``family`` ("hubert" | "wav2vec2"), ``normalize`` (the
    waveform normalisation it was trained with, as far as the files tell; None when they do not say)."""
    model: Hubert
    family: str
    normalize: bool | None = None


def model_type_of(directory: str | Path) -> str:
    """The family a transformers folder holds, from its config.json's ``model_type`` (none: HuBERT, as before)."""
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise ExportError(f"{directory}: no config.json (not a transformers folder)")
    model_type = json.loads(path.read_text()).get("model_type", "hubert")
    if model_type not in FAMILIES:
        raise ExportError(f"{directory}: model_type {model_type!r} is not supported (supported: "
                          f"{', '.join(FAMILIES)}; WavLM, data2vec-audio, wav2vec2-conformer differ in the encoder)")
    return model_type


def preprocessor_normalize(directory: str | Path) -> bool | None:
    """``do_normalize`` of a transformers folder's preprocessor_config.json (the feature extractor's zero-mean
    unit-variance waveform normalisation), or None when the file or the key is absent."""
    path = Path(directory) / "preprocessor_config.json"
    if not path.is_file():
        return None
    value = json.loads(path.read_text()).get("do_normalize")
    if value is not None and not isinstance(value, bool):
        raise ExportError(f"{path}: do_normalize must be true or false, got {value!r}")
    return value


def load_checkpoint(checkpoint: str | Path, trust_pickle: bool = False) -> Checkpoint:
    """A transformers folder (HuBERT or wav2vec 2.0, by config.json's ``model_type``) or a fairseq HuBERT ``.pt``."""
    from voxlite.convert import hubert, wav2vec2

    path = Path(checkpoint)
    try:
        if path.is_dir():
            family = model_type_of(path)
            if family == "wav2vec2":
                return Checkpoint(wav2vec2.load_official_dir(path), family, preprocessor_normalize(path))
            # HuBERT: what fairseq trained with (normalised waveforms for the layer-norm large models, raw for base),
            # not the folder's feature-extractor flag, which transformers sets for base models too
            model = hubert.load_official_dir(path)
            return Checkpoint(model, family, model.config.feat_extract_norm == "layer")
        state, cfg = hubert.read_fairseq_checkpoint(path, trust_pickle=trust_pickle)
        if cfg.get("_name", "hubert") != "hubert":
            raise ExportError(f"{path}: a fairseq {cfg['_name']!r} checkpoint; of fairseq's, only HuBERT is read "
                              "here (give wav2vec 2.0 as a transformers folder)")
        model = hubert.load_fairseq(state, cfg)
        return Checkpoint(model, "hubert", model.config.feat_extract_norm == "layer")
    except ValueError as e:
        raise ExportError(f"{path}: {e}") from None


def normalize_of(flag: bool | None, loaded: Checkpoint) -> bool:
    """The component's waveform normalisation: ``flag`` (--normalize / --no-normalize) when given, else the
    checkpoint's ``do_normalize``, else off. A flag that overrides the checkpoint is noted on stderr."""
    if flag is None:
        return bool(loaded.normalize)
    if loaded.normalize is not None and flag != loaded.normalize:
        print(f"note: --{'' if flag else 'no-'}normalize overrides the checkpoint's do_normalize="
              f"{str(loaded.normalize).lower()}", file=sys.stderr)
    return flag


def random_model(config: HubertConfig, seed: int) -> Hubert:
    """Random weights, norm gains and biases included (a tiny test model should exercise every weight)."""
    return jittered(Hubert, config, seed)


def load_model(checkpoint: str | None, config: str, seed: int, trust_pickle: bool) -> Hubert:
    if checkpoint is None:
        return random_model(PRESETS[config](), seed)
    return load_checkpoint(checkpoint, trust_pickle).model


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_source_arguments(parser, checkpoint_help="a transformers HuBERT or wav2vec 2.0 folder, or a fairseq HuBERT .pt",
                         config_default="base", config_help=f"preset for --random-init: {', '.join(PRESETS)}")
    parser.add_argument("--layer", type=int, default=9, help="transformer layers to run (UniAudio: 9)")
    parser.add_argument("--centroids", help=".npy (n_clusters, dim) or .npz with cluster_centers_")
    parser.add_argument("--n-clusters", type=int, default=500, help="random-init only: clusters to draw")
    parser.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                        help="normalise the waveform first (HuBERT large, XLSR-53; base models were trained "
                             "without). Default: wav2vec 2.0: the folder's preprocessor_config.json do_normalize, "
                             "else off; HuBERT: on for layer-norm (large) models, off for base")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="load a fairseq checkpoint's pickled config (runs its code: trusted files only)")
    args = parser.parse_args(argv)
    weights = weights_provenance(parser, args)
    if args.config not in PRESETS:
        parser.error(f"--config must be one of {', '.join(PRESETS)}")
    if args.checkpoint and not args.centroids:
        parser.error("--centroids is required with --checkpoint")
    if args.checkpoint:
        loaded = load_checkpoint(args.checkpoint, args.trust_pickle)
    else:
        loaded = Checkpoint(load_model(None, args.config, args.seed, False), "hubert")
    model, family = loaded.model, loaded.family
    normalize = normalize_of(args.normalize, loaded)
    if args.centroids:
        centroids = load_centroids(args.centroids)
    else:
        centroids = random_centroids(model, args.layer, args.n_clusters, args.seed)
    provenance = {"family": family, "weights": weights, "centroids": Path(args.centroids).name
                  if args.centroids else f"random (seed {args.seed})"}
    out = export_semantic_units(model, centroids, args.out, layer=args.layer, precisions=tuple(args.precision),
                                normalize=normalize, family=family, name=args.name, provenance=provenance,
                                overwrite=args.overwrite)
    print(f"{family}, layer {args.layer}, {np.asarray(centroids).shape[0]} clusters, waveform normalisation "
          f"{'on' if normalize else 'off'}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
