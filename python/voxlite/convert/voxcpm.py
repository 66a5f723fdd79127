"""VoxCPM-0.5B / 1.5 (voxcpm 2.0.3 ``VoxCPMModel``) -> ``voxlite.models.voxcpm.VoxCPM``.

Official layout (``model.safetensors`` / ``pytorch_model.bin``; the AudioVAE comes from ``audiovae.*`` and is merged
under ``audio_vae.`` when the official model loads):

    base_lm.*, residual_lm.*                         MiniCPM-4 stacks             -> same names
    feat_encoder.{special_token, in_proj, encoder.*}  LocEnc                       -> loc_enc.*
    feat_decoder.estimator.*                          LocDiT (inside UnifiedCFM)   -> loc_dit.*
    fsq_layer.{in_proj, out_proj}                     scalar quantizer             -> fsq.*
    enc_to_lm_proj, lm_to_dit_proj, res_to_dit_proj, stop_proj, stop_head           -> same names
    audio_vae.*                                       AudioVAE                     -> split off (voxcpm_audiovae)

RoPE tables are not in the state dict (buffers built from config.json's LongRoPE factors). LoRA weights are rejected:
merge them into the base weights first.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch

from .common import load_strict

AUDIO_VAE_PREFIX = "audio_vae."
_RENAMES = (("feat_encoder.", "loc_enc."), ("feat_decoder.estimator.", "loc_dit."), ("fsq_layer.", "fsq."))
_SAME = ("base_lm.", "residual_lm.", "enc_to_lm_proj.", "lm_to_dit_proj.", "res_to_dit_proj.", "stop_proj.",
         "stop_head.")


def split_audio_vae(official_state: Mapping[str, torch.Tensor]) -> tuple[dict, dict]:
    """(everything but the AudioVAE, the AudioVAE's entries with ``audio_vae.`` removed)."""
    rest, vae = {}, {}
    for key, value in official_state.items():
        if key.startswith(AUDIO_VAE_PREFIX):
            vae[key[len(AUDIO_VAE_PREFIX):]] = value
        else:
            rest[key] = value
    return rest, vae


def convert_state_dict(official_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official ``VoxCPMModel`` keys -> ours; ``audio_vae.*`` entries are skipped (see ``split_audio_vae``)."""
    state, _ = split_audio_vae(official_state)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if "lora_" in key:
            raise KeyError(f"LoRA weight {key!r}: merge LoRA into the base weights before converting")
        new = None
        for old_prefix, new_prefix in _RENAMES:
            if key.startswith(old_prefix):
                new = new_prefix + key[len(old_prefix):]
                break
        if new is None and key.startswith(_SAME):
            new = key
        if new is None:
            raise KeyError(f"unexpected VoxCPM key {key!r}")
        out[new] = value
    return out


def load_official(path, dtype: torch.dtype = torch.float32):
    """A VoxCPM checkpoint directory (``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``) ->
    ``(VoxCPM, WaveVAE)`` in eval mode; the AudioVAE is loaded from the same directory by ``voxcpm_audiovae``."""
    from voxlite.models.voxcpm import VoxCPM, VoxCPMConfig

    from .voxcpm_audiovae import load_official as load_audio_vae

    path = Path(path)
    config = VoxCPMConfig.from_official(json.loads((path / "config.json").read_text(encoding="utf-8")))
    if (path / "model.safetensors").exists():
        from safetensors.torch import load_file

        state = load_file(str(path / "model.safetensors"), device="cpu")
    elif (path / "pytorch_model.bin").exists():
        state = torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)
        state = state.get("state_dict", state)
    else:
        raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {path}")
    model = VoxCPM(config)
    load_strict(model, {k: v.to(dtype) for k, v in convert_state_dict(state).items()})
    return model.to(dtype).eval(), load_audio_vae(path)
