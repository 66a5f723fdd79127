"""Official Vocos (``vocos`` package / charactr checkpoints' pytorch_model.bin) -> voxlite.models.vocos.Vocos.

Official keys: ``backbone.embed``, ``backbone.norm`` (``.scale`` / ``.shift`` embeddings when AdaLayerNorm),
``backbone.convnext.{i}.{dwconv,norm,pwconv1,pwconv2,gamma}``, ``backbone.final_layer_norm``, ``head.out``,
plus buffers we rebuild instead of loading: ``head.istft.window`` (Hann) and the feature extractor's
(``feature_extractor.*``: torchaudio's window and mel filterbank, or EnCodec weights).
"""
from __future__ import annotations

import os
from typing import Mapping

import torch

from ..models.vocos import Vocos, VocosConfig
from .common import fold_weight_norms, load_strict, read_state_dict

_RENAMES = (("backbone.convnext.", "backbone.blocks."), ("backbone.final_layer_norm.", "backbone.final_norm."))


def convert_state_dict(official_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in fold_weight_norms(official_state).items():
        if key.startswith("feature_extractor."):
            continue
        if key == "head.istft.window":
            expected = torch.hann_window(value.numel(), dtype=value.dtype)
            if not torch.allclose(value, expected, atol=1e-6):
                raise ValueError("head.istft.window is not a periodic Hann window; this converter assumes one")
            continue
        for old, new in _RENAMES:
            if key.startswith(old):
                key = new + key[len(old):]
        out[key] = value
    return out


def load_official(state_or_path: Mapping[str, torch.Tensor] | str | os.PathLike,
                  cfg: VocosConfig | None = None) -> Vocos:
    """Build ours from an official state dict or a pytorch_model.bin / .safetensors path (default: mel-24khz)."""
    state = state_or_path
    if isinstance(state_or_path, (str, os.PathLike)):
        state = read_state_dict(state_or_path)
    model = Vocos(cfg or VocosConfig.mel_24khz())
    load_strict(model, convert_state_dict(state))
    return model.eval()
