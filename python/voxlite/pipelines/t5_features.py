"""T5 text features: a caption -> T5 encoder rows, torch-free (UniAudio's text-to-sound / text-to-music /
InstructTTS conditioning).

    caption -> the component's tokenizer.json (``tokenizers`` library; special tokens added, i.e. T5's ``</s>``,
    truncated to ``max_length`` ids as transformers' fast tokenizer does with ``truncation=True``)
    -> graph ``encoder``: ``input_ids`` (1, L) int64 -> ``features`` (1, L, dim) -> (L, dim) float32

One caption at a time, unpadded: every row is a real token, so nothing is masked or dropped (UniAudio keeps the
unpadded rows of google/t5-v1_1-base's ``last_hidden_state``, 768 wide, at most 100 of them).

A component of kind ``"t5-features"`` (written by ``export/t5_features.py``'s ``write_t5_features_component``) can
sit in any bundle; ``T5Features(bundle)`` finds it, or is given its name.
"""
from __future__ import annotations

import logging
import threading

import numpy as np

from ..errors import BundleError, InvalidInput
from ..hparams import T5FeaturesHParams
from ..text.prompt_tokens import PromptTokens
from .graph import one_component
from .sessions import GraphSessions

log = logging.getLogger(__name__)

KIND = "t5-features"
GRAPH = "encoder"  # input_ids (1, L) int64 -> features (1, L, dim) float32
TOKENIZER = "tokenizer"  # the component's file role: a tokenizers-library tokenizer.json
INPUTS, OUTPUTS = ("input_ids",), ("features",)


class T5Features:
    """A bundle's T5 text-features component: ``features(text)`` -> (L, dim) float32, L <= ``max_length``.

    ``sessions``: the owning model's ``GraphSessions`` (one backend for all its graphs); without it one is opened
    here with ``backend`` / ``precision`` / ``threads``. ``component``: its name (default: the bundle's one
    component of kind ``"t5-features"``). Safe to call from several threads."""

    def __init__(self, bundle, sessions: GraphSessions | None = None, component: str | None = None, *,
                 backend: str = "auto", precision: str | None = None, threads: int | None = None):
        self.bundle = bundle
        self.component = component or one_component(bundle, KIND)
        c = bundle.component(self.component)
        where = f"component {self.component!r} of bundle {bundle.name!r}"
        if c.kind != KIND:
            raise BundleError(f"{where} is a {c.kind!r}, not {KIND!r}")
        self.hparams = T5FeaturesHParams.from_json(
            c.hparams, f"bundle {bundle.name!r}: components.{self.component}.hparams")
        if GRAPH not in c.graphs:
            raise BundleError(f"{where} has no {GRAPH!r} graph")
        spec = bundle.graph(f"{self.component}/{GRAPH}")
        ins, outs = tuple(t.name for t in spec.inputs), tuple(t.name for t in spec.outputs)
        if ins != INPUTS or outs != OUTPUTS:
            raise BundleError(f"{where}: graph {GRAPH!r} takes {list(ins)} and gives {list(outs)}; a t5-features "
                              f"encoder takes {list(INPUTS)} and gives {list(OUTPUTS)}")
        if TOKENIZER not in c.files:
            raise BundleError(f"{where} has no {TOKENIZER!r} file (the caption tokenizer.json)")
        self._tokens = PromptTokens.from_file(bundle.component_file(self.component, TOKENIZER),
                                              self.hparams.max_length)
        self._lock = threading.Lock()  # PromptTokens switches truncation off and on to measure a cut
        self.sessions = sessions or GraphSessions(bundle, backend=backend, precision=precision, threads=threads)
        self.graph = f"{self.component}/{GRAPH}"

    @property
    def dim(self) -> int:
        return self.hparams.dim

    @property
    def max_length(self) -> int:
        return self.hparams.max_length

    def tokens(self, text: str) -> np.ndarray:
        """The caption's ids (L,) int64: special tokens added, at most ``max_length`` (longer captions are cut at
        the end, ``</s>`` kept, and the cut is logged)."""
        if not isinstance(text, str):
            raise InvalidInput(f"the caption must be a string, got {type(text).__name__}")
        if not text.strip():
            raise InvalidInput("the caption is empty")
        with self._lock:
            ids = self._tokens.encode(text)
            cut = ids.size == self.max_length and self._tokens.untruncated_length(text) > ids.size
        if cut:
            log.warning("caption cut to its first %d T5 tokens (the component's limit)", ids.size)
        return ids

    def features_of(self, ids) -> np.ndarray:
        """Run the encoder on token ids (L,) -> (L, dim) float32 (ids as ``tokens`` gives them)."""
        ids = np.asarray(ids)
        if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise InvalidInput(f"token ids must be a non-empty (L,) integer array, got {ids.dtype} {ids.shape}")
        if ids.min() < 0 or ids.max() >= self.hparams.vocab:
            raise InvalidInput(f"token ids must be in 0..{self.hparams.vocab - 1}, got {ids.min()}..{ids.max()}")
        out = self.sessions.get(self.graph).run({"input_ids": np.ascontiguousarray(ids, np.int64)[None]})
        features = np.asarray(out["features"])
        if features.shape != (1, ids.size, self.dim):
            raise BundleError(f"bundle {self.bundle.name!r}: {self.graph} gave features {features.shape}; "
                              f"expected (1, {ids.size}, {self.dim})")
        return np.ascontiguousarray(features[0], dtype=np.float32)

    def features(self, text: str) -> np.ndarray:
        """(L, dim) float32: the caption's T5 encoder rows, one per token (``</s>`` last), L <= ``max_length``."""
        ids = self.tokens(text)
        if ids.max() >= self.hparams.vocab:  # the exporter checks this; a hand-assembled bundle may not
            raise BundleError(f"bundle {self.bundle.name!r}: {self.component}'s tokenizer gave id {ids.max()}, "
                              f"beyond the encoder's {self.hparams.vocab} embedding rows")
        return self.features_of(ids)

    __call__ = features
