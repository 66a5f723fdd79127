"""transformers ``VitsModel`` weights (AudioLDM 2's speech ``text_encoder_2/``) -> ``VitsTextEncoder``.

Only ``text_encoder.*`` is kept (a state dict of the bare text encoder, without that prefix, is accepted too):

- ``embed_tokens`` kept; ``encoder.layers.<i>.attention.{q,k,v,out}_proj`` kept;
- ``attention.emb_rel_k / emb_rel_v`` (1, 2w+1, head_dim) -> ``attention.rel_k / rel_v`` (2w+1, head_dim);
- ``layer_norm`` -> ``attention_norm``, ``final_layer_norm`` -> ``ffn_norm``,
  ``feed_forward.conv_1 / conv_2`` -> ``ffn.conv_in / conv_out``;
- ``text_encoder.project`` (the prior's means / log-variances, unused by the pipeline) and every other part of VITS
  (flow, decoder, duration predictor, posterior encoder, speaker table) are dropped.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import torch

from ..models.vits_text_encoder import VitsTextEncoder, VitsTextEncoderConfig
from .common import load_strict, read_component_dir

_PREFIX = "text_encoder."
_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.(.+)$")
_RENAMES = {"layer_norm.": "attention_norm.", "final_layer_norm.": "ffn_norm.",
            "feed_forward.conv_1.": "ffn.conv_in.", "feed_forward.conv_2.": "ffn.conv_out.",
            "attention.emb_rel_k": "attention.rel_k", "attention.emb_rel_v": "attention.rel_v"}


def _text_encoder_part(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if any(k.startswith(_PREFIX) for k in state):
        return {k[len(_PREFIX):]: v for k, v in state.items() if k.startswith(_PREFIX)}
    return dict(state)


def convert_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in _text_encoder_part(state).items():
        if key.startswith("project."):
            continue
        if key == "embed_tokens.weight":
            out[key] = value
            continue
        m = _LAYER.match(key)
        if not m:
            raise ValueError(f"unexpected VITS text encoder key {key!r}")
        i, rest = m.groups()
        for old, new in _RENAMES.items():
            if rest.startswith(old):
                rest = new + rest[len(old):]
                break
        if rest in ("attention.rel_k", "attention.rel_v"):
            value = value.reshape(value.shape[-2:])  # the head-shared table's leading 1
        out[f"layers.{i}.{rest}"] = value
    return out


def config_of(config: Mapping[str, Any]) -> VitsTextEncoderConfig:
    """Our config from a transformers ``VitsConfig`` dict (config.json)."""
    return VitsTextEncoderConfig.from_transformers(config)


def load_official(state: Mapping[str, torch.Tensor], config: Mapping[str, Any] | VitsTextEncoderConfig
                  ) -> VitsTextEncoder:
    """Build ours from a VitsConfig dict (or our config) and load a VitsModel (or bare text encoder) state dict."""
    cfg = config if isinstance(config, VitsTextEncoderConfig) else config_of(config)
    model = VitsTextEncoder(cfg)
    load_strict(model, convert_state_dict(state))
    return model.eval()


def load_official_dir(directory: str | Path) -> VitsTextEncoder:
    """A local transformers folder (e.g. a copy of a speech checkpoint's ``text_encoder_2/``): config.json plus
    model.safetensors (or pytorch_model.bin). Nothing is downloaded."""
    config, state = read_component_dir(directory)
    return load_official(state, config)
