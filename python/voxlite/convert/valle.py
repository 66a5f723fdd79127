"""VALL-E X checkpoints (``vallex.models.vallex.VALLE``, the ``model`` entry of ``vallex-checkpoint.pt``) -> ``VallE``.

Official layout -> ours:
- ``*.word_embeddings.weight`` (TokenEmbedding) -> ``*.weight``; the seven ``nar_stage_embeddings.<i>`` (1, C) rows
  -> one (7, C) ``nar_stage_embeddings``;
- ``{ar,nar}_{text,audio}_position.alpha`` -> ``{ar,nar}_{text,audio}_alpha``;
- decoder layers: ``self_attn.in_proj_weight / in_proj_bias`` (packed q, k, v) -> ``q_proj / k_proj / v_proj``,
  ``self_attn.out_proj`` -> ``o_proj``, ``linear1 / linear2`` -> ``mlp.up_proj / down_proj``, ``norm1 / norm2`` ->
  ``input_layernorm / post_attention_layernorm`` (NAR: ``.norm`` and ``.project_layer`` -> ``.norm`` and
  ``.project``), final ``norm`` kept (NAR: adaptive likewise);
- ``ar_predict_layer`` -> ``ar_predict``; ``nar_predict_layers.<i>`` -> ``nar_predict.<i>`` (VALL-E X ties
  layers 0..5 to ``nar_audio_embeddings.2..7``; the checkpoint holds both, so ours keeps its own copy).
Prenet checkpoints (``add_prenet``) are refused: no published model uses them.
The head count is not in the weights: VALL-E X uses 16.
"""
from __future__ import annotations

import re
from typing import Mapping

import torch

from ..models.valle import VallE, VallEConfig
from .common import load_strict

_LAYER = re.compile(r"^(ar|nar)_decoder\.layers\.(\d+)\.(.+)$")
_LAYER_RENAMES = (("self_attn.out_proj.", "self_attn.o_proj."), ("linear1.", "mlp.up_proj."),
                  ("linear2.", "mlp.down_proj."), ("norm1.", "input_layernorm."),
                  ("norm2.", "post_attention_layernorm."), ("project_layer.", "project."))


def config_of(state: Mapping[str, torch.Tensor], n_heads: int = 16, prefix_mode: int = 1) -> VallEConfig:
    """The config a VALL-E X state dict was built with (widths and counts read from the weights)."""
    text = state["ar_text_embedding.word_embeddings.weight"]
    n_audio = state["ar_predict_layer.weight"].shape[0] - 1
    layers = {int(m.group(2)) for k in state if (m := _LAYER.match(k)) and m.group(1) == "ar"}
    nar_layers = {int(m.group(2)) for k in state if (m := _LAYER.match(k)) and m.group(1) == "nar"}
    if layers != nar_layers:
        raise ValueError(f"AR has {len(layers)} layers, NAR {len(nar_layers)}: only nar_scale_factor 1 is supported")
    n_q = sum(1 for k in state if re.match(r"^nar_audio_embeddings\.\d+\.word_embeddings\.weight$", k))
    lang = state.get("ar_language_embedding.word_embeddings.weight")
    ffn = state["ar_decoder.layers.0.linear1.weight"].shape[0]
    dim = text.shape[1]
    n_task = state["ar_audio_embedding.word_embeddings.weight"].shape[0] - (n_audio + 2)
    return VallEConfig(dim=dim, n_heads=n_heads, n_layers=len(layers), n_text_tokens=text.shape[0],
                       n_audio_tokens=n_audio, n_quantizers=n_q, n_languages=0 if lang is None else lang.shape[0],
                       prefix_mode=prefix_mode, n_task_tokens=n_task, ffn_mult=ffn // dim)


def convert_state_dict(official: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if any("prenet" in k for k in official):
        raise ValueError("this VALL-E checkpoint has prenets (add_prenet=True): not supported")
    out: dict[str, torch.Tensor] = {}
    stages: dict[int, torch.Tensor] = {}
    for key, value in official.items():
        m = re.match(r"^nar_stage_embeddings\.(\d+)\.word_embeddings\.weight$", key)
        if m:
            stages[int(m.group(1))] = value.reshape(-1)
            continue
        key = key.replace(".word_embeddings.weight", ".weight")
        key = re.sub(r"^(ar|nar)_(text|audio)_position\.alpha$", r"\1_\2_alpha", key)
        key = key.replace("ar_predict_layer.", "ar_predict.").replace("nar_predict_layers.", "nar_predict.")
        layer = _LAYER.match(key)
        if layer:
            side, i, rest = layer.groups()
            if rest in ("self_attn.in_proj_weight", "self_attn.in_proj_bias"):
                kind = "weight" if rest.endswith("weight") else "bias"
                for name, part in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0)):
                    out[f"{side}_decoder.layers.{i}.self_attn.{name}.{kind}"] = part.clone()
                continue
            for old, new in _LAYER_RENAMES:
                rest = rest.replace(old, new)
            key = f"{side}_decoder.layers.{i}.{rest}"
        elif key.startswith("nar_decoder.norm.project_layer."):
            key = key.replace("project_layer.", "project.")
        out[key] = value
    if stages:
        if sorted(stages) != list(range(len(stages))):
            raise ValueError(f"stage embeddings are not 0..n-1: {sorted(stages)}")
        out["nar_stage_embeddings"] = torch.stack([stages[i] for i in range(len(stages))])
    return out


def load_official(checkpoint: Mapping[str, torch.Tensor], n_heads: int = 16, prefix_mode: int = 1) -> VallE:
    """An official state dict (``torch.load(path)["model"]``) -> VallE in eval mode."""
    state = dict(checkpoint.get("model", checkpoint)) if isinstance(checkpoint.get("model"), Mapping) \
        else dict(checkpoint)
    model = VallE(config_of(state, n_heads, prefix_mode))
    load_strict(model, convert_state_dict(state))
    return model.eval()
