"""Semantic units: audio -> discrete self-supervised speech tokens (HuBERT features + k-means), torch-free.

    audio (any rate) -> resample to the component's rate (16 kHz; soxr VHQ) -> [waveform normalisation, if the
    component says so] -> graph ``hubert``: (1, N) -> features (1, T, dim), the hidden state after ``layer``
    transformer layers -> nearest centroid (squared L2, ties -> lowest index) -> unit ids (T,) int64

One unit per ``hop_length`` samples (320 at 16 kHz: 20 ms, 50 units/s); T = frames of a 400-sample receptive field
hopping 320, i.e. ``(N - 400) // 320 + 1`` at 16 kHz. UniAudio's semantic tokens are hubert_base_ls960 layer 9 with
500 clusters (its ``<semantic_N>`` ids are these units plus the vocabulary's semantic offset); Spear-TTS and
Make-A-Voice use the same component with other layers and cluster counts.

The nearest-centroid search is the native RVQ encoder with one stage (``voxlite.kernels.rvq.rvq_encode``: a residual
quantiser's first stage is exactly a nearest-codeword search), the centroids (``n_clusters``, ``dim``) stored in the
component as tensor ``centroids``. k-means models trained with scikit-learn (fairseq's ``.bin`` k-means files,
UniAudio's ``hubert_base_ls960_L9_km500.bin``) predict the same way: the nearest ``cluster_centers_`` row.

A component of kind ``"semantic-units"`` (written by ``export/hubert.py``'s ``write_semantic_units_component``)
can sit in any bundle; ``SemanticUnits(bundle)`` finds it, or is given its name.

w2v-BERT 2.0 components (hparams ``model: "w2v-bert"``, written by ``export/w2v_bert.py``; Spear-TTS's semantic
tokens) differ only in the graph's input: the runtime computes w2v-BERT's fbank front end in NumPy
(``voxlite.dsp.fbank.w2v_bert_features``: 80-bin Kaldi log-mels normalised per bin, frame pairs stacked) and graph
``w2v_bert`` reads ``fbank`` (1, T, 160) -> ``features`` (1, T, dim), normalised per dimension inside the graph when
the hparams say ``normalize_features``. Also 50 units/s at 16 kHz; the first needs 560 samples.
"""
from __future__ import annotations

import numpy as np

from ..audio import input_samples, resample
from ..dsp.fbank import W2V_BERT_FBANK, w2v_bert_features
from ..errors import BundleError, InvalidInput
from ..hparams import SemanticUnitsHParams
from ..kernels.rvq import rvq_encode
from .graph import one_component
from .sessions import GraphSessions

KIND = "semantic-units"
GRAPH = "hubert"  # (1, N) audio -> (1, T, dim) features
CENTROIDS = "centroids"  # (n_clusters, dim) float32
# w2v-BERT components: graph "w2v_bert" reads the fbank front end the runtime computes (input "fbank")
W2V_BERT_GRAPH, W2V_BERT_INPUT = "w2v_bert", "fbank"  # (1, T, 160) fbank -> (1, T, dim) features
NORMALIZE_EPS = 1e-5  # fairseq's waveform normalisation: F.layer_norm(wav, wav.shape) (large / normalize=True models)


def assign_units(features, centroids) -> np.ndarray:
    """Nearest centroid of each feature row: (T, D) -> (T,) or (B, T, D) -> (B, T) int64, by squared L2 distance
    (ties -> the lowest index), on the native RVQ encoder's one-stage search."""
    f = np.asarray(features, dtype=np.float32)
    c = np.asarray(centroids, dtype=np.float32)
    if c.ndim != 2 or c.shape[0] == 0:
        raise InvalidInput(f"centroids must be (n_clusters, dim), got shape {c.shape}")
    squeeze = f.ndim == 2
    if squeeze:
        f = f[None]
    if f.ndim != 3 or f.shape[-1] != c.shape[1]:
        raise InvalidInput(f"features must be (T, {c.shape[1]}) or (B, T, {c.shape[1]}), got shape {f.shape}")
    if f.shape[1] == 0:
        out = np.zeros(f.shape[:2], np.int64)
    else:
        out = rvq_encode(np.ascontiguousarray(f.transpose(0, 2, 1)), c[None], n_stages=1)[:, 0]
    return out[0] if squeeze else out


def normalize_waveform(samples: np.ndarray) -> np.ndarray:
    """(x - mean) / sqrt(var + 1e-5) over the whole utterance (fairseq's ``F.layer_norm(wav, wav.shape)``)."""
    x = samples.astype(np.float64)
    return ((x - x.mean()) / np.sqrt(x.var() + NORMALIZE_EPS)).astype(np.float32)


class SemanticUnits:
    """A bundle's semantic-units component: ``units(audio, sample_rate)`` -> (T,) int64 ids, ``features`` -> (T, dim).

    ``sessions``: the owning model's ``GraphSessions`` (one backend for all its graphs); without it one is opened
    here with ``backend`` / ``precision`` / ``threads``. ``component``: its name (default: the bundle's one
    component of kind ``"semantic-units"``)."""

    def __init__(self, bundle, sessions: GraphSessions | None = None, component: str | None = None, *,
                 backend: str = "auto", precision: str | None = None, threads: int | None = None):
        self.bundle = bundle
        self.component = component or one_component(bundle, KIND)
        c = bundle.component(self.component)
        if c.kind != KIND:
            raise BundleError(f"component {self.component!r} of bundle {bundle.name!r} is a {c.kind!r}, not {KIND!r}")
        self.hparams = SemanticUnitsHParams.from_json(
            c.hparams, f"bundle {bundle.name!r}: components.{self.component}.hparams")
        graph = _check_w2v_bert(self.hparams, bundle.name) if self.hparams.model == "w2v-bert" else GRAPH
        if graph not in c.graphs:
            raise BundleError(f"component {self.component!r} of bundle {bundle.name!r} has no {graph!r} graph")
        centroids = np.asarray(bundle.tensor(CENTROIDS, self.component))
        hp = self.hparams
        if centroids.shape != (hp.n_clusters, hp.dim) or centroids.dtype != np.float32:
            raise BundleError(f"bundle {bundle.name!r}: {self.component}/{CENTROIDS} is {centroids.dtype} "
                              f"{centroids.shape}; hparams say float32 ({hp.n_clusters}, {hp.dim})")
        self.centroids = np.ascontiguousarray(centroids)
        self.sessions = sessions or GraphSessions(bundle, backend=backend, precision=precision, threads=threads)
        self.graph = f"{self.component}/{graph}"

    @property
    def sample_rate(self) -> int:
        return self.hparams.sample_rate

    def prepare(self, audio, sample_rate: int | None = None) -> np.ndarray:
        """The graph's input: mono samples resampled to the component's rate (and normalised if it says so)."""
        samples, rate = input_samples(audio, sample_rate, what="audio")
        samples = resample(samples, rate, self.hparams.sample_rate)
        if samples.size < self.hparams.receptive_field:
            raise InvalidInput(f"audio is too short for semantic units: {samples.size} samples at "
                               f"{self.hparams.sample_rate} Hz; at least {self.hparams.receptive_field} are needed")
        return normalize_waveform(samples) if self.hparams.normalize else samples

    def features_of(self, samples: np.ndarray) -> np.ndarray:
        """Run the graph on prepared samples (N,) at the component's rate -> (T, dim) float32."""
        if self.hparams.model == "w2v-bert":
            feeds = {W2V_BERT_INPUT: w2v_bert_features(samples)[None]}  # the fbank front end, then the graph
        else:
            feeds = {"audio": np.ascontiguousarray(samples, np.float32)[None]}
        out = self.sessions.get(self.graph).run(feeds)
        return np.asarray(out["features"][0], dtype=np.float32)

    def features(self, audio, sample_rate: int | None = None) -> np.ndarray:
        """(T, dim) features after ``layer`` layers: an ``Audio``, a path, or (N,) samples with their rate."""
        return self.features_of(self.prepare(audio, sample_rate))

    def units(self, audio, sample_rate: int | None = None) -> np.ndarray:
        """(T,) int64 unit ids in 0 .. n_clusters - 1, one per ``hop_length`` samples."""
        return assign_units(self.features(audio, sample_rate), self.centroids)

    __call__ = units


def _check_w2v_bert(hp: SemanticUnitsHParams, bundle_name: str) -> str:
    """A w2v-BERT component's hparams agree with the fbank front end the runtime computes; its graph's name."""
    fb = W2V_BERT_FBANK
    want = (fb.sample_rate, fb.hop_samples, fb.min_samples, fb.dim)
    got = (hp.sample_rate, hp.hop_length, hp.receptive_field, hp.config.get("input_dim", fb.dim))
    if got != want:
        raise BundleError(f"bundle {bundle_name!r}: a w2v-bert semantic-units component needs (sample_rate, "
                          f"hop_length, receptive_field, config.input_dim) = {want} (the fbank front end), got {got}")
    return W2V_BERT_GRAPH
