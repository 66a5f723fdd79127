"""Official BigVGAN generator checkpoints (``bigvgan`` package / nvidia/bigvgan_* ``bigvgan_generator.pt``) -> ours.

Official keys differ from ours only in three ways:
- weight norm (``weight_g`` / ``weight_v``, or nothing after ``remove_weight_norm()``): folded to ``weight``;
- ``ups.{i}.0.*`` (a one-element ModuleList per stage): ``ups.{i}.*``;
- Snake / SnakeBeta ``alpha`` / ``beta`` of shape (C,): reshaped to (1, C, 1).
The anti-aliasing filters (``*.upsample.filter``, ``*.downsample.lowpass.filter``) are fixed, not trained: they
are checked against ours (so a checkpoint built with other resampling kernels fails loudly) and dropped.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

import torch

from ..models.bigvgan import BigVGAN, BigVGANConfig
from ..models.blocks.antialias import kaiser_sinc_filter1d
from .common import fold_weight_norms, load_strict

_UPS = re.compile(r"^ups\.(\d+)\.0\.")
_FILTER = re.compile(r"\.(upsample\.filter|downsample\.lowpass\.filter)$")
# the taps every official Activation1d builds (ratio 2, 12 taps): cutoff 0.25, half width 0.3
_TAPS = kaiser_sinc_filter1d(0.25, 0.3, 12)


def _check_filter(key: str, value: torch.Tensor) -> None:
    if value.is_meta:
        return
    taps = value.reshape(-1).float()
    if taps.shape != _TAPS.shape or not torch.allclose(taps, _TAPS, atol=1e-6):
        raise ValueError(f"{key}: anti-aliasing filter differs from the ratio-2, 12-tap Kaiser-sinc filter")


def convert_state_dict(official_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official generator state dict (or a checkpoint dict holding it under ``generator``) -> ours."""
    if "generator" in official_state and isinstance(official_state["generator"], Mapping):
        official_state = official_state["generator"]
    out: dict[str, torch.Tensor] = {}
    for key, value in fold_weight_norms(official_state).items():
        if _FILTER.search(key):
            _check_filter(key, value)
            continue
        key = _UPS.sub(r"ups.\1.", key)
        if key.endswith(".act.alpha") or key.endswith(".act.beta"):
            value = value.reshape(1, -1, 1)
        out[key] = value
    return out


def load_official(state: Mapping[str, torch.Tensor], h: Mapping[str, Any] | BigVGANConfig) -> BigVGAN:
    """Build ours from an official ``h`` dict (or our config) and load a converted official state dict."""
    cfg = h if isinstance(h, BigVGANConfig) else BigVGANConfig.from_h(h)
    model = BigVGAN(cfg)
    load_strict(model, convert_state_dict(state))
    return model.eval()


def load_official_dir(directory: str | Path) -> BigVGAN:
    """A local copy of an official release: ``config.json`` + ``bigvgan_generator.pt`` (nothing is downloaded)."""
    directory = Path(directory)
    h = json.loads((directory / "config.json").read_text())
    state = torch.load(directory / "bigvgan_generator.pt", map_location="cpu", weights_only=True)
    return load_official(state, h)
