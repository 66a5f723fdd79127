"""Export a decoder-only unit language model (``voxlite.models.unit_lm.UnitLM``) as one bundle component of kind
``unit-lm`` (``voxlite.hparams.unit_lm.UnitLMHParams``). A cascade's exporter calls ``write_unit_lm_component``
once per stage inside its own ``BundleWriter``; there is no stand-alone bundle or command line.

Graphs (each verified against the PyTorch reference before it is added: fp32 within ``FP32_MAX_ABS``; int8 logits
within ``MIN_SNR_DB``; KV outputs logged):

- ``prefill``: ``ids`` (1, L) int64, L dynamic -> ``logits`` (1, V) after the last position and
  ``present.lm.<i>.key|value`` (1, H, L, Dh).
- ``step``: ``token`` (1, 1) int64 at ``position`` (1,) int64, ``length`` (1,) int64 and ``cache.lm.<i>``
  (2, 1, H, capacity, Dh) (the runtime's fixed buffers, read in place, slots >= length ignored) -> ``logits``
  (1, V), ``present.lm.<i>.key|value`` (1, H, 1, Dh).
"""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import torch
from torch import nn

from voxlite.hparams.unit_lm import UnitLMHParams
from voxlite.hparams.voxcpm import KVGroup

from . import ExportError
from .graphs import Bounds, check_precisions, jsonable, kv_buffers, spread_norms_and_biases, write_graphs

FP32_MAX_ABS = 1e-4
# int8 logits against fp32 on the verify inputs (dB). As for VALL-E (export.valle): dynamic int8 suits wide models;
# narrow ones (dim < BLOCKWISE_BELOW_DIM, e.g. the tiny test preset) get block-wise int8, whose per-block scales keep
# them within the bound.
MIN_SNR_DB = {"fp16": {"logits": 25.0}, "int8": {"logits": 25.0}}
UNIT_LM_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB)
BLOCKWISE_BELOW_DIM = 256
GRAPHS = ("prefill", "step")


class _Prefill(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        logits, kv = self.model.prefill(ids)
        return (logits, *kv)


class _Step(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, token, position, length, *cache):
        logits, kv = self.model.step_buffer(token, position, length, tuple(cache))
        return (logits, *kv)


def cache_names(n_layers: int) -> list[str]:
    return [f"cache.lm.{i}" for i in range(n_layers)]


def present_names(n_layers: int) -> list[str]:
    return [f"present.lm.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]


def random_unit_lm(config, seed: int = 0):
    """A UnitLM with random weights whose logits are not flat: LayerNorm gains start at 1 and biases at 0, so they
    are spread too (a wrong graph cannot hide behind them)."""
    from voxlite.models.unit_lm import UnitLM

    torch.manual_seed(seed)
    model = UnitLM(config)
    spread_norms_and_biases(model, seed)
    return model.eval()


def unit_lm_specs(model, *, seed: int = 0, verify_prefix_len: int = 16) -> tuple[dict, UnitLMHParams]:
    """The graph specs (``write_graphs``) with their verify inputs, and the component's hparams."""
    c = model.config
    if not 1 <= verify_prefix_len < c.n_ctx:
        raise ExportError(f"verify_prefix_len must lie in 1..{c.n_ctx - 1} (n_ctx {c.n_ctx}), got {verify_prefix_len}")
    g = torch.Generator().manual_seed(4321 + seed)
    L = verify_prefix_len
    ids = torch.randint(0, c.n_vocab, (1, L), generator=g)
    with torch.no_grad():
        _, kv = model.prefill(ids)
    cache = kv_buffers(kv, L, g)  # noise past slot L: the step must ignore it
    token = torch.randint(0, c.n_vocab, (1, 1), generator=g)
    position = torch.tensor([L])
    length = torch.tensor([L])
    present = present_names(c.n_layers)
    caches = cache_names(c.n_layers)
    specs = {
        "prefill": (_Prefill(model), (ids,), ["ids"], ["logits", *present],
                    {"ids": {1: "positions"}, **{n: {2: "positions"} for n in present}}),
        "step": (_Step(model), (token, position, length, *cache), ["token", "position", "length", *caches],
                 ["logits", *present], {n: {3: "capacity"} for n in caches}),
    }
    hparams = UnitLMHParams(n_vocab=c.n_vocab, n_ctx=c.n_ctx,
                            kv={"lm": KVGroup(n_layers=c.n_layers, n_kv_heads=c.n_heads, head_dim=c.head_dim)},
                            config=jsonable(c.to_dict()))
    hparams.check()
    return specs, hparams


def write_unit_lm_component(writer, name: str, model, tmp: str | Path | None = None, *, precisions=("fp32",),
                            seed: int = 0, verify_prefix_len: int = 16, int8_blockwise: bool | None = None,
                            shared_data: str | None = None, log=print) -> UnitLMHParams:
    """Add component ``name`` (kind ``unit-lm``) with graphs ``prefill`` and ``step`` in every precision to
    ``writer`` (a ``voxlite.bundle.BundleWriter``), each verified against ``model`` first. ``tmp``: a scratch
    directory (None: a fresh one). ``seed`` varies the verify inputs; ``verify_prefix_len`` is their prefix length.
    ``int8_blockwise``: block-wise int8 instead of dynamic (None: for models narrower than
    ``BLOCKWISE_BELOW_DIM``). ``shared_data``: the weights file both graphs read (default ``<name>-weights``, so a
    component can be copied to another bundle with its own file). Returns the hparams written."""
    precisions = check_precisions(precisions)
    model = model.eval()
    specs, hparams = unit_lm_specs(model, seed=seed, verify_prefix_len=verify_prefix_len)
    if int8_blockwise is None:
        int8_blockwise = model.config.dim < BLOCKWISE_BELOW_DIM
    writer.component(name, kind="unit-lm", hparams=hparams.to_json())
    with tempfile.TemporaryDirectory() if tmp is None else contextlib.nullcontext(tmp) as scratch:
        # each component's graphs in their own folder: two stages of one bundle do not overwrite each other's files
        folder = Path(scratch) / name
        folder.mkdir(parents=True, exist_ok=True)
        write_graphs(writer, specs, folder, precisions=precisions, bounds=UNIT_LM_BOUNDS, log=log,
                     shared_data=shared_data or f"{name}-weights", metadata={"family": "unit-lm"},
                     component=name, int8_blockwise=GRAPHS if int8_blockwise else ())
    return hparams

