"""w2v-BERT 2.0 weights -> ``models.w2v_bert.W2VBert``, from transformers' ``Wav2Vec2BertModel`` (or a model with
it under ``wav2vec2_bert.``: ``Wav2Vec2BertForCTC`` and the classification heads, whose heads are dropped), e.g. a
local copy of facebook/w2v-bert-2.0 (config.json + model.safetensors). fairseq2's ``conformer_shaw.pt`` in the
same repository is not read.

transformers -> ours (``encoder.layers.<i>.`` -> ``layers.<i>.``):

- ``feature_projection.layer_norm`` / ``.projection`` -> ``feature_norm`` / ``feature_projection``;
- ``ffn1_layer_norm`` / ``self_attn_layer_norm`` / ``ffn2_layer_norm`` / ``final_layer_norm`` -> ``ffn1_norm`` /
  ``attn_norm`` / ``ffn2_norm`` / ``final_norm``;
- ``ffn{1,2}.intermediate_dense`` / ``output_dense`` -> ``ffn{1,2}.up_proj`` / ``down_proj``;
- ``self_attn.linear_{q,k,v,out}`` -> ``self_attn.{q,k,v,o}_proj``; ``self_attn.distance_embedding`` ->
  ``position.distance_embedding``;
- ``conv_module.layer_norm`` / ``depthwise_layer_norm`` -> ``conv.norm`` / ``conv.depthwise_norm``;
  ``pointwise_conv1`` / ``pointwise_conv2`` (kernel-1 Conv1d, (out, in, 1)) -> ``conv.pointwise_in`` /
  ``conv.pointwise_out`` Linear weights (out, in); ``depthwise_conv`` -> ``conv.depthwise.conv``;
- dropped: ``masked_spec_embed`` (training-time masking), ``adapter.*`` and ``intermediate_ffn.*`` (applied after
  the encoder, to ``last_hidden_state`` only: no layer's hidden state depends on them), heads (``lm_head``,
  ``projector``, ``classifier``, ``tdnn``, ``feature_extractor``, ``objective``, ``layer_weights``).
"""
from __future__ import annotations

import os
import re
from typing import Any, Mapping

import torch

from ..models.w2v_bert import POSITIONS, W2VBert, W2VBertConfig
from .common import load_strict

_PREFIX = "wav2vec2_bert."
_DROP = ("masked_spec_embed", "adapter.", "intermediate_ffn.", "lm_head.", "projector.", "classifier.", "tdnn.",
         "feature_extractor.", "objective.", "layer_weights")
_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$")
_PARTS = {"ffn1_layer_norm": "ffn1_norm", "ffn1.intermediate_dense": "ffn1.up_proj",
          "ffn1.output_dense": "ffn1.down_proj", "self_attn_layer_norm": "attn_norm",
          "self_attn.linear_q": "self_attn.q_proj", "self_attn.linear_k": "self_attn.k_proj",
          "self_attn.linear_v": "self_attn.v_proj", "self_attn.linear_out": "self_attn.o_proj",
          "self_attn.distance_embedding": "position.distance_embedding", "conv_module.layer_norm": "conv.norm",
          "conv_module.pointwise_conv1": "conv.pointwise_in", "conv_module.depthwise_conv": "conv.depthwise.conv",
          "conv_module.depthwise_layer_norm": "conv.depthwise_norm",
          "conv_module.pointwise_conv2": "conv.pointwise_out", "ffn2_layer_norm": "ffn2_norm",
          "ffn2.intermediate_dense": "ffn2.up_proj", "ffn2.output_dense": "ffn2.down_proj",
          "final_layer_norm": "final_norm"}
_POINTWISE = ("conv.pointwise_in", "conv.pointwise_out")


def config_of(config: Mapping[str, Any]) -> W2VBertConfig:
    """A transformers Wav2Vec2BertConfig dict (config.json) -> ours; refuses what the reference does not implement.
    Keys left out take transformers' defaults (which are facebook/w2v-bert-2.0's)."""
    d = W2VBertConfig()
    act = config.get("hidden_act", "swish")
    if act not in ("swish", "silu"):
        raise ValueError(f"w2v-BERT config hidden_act={act!r} is not supported (only swish / silu)")
    position = config.get("position_embeddings_type", d.position)
    if position not in POSITIONS:
        raise ValueError(f"w2v-BERT config position_embeddings_type={position!r} is not supported: only "
                         f"'relative_key' (Shaw, facebook/w2v-bert-2.0's) and None are implemented")
    return W2VBertConfig(
        dim=config.get("hidden_size", d.dim), n_layers=config.get("num_hidden_layers", d.n_layers),
        n_heads=config.get("num_attention_heads", d.n_heads), ffn=config.get("intermediate_size", d.ffn),
        input_dim=config.get("feature_projection_input_dim", d.input_dim),
        conv_kernel=config.get("conv_depthwise_kernel_size", d.conv_kernel), position=position,
        left_max_position=config.get("left_max_position_embeddings", d.left_max_position),
        right_max_position=config.get("right_max_position_embeddings", d.right_max_position),
        eps=config.get("layer_norm_eps", d.eps))


def convert_state_dict(official: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A transformers Wav2Vec2BertModel (or head model) state dict -> ours (module docstring)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in official.items():
        key = key[len(_PREFIX):] if key.startswith(_PREFIX) else key
        if key.startswith(_DROP):
            continue
        m = _LAYER.match(key)
        if m:
            i, part, kind = m.groups()
            if part not in _PARTS:
                raise ValueError(f"unexpected w2v-BERT key {key!r} (rotary / relative positions are not supported)")
            name = _PARTS[part]
            if name in _POINTWISE:
                if value.dim() != 3 or value.shape[-1] != 1:
                    raise ValueError(f"{key}: expected a kernel-1 conv weight (out, in, 1), got {tuple(value.shape)}")
                value = value[..., 0]
            out[f"layers.{i}.{name}.{kind}"] = value
            continue
        for src, dst in (("feature_projection.layer_norm.", "feature_norm."),
                         ("feature_projection.projection.", "feature_projection.")):
            if key.startswith(src):
                out[dst + key[len(src):]] = value
                break
        else:
            raise ValueError(f"unexpected w2v-BERT key {key!r}")
    return {k: v.float() for k, v in out.items()}


def load_official(state: Mapping[str, torch.Tensor], config: Mapping[str, Any] | W2VBertConfig,
                  output_layer: int | None = None) -> W2VBert:
    """Ours from a transformers config dict (or ours) and a transformers state dict; eval mode."""
    cfg = config if isinstance(config, W2VBertConfig) else config_of(config)
    model = W2VBert(cfg, output_layer)
    load_strict(model, convert_state_dict(state))
    return model.eval()


def load_official_dir(directory: str | os.PathLike, output_layer: int | None = None) -> W2VBert:
    """A local transformers folder (config.json and model.safetensors / pytorch_model.bin, e.g. a copy of
    facebook/w2v-bert-2.0). Nothing is downloaded."""
    from .common import read_component_dir

    config, state = read_component_dir(directory)
    return load_official(state, config, output_layer)
