"""transformers ``SpeechT5HifiGan`` (AudioLDM 2's ``vocoder/``, microsoft/speecht5_hifigan) -> voxlite HiFiGAN.

Official keys: ``conv_pre``, ``upsampler.{i}``, ``resblocks.{j}.convs{1,2}.{k}``, ``conv_post``, and the
``mean`` / ``scale`` buffers (always saved; used only when ``normalize_before``). The original HiFi-GAN
generator's keys (``ups.{i}`` and weight-norm ``weight_g`` / ``weight_v``, e.g. a ``generator`` checkpoint)
take the same path. Weight norm in either spelling is folded.
"""
from __future__ import annotations

import os
from typing import Mapping

import torch

from ..models.hifigan import HiFiGAN, HiFiGANConfig
from .common import fold_weight_norms, load_strict, read_state_dict


def convert_state_dict(official_state: Mapping[str, torch.Tensor],
                       normalize_before: bool | None = None) -> dict[str, torch.Tensor]:
    """Map keys; ``mean`` / ``scale`` are kept when normalize_before is True (None: keep them if present)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in fold_weight_norms(official_state).items():
        if key in ("mean", "scale") and normalize_before is False:
            continue
        if key.startswith("upsampler."):
            key = "ups." + key[len("upsampler."):]
        out[key] = value
    return out


def config_from_official(config: Mapping) -> HiFiGANConfig:
    """A transformers ``SpeechT5HifiGanConfig`` (its config.json, parsed) -> ours. The checkpoint does not say how
    its mels are computed: ``mel`` is the ``voxlite.dsp.MEL_PRESETS`` entry with the same sample rate, mel bins and
    hop (AudioLDM 2's, SpeechT5's, HiFi-GAN V1's), else None."""
    from ..dsp.mel import MEL_PRESETS

    defaults = HiFiGANConfig.speecht5()  # SpeechT5HifiGanConfig's defaults, for keys a config.json leaves out
    cfg = HiFiGANConfig(
        n_mels=int(config.get("model_in_dim", defaults.n_mels)),
        upsample_initial_channel=int(config.get("upsample_initial_channel", defaults.upsample_initial_channel)),
        upsample_rates=tuple(config.get("upsample_rates", defaults.upsample_rates)),
        upsample_kernel_sizes=tuple(config.get("upsample_kernel_sizes", defaults.upsample_kernel_sizes)),
        resblock_kernel_sizes=tuple(config.get("resblock_kernel_sizes", defaults.resblock_kernel_sizes)),
        resblock_dilation_sizes=config.get("resblock_dilation_sizes", defaults.resblock_dilation_sizes),
        leaky_relu_slope=float(config.get("leaky_relu_slope", defaults.leaky_relu_slope)),
        normalize_before=bool(config.get("normalize_before", defaults.normalize_before)),
        sample_rate=int(config.get("sampling_rate", defaults.sample_rate)), mel=None)
    for name, mel in MEL_PRESETS.items():
        if (mel.sample_rate, mel.n_mels, mel.hop_length) == (cfg.sample_rate, cfg.n_mels, cfg.hop_length):
            cfg.mel = name
            break
    return cfg


def load_official(state_or_path: Mapping[str, torch.Tensor] | str | os.PathLike,
                  cfg: HiFiGANConfig | None = None) -> HiFiGAN:
    """Build ours from a SpeechT5HifiGan state dict or a .bin / .pt / .safetensors path (default: AudioLDM 2)."""
    state = state_or_path
    if isinstance(state_or_path, (str, os.PathLike)):
        state = read_state_dict(state_or_path, "generator")
    cfg = cfg or HiFiGANConfig.audioldm2()
    model = HiFiGAN(cfg)
    load_strict(model, convert_state_dict(state, cfg.normalize_before))
    return model.eval()
