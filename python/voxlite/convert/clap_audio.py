"""transformers ``ClapModel`` state dict (an AudioLDM 2 ``text_encoder/`` or laion/clap-htsat-unfused) -> our CLAP
audio tower (models/clap_audio.py).

Kept: ``audio_model.audio_encoder.*``, ``audio_projection.*`` and the two logit scales; the text tower's keys are
left to convert/clap_text.py. Renames: ``batch_norm`` -> ``mel_norm``, ``layers.i`` -> ``stages.i``,
``layernorm_before/after`` -> ``norm1/2``, ``attention.self.query/key/value`` -> ``attention.q/k/v``,
``attention.output.dense`` -> ``attention.out``, ``intermediate.dense`` / ``output.dense`` -> ``mlp.fc1`` / ``fc2``,
``downsample`` -> ``merge``, ``audio_projection.linear1/2`` -> ``projection.fc1/2``. The stored
``relative_position_index`` buffers are dropped (ours are computed). Published AudioLDM 2 text encoders are stored in
float64; loading casts to our float32 parameters.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from ..models.clap_audio import ClapAudioConfig, ClapAudioEncoder
from .common import load_strict, read_component_dir

_TOWER = "audio_model.audio_encoder."
_RENAMES = (
    ("batch_norm.", "mel_norm."),
    ("layers.", "stages."),
    (".layernorm_before.", ".norm1."),
    (".layernorm_after.", ".norm2."),
    (".attention.self.query.", ".attention.q."),
    (".attention.self.key.", ".attention.k."),
    (".attention.self.value.", ".attention.v."),
    (".attention.self.relative_position_bias_table", ".attention.relative_position_bias_table"),
    (".attention.output.dense.", ".attention.out."),
    (".intermediate.dense.", ".mlp.fc1."),
    (".output.dense.", ".mlp.fc2."),
    (".downsample.", ".merge."),
)


def convert_state_dict(official_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in official_state.items():
        if key in ("logit_scale_a", "logit_scale_t"):
            out[key] = value
        elif key.startswith("audio_projection."):
            out[key.replace("audio_projection.linear", "projection.fc")] = value
        elif key.startswith(_TOWER) and not key.endswith(".relative_position_index"):
            key = key[len(_TOWER):]
            if key.startswith(("patch_embed.fusion_model.", "patch_embed.mel_conv2d.")):
                raise NotImplementedError("this is a fused CLAP checkpoint (enable_fusion=True): not supported")
            for old, new in _RENAMES:
                key = key.replace(old, new)
            out[key] = value
    return out


def config_of(config: Mapping[str, Any]) -> ClapAudioConfig:
    """Our config from a transformers ``ClapConfig`` dict (config.json)."""
    return ClapAudioConfig.from_transformers(config)


def load_official(state: Mapping[str, torch.Tensor],
                  config: Mapping[str, Any] | ClapAudioConfig) -> ClapAudioEncoder:
    """Build ours from a ClapConfig dict (or our config) and load a full ``ClapModel`` state dict."""
    cfg = config if isinstance(config, ClapAudioConfig) else config_of(config)
    model = ClapAudioEncoder(cfg)
    load_strict(model, convert_state_dict(state))
    return model.eval()


def load_official_dir(directory: str | Path) -> ClapAudioEncoder:
    """A local transformers ClapModel folder (e.g. a copy of cvssp/audioldm2's ``text_encoder/``): config.json plus
    model.safetensors (sharded or not) or pytorch_model.bin. Nothing is downloaded."""
    config, state = read_component_dir(directory)
    return load_official(state, config)
