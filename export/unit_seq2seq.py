"""Export a unit seq2seq model (``voxlite.models.unit_seq2seq``: phoneme / character ids -> semantic units, stage S1
of Spear-TTS and Make-A-Voice) as a component of kind ``unit-seq2seq`` of a bundle another exporter assembles (the
cascade's): ``write_unit_seq2seq_component(writer, name, model, tmp)``.

Graphs of the component (each verified against the PyTorch reference before it is added; fp32 within 1e-4 max abs,
int8 logits within ``MIN_SNR_DB``):

- ``encode``: ``src`` (1, S) int64 -> ``cross.<i>.key|value`` (1, H, S, Dh) for each decoder layer i (the decoder's
  cross-attention keys / values, computed once per source).
- ``step``: ``token`` (1, 1) int64 at target position ``position`` (1,) int64, ``length`` (1,) int64 and
  ``cache.dec.<i>`` (2, 1, H, capacity, Dh) (the runtime's fixed buffers, first ``length`` slots filled),
  ``cross.<i>.key|value`` -> ``logits`` (1, n_units + 2), ``present.dec.<i>.key|value`` (1, H, 1, Dh).

There is no prefill graph: generation starts with an empty cache and feeds BOS through ``step``.
"""
from __future__ import annotations

import torch
from torch import nn

from voxlite.hparams.unit_seq2seq import UnitSeq2SeqHParams
from voxlite.hparams.voxcpm import KVGroup

from .codec import FP32_MAX_ABS
from .graphs import Bounds, check_precisions, jsonable, kv_buffers, spread_norms_and_biases, write_graphs

KIND = "unit-seq2seq"
GRAPHS = ("encode", "step")
# Quantized variants: SNR (dB) of the logits and cross keys / values against fp32 on the verify inputs (block-wise
# int8 at the tiny random width: 41-45 dB). Dynamic int8's one activation scale per tensor is too coarse at narrow
# widths (as for VALL-E, export/valle.py): below 256 channels the graphs are quantized block-wise.
MIN_SNR_DB = 25.0
BLOCKWISE_BELOW = 256


def bounds(hp: UnitSeq2SeqHParams) -> Bounds:
    held = {name: MIN_SNR_DB for name in ("logits", *hp.cross_names())}
    return Bounds(FP32_MAX_ABS, {"fp16": held, "int8": held})


class _Encode(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, src):
        return self.model.encode(src)


class _Step(nn.Module):
    def __init__(self, model, n_layers: int):
        super().__init__()
        self.model, self.n_layers = model, n_layers

    def forward(self, token, position, length, *rest):
        cache, cross = rest[:self.n_layers], rest[self.n_layers:]
        logits, kv = self.model.step_buffer(token, position, length, tuple(cache), tuple(cross))
        return (logits, *kv)


def randomize(model: nn.Module, seed: int) -> None:
    """Random weights that exercise every path: LayerNorm gains / biases spread off 1 / 0, and a sharper output head
    (default init gives near-flat logits, where sampling hides a wrong graph)."""
    spread_norms_and_biases(model, seed)
    with torch.no_grad():
        model.predict.weight.mul_(4.0)


def random_unit_seq2seq(config, seed: int = 0):
    """A ``UnitSeq2Seq`` of ``config`` with random weights (``randomize``), in eval mode."""
    from voxlite.models.unit_seq2seq import UnitSeq2Seq

    torch.manual_seed(seed)
    model = UnitSeq2Seq(config)
    randomize(model, seed)
    return model.eval()


def unit_seq2seq_hparams(model) -> UnitSeq2SeqHParams:
    c = model.config
    hp = UnitSeq2SeqHParams(n_src_vocab=c.n_src_vocab, n_units=c.n_units, bos=c.bos, eos=c.eos,
                            n_src_ctx=c.n_src_ctx, n_tgt_ctx=c.n_tgt_ctx,
                            kv={"dec": KVGroup(n_layers=c.n_dec_layers, n_kv_heads=c.n_heads, head_dim=c.head_dim)},
                            n_dec_layers=c.n_dec_layers, config=jsonable(c.to_dict()))
    hp.check()
    return hp


def unit_seq2seq_specs(model, seed: int = 0) -> tuple[dict, UnitSeq2SeqHParams]:
    """Graph specs (``write_graphs``) with verify inputs: a 7-id source, a step after 4 cached positions."""
    c = model.config
    hp = unit_seq2seq_hparams(model)
    g = torch.Generator().manual_seed(4321 + seed)
    src = torch.randint(0, c.n_src_vocab, (1, min(7, c.n_src_ctx)), generator=g)
    L = min(4, c.n_tgt_ctx - 1)
    prefix = torch.cat((torch.tensor([[c.bos]]), torch.randint(0, c.n_units, (1, L - 1), generator=g)), dim=1)
    with torch.no_grad():
        cross = model.encode(src)
        _, kv = model.decoder(model._tgt(prefix, torch.arange(L)), context_kv=cross)
    cache = kv_buffers(kv, L, g)
    token = torch.randint(0, c.n_units, (1, 1), generator=g)
    position, length = torch.tensor([L]), torch.tensor([L])

    cross_names = hp.cross_names()
    caches = [f"cache.dec.{i}" for i in range(c.n_dec_layers)]
    present = [f"present.dec.{i}.{kv}" for i in range(c.n_dec_layers) for kv in ("key", "value")]
    specs = {
        "encode": (_Encode(model), (src,), ["src"], cross_names,
                   {"src": {1: "source"}, **{n: {2: "source"} for n in cross_names}}),
        "step": (_Step(model, c.n_dec_layers), (token, position, length, *cache, *cross),
                 ["token", "position", "length", *caches, *cross_names], ["logits", *present],
                 {**{n: {3: "capacity"} for n in caches}, **{n: {2: "source"} for n in cross_names}}),
    }
    return specs, hp


def write_unit_seq2seq_component(writer, name: str, model, tmp, *, precisions=("fp32",), seed: int = 0,
                                 log=print) -> UnitSeq2SeqHParams:
    """Add component ``name`` (kind ``unit-seq2seq``) with graphs ``encode`` and ``step`` in every precision (each
    verified) to ``writer`` (a ``BundleWriter``); ``tmp`` a scratch directory. Returns the component's hparams."""
    precisions = check_precisions(precisions)
    specs, hp = unit_seq2seq_specs(model.eval(), seed)
    writer.component(name, kind=KIND, hparams=hp.to_json())
    blockwise = GRAPHS if model.config.dim < BLOCKWISE_BELOW else ()
    write_graphs(writer, specs, tmp, precisions=precisions, bounds=bounds(hp), log=log, component=name,
                 shared_data=f"{name}.weights", int8_blockwise=blockwise)
    return hp
