"""Hugging Face CLAP weights (``ClapModel``: AudioLDM 2's ``text_encoder``; or ``ClapTextModelWithProjection``) ->
``ClapTextEncoder``. Only the text tower is read: ``audio_model.*``, ``audio_projection.*`` and the logit scales are
dropped, as are the embeddings' ``position_ids`` / ``token_type_ids`` buffers (index ranges, not weights).

- ``text_model.embeddings.{word,position,token_type}_embeddings`` kept by name; ``embeddings.LayerNorm`` ->
  ``embedding_norm``;
- ``text_model.encoder.layer.<i>.attention.self.{query,key,value}`` -> ``encoder.layers.<i>.self_attn.{q,k,v}_proj``;
  ``attention.output.dense`` / ``.LayerNorm`` -> ``self_attn.o_proj`` / ``post_attention_layernorm``;
  ``intermediate.dense`` -> ``mlp.up_proj``; ``output.dense`` / ``.LayerNorm`` -> ``mlp.down_proj`` /
  ``post_feedforward_layernorm``;
- ``text_model.pooler.dense`` -> ``pooler``; ``text_projection.linear1 / linear2`` -> ``projection.linear1 / linear2``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import torch

from ..models.clap_text import ClapTextConfig, ClapTextEncoder
from .common import load_strict, read_component_dir

_IGNORED = ("audio_model.", "audio_projection.", "logit_scale_a", "logit_scale_t",
            "text_model.embeddings.position_ids", "text_model.embeddings.token_type_ids")
_LAYER = re.compile(r"^text_model\.encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$")
_LAYER_RENAMES = {"attention.self.query": "self_attn.q_proj", "attention.self.key": "self_attn.k_proj",
                  "attention.self.value": "self_attn.v_proj", "attention.output.dense": "self_attn.o_proj",
                  "attention.output.LayerNorm": "post_attention_layernorm", "intermediate.dense": "mlp.up_proj",
                  "output.dense": "mlp.down_proj", "output.LayerNorm": "post_feedforward_layernorm"}
_PREFIX_RENAMES = (("text_model.embeddings.LayerNorm.", "embedding_norm."), ("text_model.embeddings.", ""),
                   ("text_model.pooler.dense.", "pooler."), ("text_projection.", "projection."))


def config_of(config: Mapping[str, Any]) -> ClapTextConfig:
    """A transformers ClapConfig dict (config.json) -> ours."""
    return ClapTextConfig.from_transformers(config)


def convert_state_dict(official: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in official.items():
        if key.startswith(_IGNORED):
            continue
        m = _LAYER.match(key)
        if m and m.group(2) in _LAYER_RENAMES:
            i, part, kind = m.groups()
            out[f"encoder.layers.{i}.{_LAYER_RENAMES[part]}.{kind}"] = value
            continue
        prefix = next((p for p in _PREFIX_RENAMES if key.startswith(p[0])), None)
        if m or prefix is None:
            raise ValueError(f"unexpected CLAP key {key!r}")
        out[prefix[1] + key[len(prefix[0]):]] = value
    return out


def load_official(state: Mapping[str, torch.Tensor], config: Mapping[str, Any] | ClapTextConfig
                  ) -> ClapTextEncoder:
    """Build ours from a ClapConfig dict (or our config) and load a transformers state dict; eval mode."""
    cfg = config if isinstance(config, ClapTextConfig) else config_of(config)
    model = ClapTextEncoder(cfg)
    load_strict(model, convert_state_dict(state))
    return model.eval()


def load_official_dir(directory: str | Path) -> ClapTextEncoder:
    """A local transformers folder (e.g. a copy of cvssp/audioldm2's ``text_encoder/``): config.json and
    model.safetensors (or sharded, or pytorch_model.bin); the audio tower's weights are read and dropped. Nothing is
    downloaded."""
    config, state = read_component_dir(directory)
    return load_official(state, config)
