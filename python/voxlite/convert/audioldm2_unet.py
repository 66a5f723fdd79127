"""diffusers ``AudioLDM2UNet2DConditionModel`` state dict (AudioLDM 2's ``unet/``) -> ours (models/audioldm2_unet.py).

Renames: ``downsamplers.0`` -> ``downsample``, ``upsamplers.0`` -> ``upsample``, ``to_out.0`` -> ``to_out``,
``ff.net.2`` -> ``ff.down_proj``; and one split: the GEGLU's ``ff.net.0.proj`` (rows: the value half, then the
gate half) becomes ``ff.up_proj`` and ``ff.gate_proj``. Everything else (flat ``attentions.<k>`` lists, resnets,
``time_embedding.linear_1/2``) keeps diffusers' name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from ..models.audioldm2_unet import AudioLDM2UNet, AudioLDM2UNetConfig
from .common import load_strict, read_component_dir

_RENAMES = (
    (".downsamplers.0.", ".downsample."),
    (".upsamplers.0.", ".upsample."),
    (".to_out.0.", ".to_out."),
    (".ff.net.2.", ".ff.down_proj."),
)
_GEGLU = ".ff.net.0.proj."


def convert_state_dict(official_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in official_state.items():
        if _GEGLU in key:
            up, gate = value.chunk(2, dim=0)  # diffusers: hidden, gate = proj(x).chunk(2); hidden * gelu(gate)
            out[key.replace(_GEGLU, ".ff.up_proj.")] = up
            out[key.replace(_GEGLU, ".ff.gate_proj.")] = gate
            continue
        for old, new in _RENAMES:
            key = key.replace(old, new)
        out[key] = value
    return out


def config_of(config: Mapping[str, Any]) -> AudioLDM2UNetConfig:
    """Our config from the diffusers one (unet/config.json); ValueError for what AudioLDM 2 does not use."""
    return AudioLDM2UNetConfig.from_diffusers(config)


def load_official(state: Mapping[str, torch.Tensor],
                  config: Mapping[str, Any] | AudioLDM2UNetConfig) -> AudioLDM2UNet:
    """Build ours from a diffusers UNet config dict (or our config) and load a diffusers state dict."""
    cfg = config if isinstance(config, AudioLDM2UNetConfig) else config_of(config)
    model = AudioLDM2UNet(cfg)
    load_strict(model, convert_state_dict(state))
    return model.eval()


def load_official_dir(directory: str | Path) -> AudioLDM2UNet:
    """A local diffusers component folder (e.g. a copy of cvssp/audioldm2's ``unet/``): config.json plus
    diffusion_pytorch_model.safetensors (or .bin). Nothing is downloaded."""
    config, state = read_component_dir(directory)
    return load_official(state, config)
