"""VibeVoice tokenizers (vibevoice 0.0.1 ``modular_vibevoice_tokenizer.py``) -> ``voxlite.models.vibevoice_tokenizer``.

A VibeVoice checkpoint keeps both tokenizers inside the whole model, under ``model.acoustic_tokenizer.`` and
``model.semantic_tokenizer.``; a tokenizer saved on its own has the keys below as they are. Official layout
(``nn.Sequential`` wrappers around ``SConv1d`` -> ``NormConv1d`` -> ``nn.Conv1d``, weight norm optional):

    {enc}.downsample_layers.0.0.conv.conv          stem conv         -> {enc}.stem.conv
    {enc}.downsample_layers.{i}.0.conv.conv        strided conv      -> {enc}.downsamples.{i-1}.conv
    decoder.upsample_layers.0.0.conv.conv          stem conv         -> decoder.stem.conv
    decoder.upsample_layers.{i}.0.convtr.convtr    transposed conv   -> decoder.upsamples.{i-1}.convtr
    {x}.stages.{s}.{b}.norm / ffn_norm             block norms       (same)
    {x}.stages.{s}.{b}.mixer.conv.conv.conv        block mixer conv  -> {x}.stages.{s}.{b}.mixer.conv
    {x}.stages.{s}.{b}.ffn.linear1 / linear2       block FFN         -> {x}.stages.{s}.{b}.fc1 / fc2
    {x}.stages.{s}.{b}.gamma / ffn_gamma           layer scales      (same)
    {x}.norm                                       last norm         (same; absent when disabled)
    {x}.head.conv.conv                             head conv         -> {x}.head.conv
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from .common import fold_weight_norms, load_strict

COMPONENTS = ("acoustic_tokenizer", "semantic_tokenizer")

_RULES = [
    (r"(encoder|decoder)\.(?:downsample|upsample)_layers\.0\.0\.conv\.conv\.(.+)", r"\1.stem.conv.\2"),
    (r"encoder\.downsample_layers\.(\d+)\.0\.conv\.conv\.(.+)", None),  # index shift: below
    (r"decoder\.upsample_layers\.(\d+)\.0\.convtr\.convtr\.(.+)", None),
    (r"(encoder|decoder)\.stages\.(\d+)\.(\d+)\.(norm|ffn_norm)\.(.+)", r"\1.stages.\2.\3.\4.\5"),
    (r"(encoder|decoder)\.stages\.(\d+)\.(\d+)\.mixer\.conv\.conv\.conv\.(.+)", r"\1.stages.\2.\3.mixer.conv.\4"),
    (r"(encoder|decoder)\.stages\.(\d+)\.(\d+)\.ffn\.linear([12])\.(.+)", r"\1.stages.\2.\3.fc\4.\5"),
    (r"(encoder|decoder)\.stages\.(\d+)\.(\d+)\.(gamma|ffn_gamma)", r"\1.stages.\2.\3.\4"),
    (r"(encoder|decoder)\.norm\.(.+)", r"\1.norm.\2"),
    (r"(encoder|decoder)\.head\.conv\.conv\.(.+)", r"\1.head.conv.\2"),
]


def strip_prefix(state: Mapping[str, torch.Tensor], component: str = "acoustic_tokenizer") -> dict[str, torch.Tensor]:
    """The ``component`` entries of a whole VibeVoice state dict (prefix removed), or a tokenizer's own keys as is."""
    if component not in COMPONENTS:
        raise ValueError(f"component must be one of {COMPONENTS}, got {component!r}")
    for prefix in (f"model.{component}.", f"{component}."):
        if any(k.startswith(prefix) for k in state):
            return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return dict(state)


def _map_key(key: str) -> str:
    for pattern, target in _RULES:
        m = re.fullmatch(pattern, key)
        if not m:
            continue
        if target is not None:
            return m.expand(target)
        i, rest = int(m.group(1)), m.group(2)
        if key.startswith("encoder."):
            return f"encoder.downsamples.{i - 1}.conv.{rest}"
        return f"decoder.upsamples.{i - 1}.convtr.{rest}"
    raise KeyError(f"unexpected VibeVoice tokenizer key {key!r}")


def convert_state_dict(official_state: Mapping[str, torch.Tensor],
                       component: str = "acoustic_tokenizer") -> dict[str, torch.Tensor]:
    """Official tokenizer (or whole-model) state dict -> ours, weight norm folded."""
    state = fold_weight_norms(strip_prefix(official_state, component))
    return {_map_key(k): v for k, v in state.items()}


def _load_tensors(directory: Path, prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix`` from a checkpoint directory's safetensors files (sharded or not)."""
    from safetensors import safe_open

    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no .safetensors files in {directory}")
    out: dict[str, torch.Tensor] = {}
    for f in files:
        with safe_open(str(f), framework="pt", device="cpu") as handle:
            for key in handle.keys():
                if key.startswith(prefix):
                    out[key] = handle.get_tensor(key)
    return out


def load_official(path, component: str = "acoustic_tokenizer", config: dict | None = None):
    """A VibeVoice checkpoint directory (``config.json`` + ``*.safetensors``; only the tokenizer's tensors are read)
    -> ``VibeVoiceAcousticTokenizer`` (``component="acoustic_tokenizer"``) or ``VibeVoiceSemanticTokenizer``
    (``"semantic_tokenizer"``), float32, eval mode. A tokenizer saved on its own (its config as config.json, its
    keys unprefixed) loads too. ``config``: the ``<component>_config`` dict, when the
    directory's config.json should not be used. Nothing is downloaded."""
    from voxlite.models.vibevoice_tokenizer import (VibeVoiceAcousticTokenizer, VibeVoiceSemanticTokenizer,
                                                    VibeVoiceTokenizerConfig)

    directory = Path(path)
    if config is None:
        full = json.loads((directory / "config.json").read_text())
        config = full.get(f"{component}_config", full)  # a tokenizer saved alone: its own config
    semantic = component == "semantic_tokenizer"
    cfg = VibeVoiceTokenizerConfig.from_official(config, semantic=semantic)
    model = (VibeVoiceSemanticTokenizer if semantic else VibeVoiceAcousticTokenizer)(cfg)
    state = _load_tensors(directory, f"model.{component}.") or _load_tensors(directory, "")
    state = {k: v.float() for k, v in convert_state_dict(state, component).items()}  # checkpoints are bf16
    load_strict(model, state)
    return model.eval()
