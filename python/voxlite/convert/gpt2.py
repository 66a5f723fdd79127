"""Hugging Face GPT-2 weights (``GPT2Model``, or ``GPT2LMHeadModel`` whose keys carry a ``transformer.`` prefix: the
published AudioLDM 2 checkpoints store the former; diffusers' pipeline under transformers 5 wants the latter) ->
``GPT2``.

- ``h.<i>.attn.c_attn`` (Conv1D: weight (C, 3C), i.e. transposed; packed q, k, v) -> ``q_proj / k_proj / v_proj``;
  ``attn.c_proj``, ``mlp.c_fc``, ``mlp.c_proj`` likewise transposed -> ``o_proj``, ``mlp.up_proj``, ``mlp.down_proj``;
- ``ln_1 / ln_2 / ln_f`` -> ``input_layernorm / post_attention_layernorm / decoder.norm``; ``wpe`` kept;
- ``wte`` (the token table: AudioLDM 2 feeds embeddings, never ids) and ``lm_head`` are dropped, as are the causal-mask
  buffers (``attn.bias`` / ``masked_bias``) older exports carry.
"""
from __future__ import annotations

import re
from typing import Mapping

import torch

from ..models.gpt2 import GPT2, GPT2Config
from .common import load_strict

_LAYER = re.compile(r"^h\.(\d+)\.(.+)$")
_RENAMES = {"ln_1.weight": "input_layernorm.weight", "ln_1.bias": "input_layernorm.bias",
            "ln_2.weight": "post_attention_layernorm.weight", "ln_2.bias": "post_attention_layernorm.bias",
            "attn.c_proj.weight": "self_attn.o_proj.weight", "attn.c_proj.bias": "self_attn.o_proj.bias",
            "mlp.c_fc.weight": "mlp.up_proj.weight", "mlp.c_fc.bias": "mlp.up_proj.bias",
            "mlp.c_proj.weight": "mlp.down_proj.weight", "mlp.c_proj.bias": "mlp.down_proj.bias"}


def _unprefixed(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if any(k.startswith("transformer.") for k in state):
        return {k[len("transformer."):]: v for k, v in state.items() if k.startswith("transformer.")}
    return dict(state)


def config_of(state: Mapping[str, torch.Tensor], n_heads: int) -> GPT2Config:
    state = _unprefixed(state)
    n_positions, dim = state["wpe.weight"].shape
    layers = {int(m.group(1)) for k in state if (m := _LAYER.match(k))}
    ffn = state["h.0.mlp.c_fc.weight"].shape[1]
    return GPT2Config(dim=dim, n_layers=len(layers), n_heads=n_heads, n_positions=n_positions,
                      ffn_dim=None if ffn == 4 * dim else ffn)


def convert_state_dict(official: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in _unprefixed(official).items():
        if key in ("wte.weight",) or key.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        if key.startswith("ln_f."):
            out["decoder.norm." + key[len("ln_f."):]] = value
            continue
        if key == "wpe.weight":
            out[key] = value
            continue
        m = _LAYER.match(key)
        if not m:
            raise ValueError(f"unexpected GPT-2 key {key!r}")
        i, rest = m.groups()
        prefix = f"decoder.layers.{i}."
        if rest in ("attn.c_attn.weight", "attn.c_attn.bias"):
            parts = (value.t() if rest.endswith("weight") else value).chunk(3, dim=0)
            for name, part in zip(("q_proj", "k_proj", "v_proj"), parts):
                out[f"{prefix}self_attn.{name}.{rest.rsplit('.', 1)[1]}"] = part.contiguous()
            continue
        if rest not in _RENAMES:
            raise ValueError(f"unexpected GPT-2 key {key!r}")
        out[prefix + _RENAMES[rest]] = value.t().contiguous() if rest.endswith("weight") and "ln_" not in rest \
            else value
    return out


def load_official(state: Mapping[str, torch.Tensor], n_heads: int) -> GPT2:
    model = GPT2(config_of(state, n_heads))
    load_strict(model, convert_state_dict(state))
    return model.eval()
