"""HuBERT weights -> ``models.hubert.Hubert``: from transformers' ``HubertModel`` (or ``HubertForCTC``, whose
``hubert.`` prefix is stripped and ``lm_head`` dropped) and from fairseq's ``HubertModel`` checkpoints (the
``hubert_base_ls960.pt`` UniAudio reads).

transformers -> ours:

- ``feature_extractor.conv_layers.<i>.conv`` / ``.layer_norm`` -> ``feature_extractor.layers.<i>.conv`` / ``.norm``;
- ``feature_projection.layer_norm`` / ``.projection`` -> ``feature_norm`` / ``feature_projection``;
- ``encoder.pos_conv_embed.conv``: weight norm (``weight_g`` / ``weight_v`` or ``parametrizations.weight.original0``
  / ``original1``, norm over every axis but the kernel axis, dim 2) folded into ``pos_conv.conv.weight``;
- ``encoder.layer_norm`` -> ``input_norm`` (post-norm: applied before the layers) or ``encoder.norm`` (stable layer
  norm: the final norm);
- ``encoder.layers.<i>.attention.{q,k,v,out}_proj`` -> ``encoder.layers.<i>.self_attn.{q,k,v,o}_proj``;
  ``feed_forward.intermediate_dense`` / ``output_dense`` -> ``mlp.up_proj`` / ``mlp.down_proj``;
  the layer's ``layer_norm`` / ``final_layer_norm`` -> ``post_attention_layernorm`` / ``post_feedforward_layernorm``
  (post-norm) or ``input_layernorm`` / ``post_attention_layernorm`` (pre-norm);
- ``masked_spec_embed`` (training-time masking) is dropped.

wav2vec 2.0 (transformers' ``Wav2Vec2Model``: XLSR-53, ...) has the same encoder and the same key names:
``convert/wav2vec2.py`` uses ``encoder_config`` and ``convert_state_dict`` with its own prefix and heads.

fairseq -> transformers names (then as above), the mapping transformers' own HuBERT conversion uses:
``feature_extractor.conv_layers.<i>.0`` (conv), ``.2`` (GroupNorm, "default" extractor) or ``.2.1`` (LayerNorm,
"layer_norm" extractor); ``layer_norm`` (the conv features' norm) -> ``feature_projection.layer_norm``;
``post_extract_proj`` -> ``feature_projection.projection``; ``encoder.pos_conv.0`` -> ``encoder.pos_conv_embed.conv``;
``self_attn.*`` -> ``attention.*`` (``out_proj`` kept), ``self_attn_layer_norm`` -> ``layer_norm``, ``fc1`` / ``fc2`` ->
``feed_forward.intermediate_dense`` / ``output_dense``; dropped: ``mask_emb``, ``label_embs_concat``, ``final_proj``
(the pre-training heads). Fine-tuned checkpoints' ``w2v_encoder.w2v_model.`` prefix is stripped and
``w2v_encoder.proj`` dropped. The config is read from the checkpoint's ``cfg["model"]`` (or legacy ``args``):
``encoder_layers``, ``encoder_embed_dim``, ``encoder_ffn_embed_dim``, ``encoder_attention_heads``, ``extractor_mode``,
``conv_feature_layers``, ``conv_bias``, ``conv_pos``, ``conv_pos_groups``, ``layer_norm_first``.
"""
from __future__ import annotations

import ast
import os
import re
from typing import Any, Mapping

import torch

from ..models.hubert import Hubert, HubertConfig
from .common import fold_weight_norm, load_strict

_TF_DROP = ("masked_spec_embed", "lm_head.")
_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$")
_ATTN = {"attention.q_proj": "self_attn.q_proj", "attention.k_proj": "self_attn.k_proj",
         "attention.v_proj": "self_attn.v_proj", "attention.out_proj": "self_attn.o_proj",
         "feed_forward.intermediate_dense": "mlp.up_proj", "feed_forward.output_dense": "mlp.down_proj"}
_NORMS = {False: {"layer_norm": "post_attention_layernorm", "final_layer_norm": "post_feedforward_layernorm"},
          True: {"layer_norm": "input_layernorm", "final_layer_norm": "post_attention_layernorm"}}
_CONV = re.compile(r"^feature_extractor\.conv_layers\.(\d+)\.(conv|layer_norm)\.(weight|bias)$")
_POS = "encoder.pos_conv_embed.conv."


# -- transformers ------------------------------------------------------------------------------------------------
def config_of(config: Mapping[str, Any]) -> HubertConfig:
    """A transformers HubertConfig dict (config.json) -> ours; refuses what the reference does not implement, and
    another model's config (wav2vec 2.0: ``convert/wav2vec2.py``)."""
    model_type = config.get("model_type", "hubert")
    if model_type != "hubert":
        raise ValueError(f"config.json is a {model_type!r} model, not 'hubert'"
                         + (" (voxlite.convert.wav2vec2 reads it)" if model_type == "wav2vec2" else ""))
    return encoder_config(config, "HuBERT")


def encoder_config(config: Mapping[str, Any], what: str) -> HubertConfig:
    """The encoder fields HuBERT and wav2vec 2.0 configs share (same names, same meaning) -> ours; ``what`` names
    the model in errors."""
    d = HubertConfig()
    for key, bad in (("hidden_act", lambda v: v != "gelu"), ("feat_extract_activation", lambda v: v != "gelu"),
                     ("conv_pos_batch_norm", bool), ("adapter_attn_dim", lambda v: v is not None)):
        if key in config and bad(config[key]):
            raise ValueError(f"{what} config {key}={config[key]!r} is not supported")
    n_conv = config.get("num_feat_extract_layers", len(config.get("conv_dim", d.conv_dim)))
    cfg = HubertConfig(
        dim=config.get("hidden_size", d.dim), n_layers=config.get("num_hidden_layers", d.n_layers),
        n_heads=config.get("num_attention_heads", d.n_heads), ffn=config.get("intermediate_size", d.ffn),
        conv_dim=tuple(config.get("conv_dim", d.conv_dim)), conv_kernel=tuple(config.get("conv_kernel", d.conv_kernel)),
        conv_stride=tuple(config.get("conv_stride", d.conv_stride)), conv_bias=config.get("conv_bias", d.conv_bias),
        feat_extract_norm=config.get("feat_extract_norm", d.feat_extract_norm),
        feat_proj_layer_norm=config.get("feat_proj_layer_norm", d.feat_proj_layer_norm),
        pos_conv_kernel=config.get("num_conv_pos_embeddings", d.pos_conv_kernel),
        pos_conv_groups=config.get("num_conv_pos_embedding_groups", d.pos_conv_groups),
        stable_layer_norm=config.get("do_stable_layer_norm", d.stable_layer_norm),
        eps=config.get("layer_norm_eps", d.eps))
    if n_conv != len(cfg.conv_dim):
        raise ValueError(f"num_feat_extract_layers {n_conv} != len(conv_dim) {len(cfg.conv_dim)}")
    return cfg


def convert_state_dict(official: Mapping[str, torch.Tensor], stable_layer_norm: bool, *, prefix: str = "hubert.",
                       drop: tuple[str, ...] = _TF_DROP, what: str = "HuBERT") -> dict[str, torch.Tensor]:
    """A transformers HubertModel (or HubertForCTC) state dict -> ours (module docstring). ``prefix`` (stripped
    where present: a task model's base model), ``drop`` (key prefixes left out: heads, training-time tensors) and
    ``what`` (the model errors name) let wav2vec 2.0, the same encoder, use this mapping."""
    state = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in official.items()}
    out: dict[str, torch.Tensor] = {}
    pos: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith(drop):
            continue
        if key.startswith(_POS):
            pos[key[len(_POS):]] = value
            continue
        m = _CONV.match(key)
        if m:
            i, part, kind = m.groups()
            out[f"feature_extractor.layers.{i}.{'conv' if part == 'conv' else 'norm'}.{kind}"] = value
            continue
        m = _LAYER.match(key)
        if m:
            i, part, kind = m.groups()
            name = _ATTN.get(part) or _NORMS[stable_layer_norm].get(part)
            if name is None:
                raise ValueError(f"unexpected {what} key {key!r}")
            out[f"encoder.layers.{i}.{name}.{kind}"] = value
            continue
        for src, dst in (("feature_projection.layer_norm.", "feature_norm."),
                         ("feature_projection.projection.", "feature_projection."),
                         ("encoder.layer_norm.", "encoder.norm." if stable_layer_norm else "input_norm.")):
            if key.startswith(src):
                out[dst + key[len(src):]] = value
                break
        else:
            raise ValueError(f"unexpected {what} key {key!r}")
    if "weight_g" in pos:
        g, v = pos.pop("weight_g"), pos.pop("weight_v")
    elif "parametrizations.weight.original0" in pos:
        g, v = pos.pop("parametrizations.weight.original0"), pos.pop("parametrizations.weight.original1")
    elif "weight" in pos:  # already folded
        g, v = None, pos.pop("weight")
    else:
        raise ValueError(f"{what} state dict has no positional conv weight (encoder.pos_conv_embed.conv)")
    out["pos_conv.conv.weight"] = v if g is None else fold_weight_norm(g, v, dim=2)
    if set(pos) != {"bias"}:
        raise ValueError(f"unexpected positional conv keys {sorted(pos)} (batch-norm variants are not supported)")
    out["pos_conv.conv.bias"] = pos["bias"]
    return {k: v.float() for k, v in out.items()}


def load_official(state: Mapping[str, torch.Tensor], config: Mapping[str, Any] | HubertConfig,
                  output_layer: int | None = None) -> Hubert:
    """Ours from a transformers config dict (or ours) and a transformers state dict; eval mode."""
    cfg = config if isinstance(config, HubertConfig) else config_of(config)
    model = Hubert(cfg, output_layer)
    load_strict(model, convert_state_dict(state, cfg.stable_layer_norm))
    return model.eval()


def load_official_dir(directory: str | os.PathLike, output_layer: int | None = None) -> Hubert:
    """A local transformers folder (config.json and model.safetensors / pytorch_model.bin, e.g. a copy of
    facebook/hubert-base-ls960). Nothing is downloaded."""
    from .common import read_component_dir

    config, state = read_component_dir(directory)
    return load_official(state, config, output_layer)


# -- fairseq -----------------------------------------------------------------------------------------------------
_FS_DROP = ("mask_emb", "label_embs_concat", "final_proj.", "w2v_encoder.proj.")
_FS_LAYER = {"self_attn.q_proj": "attention.q_proj", "self_attn.k_proj": "attention.k_proj",
             "self_attn.v_proj": "attention.v_proj", "self_attn.out_proj": "attention.out_proj",
             "self_attn_layer_norm": "layer_norm", "fc1": "feed_forward.intermediate_dense",
             "fc2": "feed_forward.output_dense", "final_layer_norm": "final_layer_norm"}
_FS_CONV = re.compile(r"^feature_extractor\.conv_layers\.(\d+)\.(0|2|2\.1)\.(weight|bias)$")


def fairseq_to_transformers(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fairseq HuBERT key names -> transformers' (module docstring)."""
    prefix = "w2v_encoder.w2v_model."
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key[len(prefix):] if key.startswith(prefix) else key
        if key.startswith(_FS_DROP):
            continue
        m = _FS_CONV.match(key)
        if m:
            i, part, kind = m.groups()
            out[f"feature_extractor.conv_layers.{i}.{'conv' if part == '0' else 'layer_norm'}.{kind}"] = value
            continue
        m = re.match(r"^encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$", key)
        if m:
            i, part, kind = m.groups()
            if part not in _FS_LAYER:
                raise ValueError(f"unexpected fairseq HuBERT key {key!r}")
            out[f"encoder.layers.{i}.{_FS_LAYER[part]}.{kind}"] = value
            continue
        for src, dst in (("layer_norm.", "feature_projection.layer_norm."),
                         ("post_extract_proj.", "feature_projection.projection."),
                         ("encoder.pos_conv.0.", _POS), ("encoder.layer_norm.", "encoder.layer_norm.")):
            if key.startswith(src):
                out[dst + key[len(src):]] = value
                break
        else:
            raise ValueError(f"unexpected fairseq HuBERT key {key!r}")
    return out


def _conv_layers(spec: str) -> list[tuple[int, int, int]]:
    """fairseq's ``conv_feature_layers`` string ("[(512,10,5)] + [(512,3,2)] * 4 + ...") evaluated safely: only
    lists of int tuples, ``+`` and ``* int``."""
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(ev(e) for e in node.elts)
        if isinstance(node, ast.List):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            a, b = ev(node.left), ev(node.right)
            return a + b if isinstance(node.op, ast.Add) else a * b
        raise ValueError(f"conv_feature_layers {spec!r} is not a list of (dim, kernel, stride) tuples")

    layers = ev(ast.parse(spec, mode="eval"))
    if not isinstance(layers, list) or not all(isinstance(t, tuple) and len(t) == 3 for t in layers):
        raise ValueError(f"conv_feature_layers {spec!r} is not a list of (dim, kernel, stride) tuples")
    return layers


def fairseq_config_of(cfg: Mapping[str, Any]) -> HubertConfig:
    """fairseq's HubertConfig fields (a checkpoint's ``cfg["model"]``, or ``vars(args)``) -> ours. Fields left out
    take fairseq's defaults (which are hubert_base's)."""
    get = cfg.get
    if get("activation_fn", "gelu") != "gelu":
        raise ValueError(f"fairseq activation_fn {get('activation_fn')!r} is not supported")
    if get("pos_conv_depth", 1) != 1:
        raise ValueError("fairseq pos_conv_depth > 1 is not supported")
    mode = get("extractor_mode", "default")
    if mode not in ("default", "layer_norm"):
        raise ValueError(f"fairseq extractor_mode {mode!r} is not supported")
    layers = _conv_layers(get("conv_feature_layers", "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"))
    return HubertConfig(
        dim=get("encoder_embed_dim", 768), n_layers=get("encoder_layers", 12),
        n_heads=get("encoder_attention_heads", 12), ffn=get("encoder_ffn_embed_dim", 3072),
        conv_dim=tuple(t[0] for t in layers), conv_kernel=tuple(t[1] for t in layers),
        conv_stride=tuple(t[2] for t in layers), conv_bias=bool(get("conv_bias", False)),
        feat_extract_norm="layer" if mode == "layer_norm" else "group", feat_proj_layer_norm=True,
        pos_conv_kernel=get("conv_pos", 128), pos_conv_groups=get("conv_pos_groups", 16),
        stable_layer_norm=bool(get("layer_norm_first", False)), eps=1e-5)


def load_fairseq(state: Mapping[str, torch.Tensor], cfg: Mapping[str, Any] | HubertConfig,
                 output_layer: int | None = None) -> Hubert:
    """Ours from a fairseq HuBERT state dict (checkpoint ``["model"]``) and its model config; eval mode."""
    config = cfg if isinstance(cfg, HubertConfig) else fairseq_config_of(cfg)
    return load_official(fairseq_to_transformers(state), config, output_layer)


def read_fairseq_checkpoint(path: str | os.PathLike, *, trust_pickle: bool = False
                            ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict, model config dict) of a fairseq checkpoint. fairseq pickles its config (omegaconf / argparse
    objects), which ``torch.load(weights_only=True)`` refuses: ``trust_pickle=True`` loads it fully (runs the
    pickle's code: only for files you trust). Without it, a checkpoint re-saved as ``{"model": state_dict,
    "cfg": {"model": {...plain dict...}}}`` is read safely."""
    ckpt = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    if "model" not in ckpt:
        raise ValueError(f"{path}: not a fairseq checkpoint (no 'model' entry)")
    if ckpt.get("cfg") is not None:
        cfg = ckpt["cfg"]["model"]
    elif ckpt.get("args") is not None:
        cfg = vars(ckpt["args"])
    else:
        cfg = {}
    if not isinstance(cfg, dict):
        try:  # omegaconf DictConfig
            from omegaconf import OmegaConf

            cfg = OmegaConf.to_container(cfg, resolve=True)
        except ImportError:
            cfg = dict(cfg)
    if "w2v_args" in cfg and cfg["w2v_args"] is not None:  # fine-tuned: the encoder's own config
        inner = cfg["w2v_args"]
        cfg = dict(inner.get("model", inner)) if isinstance(inner, Mapping) else vars(inner)
    return dict(ckpt["model"]), dict(cfg)
