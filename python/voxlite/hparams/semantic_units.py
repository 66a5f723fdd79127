"""Hyper-parameters of a semantic-units component (kind ``semantic-units``): a self-supervised speech encoder
(HuBERT, or wav2vec 2.0 / XLSR-53: the same encoder) run to one layer, then nearest-centroid k-means: audio -> one
unit id per hop."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .base import HParams


@dataclass(frozen=True)
class SemanticUnitsHParams(HParams):
    layer: int  # transformer layers run (fairseq's output_layer; UniAudio: 9 of hubert_base's 12)
    n_clusters: int  # k-means clusters = unit ids 0 .. n_clusters - 1
    dim: int  # feature width (768 for HuBERT base)
    sample_rate: int = 16000
    hop_length: int = 320  # input samples per unit
    receptive_field: int = 400  # samples the first unit needs; shorter input has no unit
    normalize: bool = False  # zero-mean unit-variance waveform before the graph (HuBERT large, XLSR-53); base: False
    # the encoder's family: its weights' origin (the graph and the runtime are the same for both; bundles written
    # before wav2vec 2.0 was supported say "hubert")
    model: Literal["hubert", "wav2vec2", "w2v-bert"] = "hubert"  # w2v-bert: see below
    config: dict = field(default_factory=dict)  # the feature model's config (models.hubert.HubertConfig)
    # model "w2v-bert" (models.w2v_bert, export/w2v_bert.py): the runtime computes the fbank front end first
    # (voxlite.dsp.fbank.w2v_bert_features) and the graph reads those (1, T, 160) features, not the waveform.
    # normalize_features: the graph's output is normalised per dimension over the utterance (zero mean, unit
    # variance; Spear-TTS's step before k-means) inside the graph, so the centroids live in that space; bundles
    # written before the field existed have False
    normalize_features: bool = False

    def check(self) -> None:
        for name in ("layer", "n_clusters", "dim", "sample_rate", "hop_length", "receptive_field"):
            minimum = 0 if name == "layer" else 1
            if getattr(self, name) < minimum:
                raise ValueError(f"{name}: must be >= {minimum}, got {getattr(self, name)}")
        if self.receptive_field < self.hop_length:
            raise ValueError(f"receptive_field: {self.receptive_field} is shorter than hop_length {self.hop_length}")

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def n_units(self, n_samples: int) -> int:
        """Units of ``n_samples`` at ``sample_rate`` (the conv stack's frames; exact for the published strides)."""
        if n_samples < self.receptive_field:
            return 0
        return (n_samples - self.receptive_field) // self.hop_length + 1
