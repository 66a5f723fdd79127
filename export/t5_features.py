"""Export a T5 encoder and its tokenizer as a ``t5-features`` component (a caption -> T5 ``last_hidden_state``
rows; UniAudio's text-to-sound / text-to-music / InstructTTS conditioning), for any bundle to carry:
``write_t5_features_component(writer, source, tmp)``, read at run time by
``voxlite.pipelines.t5_features.T5Features``.

Sources (nothing is downloaded):

- a local transformers T5 folder (UniAudio: a copy of google/t5-v1_1-base): ``config.json``, the weights
  (``T5EncoderModel``, or a whole ``T5ForConditionalGeneration`` whose decoder and LM head are dropped;
  ``voxlite.convert.t5``) and ``tokenizer.json``; a folder with only the slow tokenizer's files (``spiece.model``)
  is converted to ``tokenizer.json`` with transformers where it is installed (an export-time dependency only);
- ``T5Parts`` already in memory: ``read_t5_checkpoint`` of such a folder, or ``random_t5_parts`` (random weights at
  a tiny config over a given tokenizer.json, for tests).

Component (kind ``t5-features``, default name ``t5``): graph ``encoder`` ``input_ids`` (1, L) int64 -> ``features``
(1, L, dim) float32 (no attention mask: one caption, unpadded); file ``tokenizer`` (``<name>/tokenizer.json``);
hparams ``T5FeaturesHParams`` (dim, vocab, max_length, the encoder config). Each variant is verified against the
PyTorch reference on a tokenized caption before anything is written: fp32 within ``FP32_MAX_ABS``, fp16 / int8
within ``MIN_SNR_DB`` on ``features``. int8 quantizes the attention and MLP matmuls (the embedding table stays
float); encoders narrower than ``BLOCKWISE_BELOW`` get block-wise int8 scales, wider ones dynamic per-channel int8.

T5 v1.1's activations are reported to overflow float16 with the published weights (transformers' T5 clamps
infinities when it runs in fp16; an exported fp16 graph does not), so fp16 is not asked for by default: if it is, the
verifier decides on the verify caption, which is no proof for every caption.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from voxlite.hparams import T5FeaturesHParams
from voxlite.models.t5_encoder import T5Encoder, T5EncoderConfig
from voxlite.pipelines.t5_features import GRAPH, INPUTS, KIND, OUTPUTS, TOKENIZER

from . import ExportError
from .graphs import Bounds, check_precisions, write_graphs

MAX_LENGTH = 100  # UniAudio's caption limit (ids after the tokenizer's truncation, </s> included)
FP32_MAX_ABS = 1e-4
# SNR (dB) of the quantized graphs' features against the PyTorch reference. Tiny gated-GELU encoder (2 layers of 32,
# tests/test_t5_features.py's), 5 seeds x 3 captions: block-wise int8 34.4-37.0 dB (dynamic int8 at that width
# only 13.2-19.9 dB, hence block-wise below BLOCKWISE_BELOW); fp16 61.8-63.3 dB (3 seeds). Not measured on
# t5-v1_1-base (no weights offline): its dynamic int8 and its fp16 (see above) must pass these on the verify caption
# and should be compared on real captions before they are shipped.
MIN_SNR_DB = {"fp16": {"features": 30.0}, "int8": {"features": 25.0}}
T5_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB)
BLOCKWISE_BELOW = 256  # d_model under which int8 uses per-block scales (as the other exporters' narrow models)
VERIFY_CAPTION = ("A man speaks in a large hall while a dog barks in the distance, then heavy rain falls on a tin "
                  "roof and a car passes by on the wet road; upbeat techno music with a strong bass line.")


@dataclass
class T5Parts:
    """What the component is made of: the encoder (eval mode) and its tokenizer.json."""

    model: T5Encoder
    tokenizer: Path
    source: str = ""


class EncoderFeatures(nn.Module):
    """What graph ``encoder`` runs: ``input_ids`` (B, L) -> ``features`` (B, L, dim), no padding mask."""

    def __init__(self, model: T5Encoder):
        super().__init__()
        self.model = model.eval()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids)


def _tokenizer_file(path: Path, work_dir: Path) -> Path:
    """A tokenizer.json path as given, or a folder's tokenizer.json (made from its slow files when it has none)."""
    if path.is_file():
        return path
    from voxlite.convert.audioldm2 import tokenizer_json

    try:
        return tokenizer_json(path, work_dir, "t5_tokenizer")
    except (OSError, ValueError) as e:
        raise ExportError(f"{path}: no usable T5 tokenizer ({e})") from None


def read_t5_checkpoint(directory: str | Path, work_dir: str | Path, *, tokenizer: str | Path | None = None
                       ) -> T5Parts:
    """A local transformers T5 folder -> ``T5Parts``. ``tokenizer``: a tokenizer.json or a tokenizer folder
    elsewhere (default: ``directory`` itself); ``work_dir`` receives a converted tokenizer.json if one is made."""
    from voxlite.convert import t5 as conv

    directory = Path(directory)
    try:
        model = conv.load_official_dir(directory)
    except (OSError, ValueError) as e:  # missing files, unexpected keys or shapes
        raise ExportError(f"{directory}: cannot read a T5 encoder: {e}") from None
    tok = _tokenizer_file(Path(tokenizer) if tokenizer is not None else directory, Path(work_dir))
    return T5Parts(model, tok, source=directory.name)


def random_t5_parts(seed: int, tokenizer_json_path: str | Path, config: T5EncoderConfig | None = None,
                    **overrides) -> T5Parts:
    """Random weights (tests, benchmarks) at a tiny gated-GELU config (T5 v1.1's MLP) sized to the tokenizer's
    vocabulary, with few position buckets so short captions reach the logarithmic and clipped ones; ``overrides``
    change its fields (e.g. ``dim=768`` for a consumer that needs T5-base-wide rows), ``config`` replaces it."""
    from tokenizers import Tokenizer

    path = Path(tokenizer_json_path)
    if config is None:
        vocab = Tokenizer.from_file(str(path)).get_vocab_size(with_added_tokens=True)
        config = T5EncoderConfig.tiny(**{"vocab": vocab, "ffn": 64, "relative_attention_num_buckets": 8,
                                         "relative_attention_max_distance": 16, **overrides})
    elif overrides:
        raise ExportError("random_t5_parts: give config or field overrides, not both")
    g = torch.Generator().manual_seed(seed)
    model = T5Encoder(config)
    with torch.no_grad():  # every weight away from its init (norm gains too), so a mix-up cannot pass
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return T5Parts(model.eval(), path, source=f"random (seed {seed})")


def check_tokenizer(path: Path, vocab: int) -> None:
    """The tokenizer loads and every id it can give is an embedding row of the encoder."""
    from tokenizers import Tokenizer

    try:
        n = Tokenizer.from_file(str(path)).get_vocab_size(with_added_tokens=True)
    except Exception as e:  # the tokenizers library raises plain Exceptions on bad JSON
        raise ExportError(f"cannot load tokenizer {path}: {e}") from None
    if n > vocab:
        raise ExportError(f"tokenizer {path} has {n} ids; the encoder has only {vocab} embedding rows")


def verify_ids(tokenizer: Path, max_length: int) -> torch.Tensor:
    """(1, L) the verify caption as the runtime tokenizes it (special tokens, truncation at ``max_length``)."""
    from voxlite.text.prompt_tokens import PromptTokens

    ids = PromptTokens.from_file(tokenizer, max_length).encode(VERIFY_CAPTION)
    return torch.from_numpy(ids)[None]


def t5_features_specs(model: T5Encoder, ids: torch.Tensor) -> dict:
    """``{"encoder": (module, args, input names, output names, dynamic axes)}`` for ``write_graphs``."""
    return {GRAPH: (EncoderFeatures(model), (ids,), list(INPUTS), list(OUTPUTS),
                    {INPUTS[0]: {0: "batch", 1: "tokens"}, OUTPUTS[0]: {0: "batch", 1: "tokens"}})}


def t5_features_hparams(model: T5Encoder, max_length: int = MAX_LENGTH) -> T5FeaturesHParams:
    cfg = model.config
    hp = T5FeaturesHParams(dim=cfg.dim, vocab=cfg.vocab, max_length=max_length, config=cfg.to_dict())
    try:
        hp.check()
    except ValueError as e:
        raise ExportError(f"t5-features hparams: {e}") from None
    return hp


def write_t5_features_component(writer, checkpoint_dir_or_parts: str | Path | T5Parts, tmp: str | Path, *,
                                name: str = "t5", max_length: int = MAX_LENGTH, precisions=("fp32",),
                                int8_blockwise: bool | None = None, bounds: Bounds | None = None, log=print,
                                metadata: dict | None = None, **graph_options) -> T5FeaturesHParams:
    """Declare a ``t5-features`` component ``name`` on ``writer`` (a ``BundleWriter``) and write its graph (verified,
    every precision), its tokenizer.json and hparams. ``checkpoint_dir_or_parts``: a transformers T5 folder or
    ``T5Parts``; ``tmp``: a scratch directory (a ``<name>`` folder is made in it); ``int8_blockwise``: per-block
    int8 scales (default: for encoders narrower than ``BLOCKWISE_BELOW``); ``metadata``: stamped into the graph
    (``voxlite.*`` entries) besides ``family: t5``; ``graph_options``: passed on to ``write_graphs``."""
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise ExportError(f"max_length must be a positive integer, got {max_length!r}")
    work = Path(tmp) / name
    work.mkdir(parents=True, exist_ok=True)
    parts = checkpoint_dir_or_parts
    if not isinstance(parts, T5Parts):
        parts = read_t5_checkpoint(parts, work)
    model = parts.model.eval()
    check_tokenizer(parts.tokenizer, model.config.vocab)
    hparams = t5_features_hparams(model, max_length)
    if int8_blockwise is None:
        int8_blockwise = model.config.dim < BLOCKWISE_BELOW
    writer.component(name, kind=KIND, hparams=hparams.to_json())
    writer.add_component_file(name, TOKENIZER, parts.tokenizer, "tokenizer.json")
    write_graphs(writer, t5_features_specs(model, verify_ids(parts.tokenizer, max_length)), work,
                 precisions=check_precisions(precisions), bounds=bounds or T5_BOUNDS, component=name,
                 metadata={"family": "t5", "max_length": max_length, **(metadata or {})},
                 int8_blockwise=(GRAPH,) if int8_blockwise else (), log=log, **graph_options)
    return hparams


def add_t5_arguments(parser) -> None:
    """Options for an exporter whose bundle carries a t5-features component: ``--t5`` (a T5 folder) and
    ``--t5-max-length``; pass ``args.t5`` and ``args.t5_max_length`` to ``write_t5_features_component``."""
    parser.add_argument("--t5", metavar="DIR", help="a local transformers T5 folder (config.json, weights, "
                        "tokenizer.json or spiece.model), e.g. a copy of google/t5-v1_1-base: adds a t5-features "
                        "component (captions -> T5 features at run time)")
    parser.add_argument("--t5-max-length", type=int, default=MAX_LENGTH,
                        help=f"caption tokens kept, </s> included (default {MAX_LENGTH})")
