"""UniAudio LM checkpoints (the official ``MegaByteModel``; training checkpoints keep its state dict under
``["model"]``, possibly with a ``module.`` prefix from DDP) -> ``UniAudioLM``.

Official layout -> ours:
- ``g_emb`` / ``g_pos`` / ``g_ln`` -> ``global_embed`` / ``global_pos`` / ``global_stack.norm``;
  ``l_emb`` / ``l_pos`` / ``l_ln`` -> ``local_embed`` / ``local_pos`` / ``local_stack.norm``;
- blocks ``{g,l}_layers.N.``: ``attn.query / key / value / out`` -> ``self_attn.q_proj / k_proj / v_proj / o_proj``
  (no key bias on either side), ``attn_ln`` -> ``input_layernorm``, ``mlp_ln`` -> ``post_attention_layernorm``,
  ``mlp.0`` / ``mlp.2`` -> ``mlp.up_proj`` / ``mlp.down_proj``;
- ``g2l_linear`` -> ``global_to_local``; ``lm_head`` kept; ``continuous_mappings.<kind>`` -> ``continuous.<kind>``.

The configuration is the constructor's keyword arguments (``n_vocab, n_ctx, n_state, n_head, n_layer, prefix_lm,
na_repeat, local_sos, global_sos``; the head count is not in the weights) plus the joint token list, from which the
codec-id layout ``generate`` needs is read (``<audio_0>``, the number of ``<audio_N>`` ids, ``<audio_start>``,
``<audio_end>``).
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import torch

from ..models.uniaudio import UniAudioConfig, UniAudioLM
from .common import load_strict

_CONSTRUCTOR = ("n_vocab", "n_ctx", "n_state", "n_head", "n_layer", "prefix_lm", "na_repeat", "local_sos",
                "global_sos")
_TOP = {"g_emb.": "global_embed.", "g_pos.": "global_pos.", "g_ln.": "global_stack.norm.",
        "l_emb.": "local_embed.", "l_pos.": "local_pos.", "l_ln.": "local_stack.norm.",
        "g2l_linear.": "global_to_local.", "lm_head.": "lm_head.", "continuous_mappings.": "continuous."}
_BLOCK = {"attn.query.": "self_attn.q_proj.", "attn.key.": "self_attn.k_proj.", "attn.value.": "self_attn.v_proj.",
          "attn.out.": "self_attn.o_proj.", "attn_ln.": "input_layernorm.", "mlp_ln.": "post_attention_layernorm.",
          "mlp.0.": "mlp.up_proj.", "mlp.2.": "mlp.down_proj."}
_LAYER = re.compile(r"^([gl])_layers\.(\d+)\.(.+)$")
_AUDIO = re.compile(r"^<audio_(\d+)>$")


def unwrap(checkpoint: Mapping) -> dict[str, torch.Tensor]:
    """A training checkpoint (``{"model": state, ...}``) or a bare state dict, ``module.`` prefixes removed."""
    state = checkpoint["model"] if isinstance(checkpoint.get("model"), Mapping) else checkpoint
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def config_from_official(kwargs: Mapping, token_list: Sequence[str] | None = None) -> UniAudioConfig:
    """Constructor kwargs (+ the joint token list, for the codec-id layout) -> UniAudioConfig."""
    unknown = set(kwargs) - set(_CONSTRUCTOR)
    if unknown:
        raise ValueError(f"unknown MegaByteModel arguments {sorted(unknown)}")
    args = {k: kwargs[k] for k in _CONSTRUCTOR if k in kwargs}
    if token_list is not None:
        tokens = list(token_list)
        if len(tokens) != args.get("n_vocab", len(tokens)):
            raise ValueError(f"token list has {len(tokens)} entries, n_vocab is {args['n_vocab']}")
        audio = [i for i, t in enumerate(tokens) if _AUDIO.match(t)]
        if not audio or audio != list(range(audio[0], audio[0] + len(audio))) or tokens[audio[0]] != "<audio_0>":
            raise ValueError("the token list has no contiguous <audio_0> .. <audio_N> range")
        r = args.get("na_repeat", 3)
        args.update(audio_offset=audio[0], audio_bins=len(audio) // r,  # codebooks, then maybe a mask id
                    audio_start=tokens.index("<audio_start>"), audio_end=tokens.index("<audio_end>"))
    return UniAudioConfig(**args)


def convert_state_dict(official: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in unwrap(official).items():
        m = _LAYER.match(key)
        if m:
            side, i, rest = m.groups()
            for old, new in _BLOCK.items():
                if rest.startswith(old):
                    rest = new + rest[len(old):]
                    break
            else:
                raise ValueError(f"unexpected block parameter {key}")
            out[f"{'global' if side == 'g' else 'local'}_stack.layers.{i}.{rest}"] = value
            continue
        for old, new in _TOP.items():
            if key.startswith(old):
                out[new + key[len(old):]] = value
                break
        else:
            raise ValueError(f"unexpected parameter {key}")
    return out


def load_official(checkpoint: Mapping, kwargs: Mapping, token_list: Sequence[str] | None = None) -> UniAudioLM:
    """Official weights (state dict or training checkpoint) + constructor kwargs (+ token list) -> UniAudioLM in
    eval mode, every parameter matched (strict)."""
    model = UniAudioLM(config_from_official(kwargs, token_list))
    load_strict(model, convert_state_dict(checkpoint))
    return model.eval()
