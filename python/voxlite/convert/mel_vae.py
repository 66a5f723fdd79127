"""diffusers ``AutoencoderKL`` state dict (AudioLDM 2's ``vae/``) -> ours (models/mel_vae.py).

Renames only: ``downsamplers.0`` -> ``downsample``, ``upsamplers.0`` -> ``upsample``,
``mid_block.attentions.0`` -> ``mid_block.attention``, ``to_out.0`` -> ``to_out``. The attention's older diffusers
spelling (``query`` / ``key`` / ``value`` / ``proj_attn``, which diffusers itself renames at load) is accepted too,
as are 1x1-conv attention weights (B, C, 1, 1) from LDM-era checkpoints.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from ..models.mel_vae import MelVAE, MelVAEConfig
from .common import load_strict, read_component_dir

_RENAMES = (
    (".downsamplers.0.", ".downsample."),
    (".upsamplers.0.", ".upsample."),
    ("mid_block.attentions.0.", "mid_block.attention."),
    (".to_out.0.", ".to_out."),
    (".attention.query.", ".attention.to_q."),
    (".attention.key.", ".attention.to_k."),
    (".attention.value.", ".attention.to_v."),
    (".attention.proj_attn.", ".attention.to_out."),
)


def convert_state_dict(official_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in official_state.items():
        for old, new in _RENAMES:
            key = key.replace(old, new)
        if ".attention.to_" in key and key.endswith(".weight") and value.dim() == 4:
            value = value[:, :, 0, 0]  # 1x1 conv -> linear
        out[key] = value
    return out


def load_official(state: Mapping[str, torch.Tensor], config: Mapping[str, Any] | MelVAEConfig) -> MelVAE:
    """Build ours from a diffusers VAE config dict (or our config) and load a diffusers state dict."""
    cfg = config if isinstance(config, MelVAEConfig) else MelVAEConfig.from_diffusers(config)
    model = MelVAE(cfg)
    load_strict(model, convert_state_dict(state))
    return model.eval()


def load_official_dir(directory: str | Path) -> MelVAE:
    """A local diffusers component folder (e.g. a copy of cvssp/audioldm2's ``vae/``). Nothing is downloaded."""
    config, state = read_component_dir(directory)
    return load_official(state, config)
