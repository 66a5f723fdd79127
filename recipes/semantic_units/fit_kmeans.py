"""Fit the k-means centroids of a semantic-units component on your own audio and write them into a new bundle.

    python -m recipes.semantic_units.fit_kmeans --encoder bundles/hubert-base-l9-km500 ~/corpus/wavs \\
        --n-clusters 500 --out bundles/hubert-base-l9-mine
    python -m recipes.semantic_units.fit_kmeans --checkpoint ~/models/wav2vec2-large-xlsr-53 --layer K \\
        ~/corpus/wavs list.txt --n-clusters 500 --max-frames 300000 --out bundles/xlsr53-lK-km500

The encoder is a bundle with one ``semantic-units`` component (``python -m export hubert``; its centroids are
replaced, its graph variants copied as they are) or a checkpoint (anything ``python -m export hubert --checkpoint``
reads, exported here first; needs torch). Audio: directories (searched recursively for ``AUDIO_EXTENSIONS``), audio
files, and ``.txt`` / ``.lst`` lists of paths (one a line, relative to the list's folder, ``#`` comments).

Features come from the bundle's own graph through ``voxlite.pipelines.semantic_units.SemanticUnits`` (torch-free:
resampling and waveform normalisation exactly as the runtime does them), one file at a time (a file longer than
``--chunk-seconds`` is cut into pieces for the graph, as fairseq's feature dump does); only a uniform sample of at
most ``--max-frames`` feature rows is kept (reservoir sampling, seeded), so memory is that sample whatever the
corpus' size. k-means is scikit-learn's ``MiniBatchKMeans`` with the settings of fairseq's HuBERT recipe
(``KMEANS_DEFAULTS``: the k-means behind the published ``hubert_base_ls960_L9_km500.bin``), fitted in float32; its
``predict`` is the runtime's rule (nearest centroid, squared L2, ties to the lowest index). The report (stdout, and
``--report FILE`` as JSON) gives the inertia and the cluster usage on the fitted frames. See README.md.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from voxlite.bundle import Bundle, BundleWriter, open_bundle
from voxlite.errors import InvalidInput, VoxliteError
from voxlite.pipelines.graph import one_component
from voxlite.pipelines.semantic_units import CENTROIDS, KIND, SemanticUnits, assign_units

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aif", ".aiff")
LIST_EXTENSIONS = (".txt", ".lst")
# fairseq's examples/hubert/simple_kmeans/learn_kmeans.py defaults (n_init 20, batch 10,000, no reassignment)
KMEANS_DEFAULTS = dict(init="k-means++", max_iter=100, batch_size=10000, tol=0.0, max_no_improvement=100, n_init=20,
                       reassignment_ratio=0.0)
DEFAULT_MAX_FRAMES = 500_000  # 1.5 GB of float32 features at HuBERT base's 768 (2 GB at XLSR-53's 1024)
DEFAULT_CHUNK_SECONDS = 100.0  # fairseq's feature dump: 1,600,000 samples at 16 kHz per forward


class RecipeError(VoxliteError):
    """The recipe cannot run as asked; the message says why."""


# -- inputs ------------------------------------------------------------------------------------------------------
def audio_files(inputs: Iterable[str | Path]) -> list[Path]:
    """Directories (recursive), audio files and path lists -> audio files, in order, each once; sorted within a
    directory, so the same inputs give the same order (and, with the same seed, the same sample and centroids)."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        elif path.is_file() and path.suffix.lower() in LIST_EXTENSIONS:
            for line in path.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    entry = Path(line).expanduser()
                    found.append(entry if entry.is_absolute() else path.parent / entry)
        elif path.is_file():
            found.append(path)
        else:
            raise RecipeError(f"{path}: no such file or directory")
    seen: set[Path] = set()
    unique = [p for p in found if not (p.resolve() in seen or seen.add(p.resolve()))]
    if not unique:
        raise RecipeError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in {', '.join(map(str, inputs))}")
    return unique


class FrameReservoir:
    """A uniform random sample of at most ``capacity`` rows of a stream of (n, dim) blocks (reservoir sampling,
    algorithm R, seeded): below capacity every row is kept, in order; beyond it row i of the stream replaces a kept
    row with probability capacity / (i + 1). Memory is the sample, whatever the stream's length."""

    def __init__(self, capacity: int, seed: int = 0):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity, self.seen = int(capacity), 0
        self._rng = np.random.default_rng(seed)
        self._rows: np.ndarray | None = None
        self._filled = 0

    def add(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float32)
        if rows.ndim != 2:
            raise ValueError(f"rows must be (n, dim), got shape {rows.shape}")
        if self._rows is None:
            self._rows = np.empty((self.capacity, rows.shape[1]), np.float32)
        elif rows.shape[1] != self._rows.shape[1]:
            raise ValueError(f"rows are {rows.shape[1]} wide, earlier ones {self._rows.shape[1]}")
        take = min(self.capacity - self._filled, len(rows))  # filling up: keep in order
        self._rows[self._filled:self._filled + take] = rows[:take]
        self._filled += take
        self.seen += take
        rest = rows[take:]
        if len(rest):
            index = self.seen + np.arange(len(rest))  # each row's 0-based position in the stream
            slot = np.floor(self._rng.random(len(rest)) * (index + 1)).astype(np.int64)
            hit = np.nonzero(slot < self.capacity)[0]
            if len(hit):  # the stream's order: a later row replacing the same slot wins
                slots = slot[hit][::-1]
                _, last = np.unique(slots, return_index=True)
                keep = hit[::-1][last]
                self._rows[slot[keep]] = rest[keep]
            self.seen += len(rest)

    @property
    def rows(self) -> np.ndarray:
        """(kept, dim) float32 (a view)."""
        if self._rows is None:
            return np.zeros((0, 0), np.float32)
        return self._rows[:self._filled]


@dataclass
class Extracted:
    features: np.ndarray  # (n, dim) float32: the sample k-means is fitted on
    frames_seen: int  # feature frames of all the audio read
    files: int  # files read
    audio_seconds: float  # their length, at the component's rate
    skipped: list[str] = field(default_factory=list)  # files too short for one frame


def extract_features(units: SemanticUnits, files: Sequence[str | Path], *, max_frames: int = DEFAULT_MAX_FRAMES,
                     seed: int = 0, chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
                     log: Callable[[str], None] | None = print) -> Extracted:
    """Each file through ``units`` (its graph, torch-free), one at a time; a seeded uniform sample of at most
    ``max_frames`` feature rows is kept. A file is resampled (and normalised, if the component says so) whole, then
    run in pieces of ``chunk_seconds`` (the graph's attention is quadratic in length)."""
    hp = units.hparams
    chunk = max(int(chunk_seconds * hp.sample_rate), hp.receptive_field)
    reservoir = FrameReservoir(max_frames, seed)
    skipped: list[str] = []
    seconds, start = 0.0, time.monotonic()
    for i, path in enumerate(files):
        try:
            samples = units.prepare(path)
        except InvalidInput as e:
            if "too short" not in str(e):
                raise RecipeError(f"{path}: {e}") from None
            skipped.append(str(path))
            continue
        seconds += samples.size / hp.sample_rate
        for at in range(0, samples.size, chunk):
            piece = samples[at:at + chunk]
            if piece.size >= hp.receptive_field:
                reservoir.add(units.features_of(piece))
        if log and (i + 1) % 100 == 0:
            log(f"  {i + 1}/{len(files)} files, {seconds / 3600:.2f} h, {reservoir.seen} frames "
                f"({time.monotonic() - start:.0f} s)")
    if reservoir.seen == 0:
        raise RecipeError(f"no feature frames: every file is shorter than {hp.receptive_field} samples at "
                          f"{hp.sample_rate} Hz")
    return Extracted(reservoir.rows, reservoir.seen, len(files) - len(skipped), seconds, skipped)


# -- k-means -----------------------------------------------------------------------------------------------------
def fit_kmeans(features: np.ndarray, n_clusters: int, seed: int = 0, **options):
    """scikit-learn MiniBatchKMeans on (n, dim) float32 features (``KMEANS_DEFAULTS``, overridden by ``options``);
    the fitted model (``cluster_centers_`` float32: exactly what the bundle stores)."""
    try:
        from sklearn.cluster import MiniBatchKMeans
    except ImportError:
        raise RecipeError("fitting k-means needs scikit-learn: pip install scikit-learn") from None
    features = np.ascontiguousarray(features, dtype=np.float32)
    if len(features) < n_clusters:
        raise RecipeError(f"{len(features)} feature frames cannot make {n_clusters} clusters")
    km = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, compute_labels=False,
                         **{**KMEANS_DEFAULTS, **options})
    return km.fit(features)


def cluster_report(features: np.ndarray, centroids: np.ndarray) -> dict:
    """Inertia and cluster usage of ``features`` assigned as the runtime assigns them (``assign_units``)."""
    f = np.asarray(features, np.float32)
    c = np.asarray(centroids, np.float32)
    labels = assign_units(f, c)
    d2 = ((f.astype(np.float64) - c[labels].astype(np.float64)) ** 2).sum(axis=1)
    total = ((f.astype(np.float64) - f.astype(np.float64).mean(axis=0)) ** 2).sum()
    counts = np.bincount(labels, minlength=len(c))
    p = counts[counts > 0] / counts.sum()
    entropy = float(-(p * np.log(p)).sum())
    return {"frames": int(len(f)), "n_clusters": int(len(c)), "inertia": float(d2.sum()),
            "mean_squared_distance": float(d2.mean()),
            "explained_variance": float(1.0 - d2.sum() / total) if total > 0 else 1.0,
            "used": int((counts > 0).sum()), "empty": int((counts == 0).sum()),
            "min_count": int(counts.min()), "median_count": float(np.median(counts)), "max_count": int(counts.max()),
            "usage_perplexity": math.exp(entropy), "usage_entropy_bits": entropy / math.log(2),
            "counts": counts.tolist()}


# -- the bundle --------------------------------------------------------------------------------------------------
def write_units_bundle(source: Bundle | str | Path, centroids: np.ndarray, out: str | Path, *,
                       component: str | None = None, name: str | None = None, provenance: dict | None = None,
                       overwrite: bool = False) -> Path:
    """A ``model_type: "graph"`` bundle holding ``source``'s semantic-units component with new ``centroids``: its
    graphs (whatever the encoder: HuBERT's ``hubert``, another family's own) with every variant copied unchanged
    (ONNX, with any external data, and OpenVINO IR), its hparams with the new ``n_clusters``. ``export/hubert.py``'s
    bundles have the same layout."""
    from voxlite.hparams import SemanticUnitsHParams

    bundle = source if isinstance(source, Bundle) else open_bundle(source)
    component = component or one_component(bundle, KIND)
    c = bundle.component(component)
    hp = SemanticUnitsHParams.from_json(c.hparams, f"{bundle.name}: components.{component}.hparams")
    centroids = np.ascontiguousarray(centroids, dtype=np.float32)
    if centroids.ndim != 2 or centroids.shape[1] != hp.dim or len(centroids) < 1 or not np.isfinite(centroids).all():
        raise RecipeError(f"centroids must be finite (n_clusters, {hp.dim}), got {centroids.dtype} {centroids.shape}")
    hp = hp.replace(n_clusters=len(centroids))
    hp.check()
    if not c.graphs:
        raise RecipeError(f"{bundle.name}: component {component!r} has no graph")
    name = name or f"{hp.model}-l{hp.layer}-km{len(centroids)}"
    with BundleWriter(out, model_type="graph", name=name, sample_rate=hp.sample_rate,
                      default_precision=bundle.manifest.default_precision, provenance=provenance or {},
                      overwrite=overwrite) as writer:
        writer.component(component, kind=KIND, hparams=hp.to_json())
        for gname, graph in c.graphs.items():
            ir = []
            for precision, relpath in graph.files.items():
                if relpath.endswith(".xml"):
                    ir.append((precision, relpath))
                    continue
                writer.add_graph(gname, precision, bundle.root / relpath, inputs=graph.inputs, outputs=graph.outputs,
                                 metadata=dict(graph.metadata), component=component)
            for precision, relpath in ir:  # after the ONNX variants, as BundleWriter wants
                writer.add_openvino_ir(gname, precision, bundle.root / relpath, component=component)
        writer.add_tensor(CENTROIDS, centroids, component=component)
    return Path(out)


def export_encoder(checkpoint: str | Path, layer: int, out: str | Path, *, normalize: bool | None = None,
                   precisions: Sequence[str] = ("fp32",), trust_pickle: bool = False) -> Path:
    """A checkpoint (``python -m export hubert --checkpoint``'s: a transformers HuBERT / wav2vec 2.0 folder or a
    fairseq HuBERT .pt) -> an encoder bundle at ``out`` with one placeholder centroid (needs torch)."""
    from export.hubert import export_semantic_units, load_checkpoint, normalize_of, random_centroids

    loaded = load_checkpoint(checkpoint, trust_pickle)
    return export_semantic_units(loaded.model, random_centroids(loaded.model, layer, 1, seed=0), out, layer=layer,
                                 precisions=tuple(precisions), normalize=normalize_of(normalize, loaded),
                                 family=loaded.family, provenance={"family": loaded.family,
                                                                   "weights": Path(checkpoint).name}, log=None)


@dataclass
class FitResult:
    kmeans: object  # the fitted sklearn MiniBatchKMeans
    extracted: Extracted
    report: dict
    out: Path


def fit_units(encoder: Bundle | str | Path, audio: Iterable[str | Path], out: str | Path, *, n_clusters: int,
              seed: int = 0, max_frames: int = DEFAULT_MAX_FRAMES, chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
              name: str | None = None, overwrite: bool = False, backend: str = "auto", threads: int | None = None,
              kmeans_options: dict | None = None, log: Callable[[str], None] | None = print) -> FitResult:
    """The recipe: features of ``audio`` through ``encoder``'s semantic-units graph (fp32 when it has one), k-means,
    a new bundle at ``out`` with the fitted centroids; the report."""
    bundle = encoder if isinstance(encoder, Bundle) else open_bundle(encoder)
    component = one_component(bundle, KIND)
    graphs = bundle.component(component).graphs.values()
    precision = "fp32" if graphs and all("fp32" in g.files for g in graphs) else None
    units = SemanticUnits(bundle, component=component, backend=backend, precision=precision, threads=threads)
    files = audio_files(audio)
    if log:
        log(f"{len(files)} audio files through {bundle.name} ({units.hparams.model}, layer {units.hparams.layer}, "
            f"{units.hparams.dim} wide)")
    start = time.monotonic()
    extracted = extract_features(units, files, max_frames=max_frames, seed=seed, chunk_seconds=chunk_seconds,
                                 log=log)
    if log:
        log(f"features: {extracted.frames_seen} frames of {extracted.audio_seconds / 60:.1f} min from "
            f"{extracted.files} files ({len(extracted.skipped)} too short), {len(extracted.features)} kept "
            f"({time.monotonic() - start:.1f} s)")
    start = time.monotonic()
    options = {**KMEANS_DEFAULTS, **(kmeans_options or {})}
    km = fit_kmeans(extracted.features, n_clusters, seed, **options)
    report = cluster_report(extracted.features, km.cluster_centers_)
    report.update(seed=seed, frames_seen=extracted.frames_seen, files=extracted.files,
                  files_skipped=len(extracted.skipped), audio_seconds=extracted.audio_seconds,
                  kmeans={"algorithm": "sklearn MiniBatchKMeans", **options},
                  fit_seconds=time.monotonic() - start)
    if log:
        log(summary(report))
    source = dict(bundle.manifest.provenance)
    provenance = {"family": units.hparams.model, "weights": source.get("weights", bundle.name),
                  "encoder": bundle.name,
                  "centroids": f"k-means (MiniBatchKMeans, seed {seed}): {report['frames']} frames of "
                               f"{extracted.frames_seen} from {extracted.files} files "
                               f"({extracted.audio_seconds / 3600:.2f} h)",
                  "kmeans": {k: report[k] for k in ("inertia", "mean_squared_distance", "explained_variance",
                                                    "used", "empty", "usage_perplexity")}}
    path = write_units_bundle(bundle, km.cluster_centers_, out, component=component, name=name,
                              provenance=provenance, overwrite=overwrite)
    return FitResult(km, extracted, report, path)


def summary(report: dict) -> str:
    k = report["n_clusters"]
    return (f"k-means {k}: inertia {report['inertia']:.6g} ({report['mean_squared_distance']:.4g} a frame, "
            f"{100 * report['explained_variance']:.1f} % of the variance explained); clusters used {report['used']}/"
            f"{k} (counts {report['min_count']}-{report['max_count']}, median {report['median_count']:g}), usage "
            f"perplexity {report['usage_perplexity']:.1f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recipes.semantic_units.fit_kmeans",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("audio", nargs="+", help="audio directories, files, or .txt / .lst lists of paths")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--encoder", help="a bundle with one semantic-units component (python -m export hubert)")
    source.add_argument("--checkpoint", help="a checkpoint python -m export hubert reads (exported first; torch)")
    parser.add_argument("--layer", type=int, help="with --checkpoint: transformer layers to run")
    parser.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                        help="with --checkpoint: waveform normalisation (default: python -m export hubert's rule)")
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=("fp32", "fp16", "int8"),
                        help="with --checkpoint: the graph variants of the bundle (features use fp32)")
    parser.add_argument("--trust-pickle", action="store_true", help="with --checkpoint: see python -m export hubert")
    parser.add_argument("--n-clusters", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0, help="the frame sample's and k-means' seed")
    parser.add_argument("--max-frames", type=int, default=DEFAULT_MAX_FRAMES,
                        help="fit on a uniform sample of at most this many feature frames")
    parser.add_argument("--chunk-seconds", type=float, default=DEFAULT_CHUNK_SECONDS,
                        help="longer files run through the graph in pieces this long")
    parser.add_argument("--batch-size", type=int, default=KMEANS_DEFAULTS["batch_size"])
    parser.add_argument("--n-init", type=int, default=KMEANS_DEFAULTS["n_init"])
    parser.add_argument("--max-iter", type=int, default=KMEANS_DEFAULTS["max_iter"])
    parser.add_argument("--backend", default="auto", help="the runtime backend that runs the graph (voxlite's)")
    parser.add_argument("--threads", type=int, help="threads for the graph")
    parser.add_argument("--report", help="also write the report (with every cluster's count) as JSON here")
    parser.add_argument("--out", required=True)
    parser.add_argument("--name")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    for flag in ("n_clusters", "max_frames", "batch_size", "n_init", "max_iter"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1")
    if args.chunk_seconds <= 0:
        parser.error("--chunk-seconds must be > 0")
    if args.checkpoint and args.layer is None:
        parser.error("--layer is required with --checkpoint")
    if args.encoder and (args.layer is not None or args.normalize is not None or args.trust_pickle
                         or args.precision != ["fp32"]):
        parser.error("--layer, --normalize, --precision and --trust-pickle go with --checkpoint (an --encoder "
                     "bundle has its own)")
    options = {"batch_size": args.batch_size, "n_init": args.n_init, "max_iter": args.max_iter}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            encoder = args.encoder
            if args.checkpoint:
                print(f"exporting {args.checkpoint} to layer {args.layer} ...")
                encoder = export_encoder(args.checkpoint, args.layer, Path(tmp) / "encoder", normalize=args.normalize,
                                         precisions=args.precision, trust_pickle=args.trust_pickle)
            result = fit_units(encoder, args.audio, args.out, n_clusters=args.n_clusters, seed=args.seed,
                               max_frames=args.max_frames, chunk_seconds=args.chunk_seconds, name=args.name,
                               overwrite=args.overwrite, backend=args.backend, threads=args.threads,
                               kmeans_options=options)
    except VoxliteError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1
    if args.report:
        Path(args.report).write_text(json.dumps(result.report, indent=1) + "\n")
    print(f"wrote {result.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
