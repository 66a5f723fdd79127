"""wav2vec 2.0 weights (transformers' ``Wav2Vec2Model``, e.g. facebook/wav2vec2-large-xlsr-53) ->
``models.hubert.Hubert``: HuBERT's encoder is wav2vec 2.0's, module for module and name for name, so this is
``convert/hubert.py``'s mapping with wav2vec 2.0's prefix and heads.

What transformers' wav2vec 2.0 has that its HuBERT does not, and what is done with it:

- the feature projection's LayerNorm is unconditional (HuBERT: ``feat_proj_layer_norm``): always on here;
- ``add_adapter``: a stack of strided Conv1d + GLU after the encoder that shortens ``last_hidden_state`` (a
  seq2seq fine-tuning device): refused, with its weights (``adapter.*``) unexpected keys;
- ``adapter_attn_dim`` (MMS' per-layer attention adapters): refused, as for HuBERT;
- ``layerdrop`` (skips layers in training only) and ``mask_time_prob`` / ``masked_spec_embed`` (SpecAugment, in
  training only): nothing at inference; the embedding is dropped;
- the task models' base-model prefix ``wav2vec2.`` is stripped and their heads dropped: ``Wav2Vec2ForPreTraining``'s
  ``quantizer.*``, ``project_hid.*``, ``project_q.*`` (XLSR-53 is published as this class) and ``Wav2Vec2ForCTC``'s
  ``lm_head.*``; other heads (sequence classification, x-vectors) are unexpected keys.

Waveform normalisation is not the model's: it is the feature extractor's ``do_normalize``
(``preprocessor_config.json``; True for XLSR-53), which ``export/hubert.py`` carries into the component's hparams.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import torch

from ..models.hubert import Hubert, HubertConfig
from .common import load_strict
from .hubert import convert_state_dict as _hubert_state_dict, encoder_config

MODEL_TYPE = "wav2vec2"
PREFIX = "wav2vec2."
DROP = ("masked_spec_embed", "quantizer.", "project_hid.", "project_q.", "lm_head.")
WHAT = "wav2vec 2.0"


def config_of(config: Mapping[str, Any]) -> HubertConfig:
    """A transformers Wav2Vec2Config dict (config.json) -> ours; refuses what the reference does not run as
    ``Wav2Vec2Model``'s hidden states (module docstring) and other models' configs."""
    model_type = config.get("model_type", MODEL_TYPE)
    if model_type != MODEL_TYPE:
        raise ValueError(f"config.json is a {model_type!r} model, not {MODEL_TYPE!r}")
    if config.get("add_adapter"):
        raise ValueError(f"{WHAT} config add_adapter=True is not supported (an output adapter after the encoder)")
    # no feat_proj_layer_norm in wav2vec 2.0: its feature projection always normalises (a stray key is ignored, as
    # transformers ignores it)
    return encoder_config({k: v for k, v in config.items() if k != "feat_proj_layer_norm"}, WHAT)


def convert_state_dict(official: Mapping[str, torch.Tensor], stable_layer_norm: bool) -> dict[str, torch.Tensor]:
    """A transformers Wav2Vec2Model (or Wav2Vec2ForPreTraining / Wav2Vec2ForCTC) state dict -> ours."""
    return _hubert_state_dict(official, stable_layer_norm, prefix=PREFIX, drop=DROP, what=WHAT)


def load_official(state: Mapping[str, torch.Tensor], config: Mapping[str, Any] | HubertConfig,
                  output_layer: int | None = None) -> Hubert:
    """Ours from a transformers config dict (or ours) and a transformers wav2vec 2.0 state dict; eval mode."""
    cfg = config if isinstance(config, HubertConfig) else config_of(config)
    if not cfg.feat_proj_layer_norm:
        raise ValueError(f"{WHAT} always normalises the conv features: feat_proj_layer_norm must be True")
    model = Hubert(cfg, output_layer)
    load_strict(model, convert_state_dict(state, cfg.stable_layer_norm))
    return model.eval()


def load_official_dir(directory: str | os.PathLike, output_layer: int | None = None) -> Hubert:
    """A local transformers folder (config.json and model.safetensors / pytorch_model.bin, e.g. a copy of
    facebook/wav2vec2-large-xlsr-53). Nothing is downloaded."""
    from .common import read_component_dir

    config, state = read_component_dir(directory)
    return load_official(state, config, output_layer)
