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

transformers 5.x layout (``VibeVoiceAcousticTokenizerModel``; in a ``VibeVoiceForConditionalGeneration`` under
``model.audio_tower.``, and the semantic ``VibeVoiceAcousticTokenizerEncoderModel`` under
``model.semantic_tokenizer_encoder.`` with no ``encoder.`` level, which is added). Plain convs, no weight norm;
the stem's blocks are stage 0 and ``conv_layers.{i}`` holds the resampling conv and the blocks of stage i+1:

    {x}.stem.conv.conv                             stem conv         -> {x}.stem.conv
    {x}.stem.stage.{b}.<block>                     stage 0 blocks    -> {x}.stages.0.{b}.<block>
    encoder.conv_layers.{i}.conv.conv              strided conv      -> encoder.downsamples.{i}.conv
    decoder.conv_layers.{i}.convtr.convtr          transposed conv   -> decoder.upsamples.{i}.convtr
    {x}.conv_layers.{i}.stage.{b}.<block>          stage i+1 blocks  -> {x}.stages.{i+1}.{b}.<block>
    {x}.head.conv                                  head conv         -> {x}.head.conv  (same)
    <block>: norm / ffn_norm / gamma / ffn_gamma (same), mixer.conv (same), ffn.linear1 / linear2 -> fc1 / fc2
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


# -- transformers 5.x layout ---------------------------------------------------------------------------------------
TRANSFORMERS_PREFIXES = {False: ("model.audio_tower.", "audio_tower."),
                         True: ("model.semantic_tokenizer_encoder.", "semantic_tokenizer_encoder.")}
_TF_MODEL_TYPES = ("vibevoice_acoustic_tokenizer", "vibevoice_acoustic_tokenizer_encoder",
                   "vibevoice_acoustic_tokenizer_decoder")
_TF_POSITION = [
    (r"(encoder|decoder)\.stem\.conv\.conv\.(weight|bias)", r"\1.stem.conv.\2"),
    (r"encoder\.conv_layers\.(\d+)\.conv\.conv\.(weight|bias)", r"encoder.downsamples.\1.conv.\2"),
    (r"decoder\.conv_layers\.(\d+)\.convtr\.convtr\.(weight|bias)", r"decoder.upsamples.\1.convtr.\2"),
    (r"(encoder|decoder)\.head\.conv\.(weight|bias)", r"\1.head.conv.\2"),
]
_TF_BLOCK = [
    (r"(norm|ffn_norm)\.weight", r"\1.weight"),
    (r"(gamma|ffn_gamma)", r"\1"),
    (r"mixer\.conv\.(weight|bias)", r"mixer.conv.\1"),
    (r"ffn\.linear([12])\.(weight|bias)", r"fc\1.\2"),
]


def _tf_sub_config(config, semantic: bool) -> dict:
    """A tokenizer config dict out of a transformers config object or dict; a whole ``VibeVoiceConfig`` gives its
    ``audio_config`` / ``semantic_model_config``."""
    c = config.to_dict() if hasattr(config, "to_dict") else dict(config or {})
    key = "semantic_model_config" if semantic else "audio_config"
    if key in c or c.get("model_type") == "vibevoice":
        sub = c.get(key) or {}
        c = sub.to_dict() if hasattr(sub, "to_dict") else dict(sub)
        if semantic:
            c.setdefault("hidden_size", 128)  # VibeVoiceConfig's default for its semantic encoder
    return c


def config_from_transformers(config, *, semantic: bool, sample_rate: int = 24000):
    """transformers ``VibeVoiceAcousticTokenizer(Encoder)Config`` (object or ``to_dict()``; a whole VibeVoiceConfig
    also works) -> ``VibeVoiceTokenizerConfig``. Missing keys take the transformers class defaults (a semantic
    encoder's hidden_size: 128, as VibeVoiceConfig sets it). The sample rate is not in the config (the feature
    extractor's 24 kHz). Fields that would build a network ours cannot express are rejected rather than ignored."""
    from voxlite.models.vibevoice_tokenizer import FFN_EXPANSION, MIXER_KERNEL, VibeVoiceTokenizerConfig

    c = _tf_sub_config(config, semantic)
    model_type = c.get("model_type")
    if model_type is not None and model_type not in _TF_MODEL_TYPES:
        raise ValueError(f"not a VibeVoice tokenizer config: model_type {model_type!r}")
    kernel = int(c.get("kernel_size", 7))
    if kernel != MIXER_KERNEL:  # transformers' block mixers take kernel_size too; ours are fixed at 7
        raise ValueError(f"kernel_size {kernel} is not supported (the block mixers are {MIXER_KERNEL}-tap)")
    if int(c.get("ffn_expansion", 4)) != FFN_EXPANSION:
        raise ValueError(f"ffn_expansion {c['ffn_expansion']} is not supported (fixed at {FFN_EXPANSION})")
    if c.get("hidden_act", "gelu") != "gelu":  # ACT2FN["gelu"] is the exact (erf) GELU, as F.gelu
        raise ValueError(f"hidden_act {c['hidden_act']!r} is not supported")
    n_filters = int(c.get("num_filters", 32))
    down = tuple(int(r) for r in c.get("downsampling_ratios", (2, 2, 4, 5, 5, 8)))
    semantic_defaults = dict(fix_std=0.0, std_dist_type="none")
    # vae_std is the std of the per-utterance sigma; ours keeps the official fix_std, sigma ~ N(0, (fix_std/0.8)^2)
    acoustic_defaults = dict(fix_std=0.8 * float(c.get("vae_std", 0.625)), std_dist_type="gaussian")
    return VibeVoiceTokenizerConfig(
        channels=int(c.get("channels", 1)),
        vae_dim=int(c.get("hidden_size", 128 if semantic else 64)),
        encoder_n_filters=n_filters,
        encoder_ratios=tuple(reversed(down)),  # ours lists them decoder-first, as the official config
        encoder_depths=tuple(int(d) for d in c.get("depths", (3, 3, 3, 3, 3, 3, 8))),
        decoder_n_filters=n_filters,  # transformers' decoder: the same widths mirrored
        decoder_ratios=None, decoder_depths=None,  # reversed ratios / depths: our defaults
        causal=True, pad_mode="zeros", conv_bias=True, depthwise_mixer=True,
        kernel_size=kernel, last_kernel_size=kernel,
        layernorm="RMSNorm", layernorm_eps=float(c.get("rms_norm_eps", 1e-5)),
        disable_last_norm=True, layer_scale=True,  # gammas always exist (layer_scale_init_value is init only)
        sample_rate=sample_rate,
        **(semantic_defaults if semantic else acoustic_defaults),
    )


def _strip_tf_prefix(state: Mapping[str, torch.Tensor], semantic: bool) -> dict[str, torch.Tensor]:
    for prefix in TRANSFORMERS_PREFIXES[semantic]:
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            break
    state = dict(state)
    if semantic and not any(k.startswith("encoder.") for k in state):
        state = {f"encoder.{k}": v for k, v in state.items()}  # the encoder model alone: no encoder. level
    return state


def _map_tf_key(key: str) -> str:
    for pattern, target in _TF_POSITION:
        m = re.fullmatch(pattern, key)
        if m:
            return m.expand(target)
    m = re.fullmatch(r"(encoder|decoder)\.(?:stem|conv_layers\.(\d+))\.stage\.(\d+)\.(.+)", key)
    if m:
        stage = 0 if m.group(2) is None else int(m.group(2)) + 1
        for pattern, target in _TF_BLOCK:
            b = re.fullmatch(pattern, m.group(4))
            if b:
                return f"{m.group(1)}.stages.{stage}.{m.group(3)}.{b.expand(target)}"
    raise KeyError(f"unexpected transformers VibeVoice tokenizer key {key!r}")


def convert_transformers_state_dict(state: Mapping[str, torch.Tensor], *, semantic: bool) -> dict[str, torch.Tensor]:
    """transformers tokenizer state dict (a ``VibeVoiceAcousticTokenizerModel``'s, a semantic
    ``VibeVoiceAcousticTokenizerEncoderModel``'s, or a whole ``VibeVoiceForConditionalGeneration`` / ``VibeVoiceModel``
    one, whose ``audio_tower.`` / ``semantic_tokenizer_encoder.`` entries are taken) -> ours. Weight norm, if a
    checkpoint ever carries it, is folded; dtypes are kept."""
    state = fold_weight_norms(_strip_tf_prefix(state, semantic))
    return {_map_tf_key(k): v for k, v in state.items()}


def load_transformers_tokenizers(state: Mapping[str, torch.Tensor], vibevoice_config, sample_rate: int = 24000):
    """A whole transformers ``VibeVoiceForConditionalGeneration`` state dict and its ``VibeVoiceConfig`` (object or
    dict) -> (``VibeVoiceAcousticTokenizer``, ``VibeVoiceSemanticTokenizer``), float32, eval mode, loaded strictly.
    Every other entry of the state dict (LM, connectors, diffusion head, latent scaling) is ignored."""
    from voxlite.models.vibevoice_tokenizer import VibeVoiceAcousticTokenizer, VibeVoiceSemanticTokenizer

    for prefixes in TRANSFORMERS_PREFIXES.values():  # both up front: a clear error before any build
        if not any(k.startswith(prefixes) for k in state):
            raise KeyError(f"no {' / '.join(prefixes)} entries in the state dict")
    models = []
    for semantic, cls in ((False, VibeVoiceAcousticTokenizer), (True, VibeVoiceSemanticTokenizer)):
        model = cls(config_from_transformers(vibevoice_config, semantic=semantic, sample_rate=sample_rate))
        converted = convert_transformers_state_dict(state, semantic=semantic)
        load_strict(model, {k: v.float() for k, v in converted.items()})  # checkpoints are bf16
        models.append(model.eval())
    return tuple(models)
