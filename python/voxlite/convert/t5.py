"""Hugging Face T5 encoder weights (``T5EncoderModel``: AudioLDM 2's ``text_encoder_2``; or a whole
``T5ForConditionalGeneration``, whose decoder and LM head are dropped) -> ``T5Encoder``.

- ``shared.weight`` or ``encoder.embed_tokens.weight`` (tied: a checkpoint may hold either or both) ->
  ``encoder.embed_tokens.weight``;
- ``encoder.block.<i>.layer.0.SelfAttention.{q,k,v,o}`` -> ``encoder.layers.<i>.self_attn.{q,k,v,o}_proj``;
  ``layer.0.layer_norm`` / ``layer.1.layer_norm`` -> ``input_layernorm`` / ``post_attention_layernorm``;
- ``layer.1.DenseReluDense.wi_0 / wi_1 / wo`` (gated) or ``wi / wo`` -> ``mlp.gate_proj / up_proj / down_proj``
  or ``mlp.up_proj / down_proj``;
- block 0's ``SelfAttention.relative_attention_bias`` -> ``relative_attention_bias`` (every layer uses it);
- ``encoder.final_layer_norm`` -> ``encoder.norm``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import torch

from ..models.t5_encoder import T5Encoder, T5EncoderConfig
from .common import load_strict, read_component_dir

_LAYER = re.compile(r"^encoder\.block\.(\d+)\.layer\.([01])\.(.+)$")
_RENAMES = {"SelfAttention.q.weight": "self_attn.q_proj.weight", "SelfAttention.k.weight": "self_attn.k_proj.weight",
            "SelfAttention.v.weight": "self_attn.v_proj.weight", "SelfAttention.o.weight": "self_attn.o_proj.weight",
            "DenseReluDense.wi_0.weight": "mlp.gate_proj.weight", "DenseReluDense.wi_1.weight": "mlp.up_proj.weight",
            "DenseReluDense.wi.weight": "mlp.up_proj.weight", "DenseReluDense.wo.weight": "mlp.down_proj.weight"}
_EMBEDDINGS = ("shared.weight", "encoder.embed_tokens.weight")


def config_of(config: Mapping[str, Any]) -> T5EncoderConfig:
    """A transformers T5Config dict (config.json) -> ours."""
    return T5EncoderConfig.from_transformers(config)


def convert_state_dict(official: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in official.items():
        if key.startswith(("decoder.", "lm_head.")):  # a full seq2seq checkpoint: only the encoder is ours
            continue
        if key in _EMBEDDINGS:
            out["encoder.embed_tokens.weight"] = value
            continue
        if key == "encoder.final_layer_norm.weight":
            out["encoder.norm.weight"] = value
            continue
        m = _LAYER.match(key)
        if not m:
            raise ValueError(f"unexpected T5 key {key!r}")
        i, sub, rest = m.groups()
        if rest == "SelfAttention.relative_attention_bias.weight":
            if i != "0":
                raise ValueError(f"T5 encoder with a relative position table in block {i}: only block 0 has one")
            out["relative_attention_bias.weight"] = value
        elif rest == "layer_norm.weight":
            out[f"encoder.layers.{i}.{'input_layernorm' if sub == '0' else 'post_attention_layernorm'}.weight"] = value
        elif rest in _RENAMES:
            out[f"encoder.layers.{i}.{_RENAMES[rest]}"] = value
        else:
            raise ValueError(f"unexpected T5 key {key!r}")
    return out


def load_official(state: Mapping[str, torch.Tensor], config: Mapping[str, Any] | T5EncoderConfig) -> T5Encoder:
    """Build ours from a T5Config dict (or our config) and load a transformers state dict; eval mode."""
    cfg = config if isinstance(config, T5EncoderConfig) else config_of(config)
    model = T5Encoder(cfg)
    load_strict(model, convert_state_dict(state))
    return model.eval()


def load_official_dir(directory: str | Path) -> T5Encoder:
    """A local transformers folder (e.g. a copy of cvssp/audioldm2's ``text_encoder_2/``): config.json and
    model.safetensors (or sharded, or pytorch_model.bin). Nothing is downloaded."""
    config, state = read_component_dir(directory)
    return load_official(state, config)
