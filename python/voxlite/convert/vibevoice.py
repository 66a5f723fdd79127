"""VibeVoice checkpoints -> ``voxlite.models.vibevoice.VibeVoice``, from either layout:

transformers 5.x ``VibeVoiceForConditionalGeneration`` (``from_transformers``):

    model.language_model.*                          -> lm.*  (Qwen2: same names as our transformer stack)
    lm_head.weight                                  -> lm_head.weight (absent when tied to the embeddings)
    model.multi_modal_projector.{linear_1,act,linear_2}  -> acoustic_connector.{linear_1,norm,linear_2}
    model.semantic_connector.{linear_1,act,linear_2}     -> semantic_connector.{linear_1,norm,linear_2}
    model.diffusion_head.noisy_images_proj / cond_proj   -> head.noisy_proj / cond_proj
    model.diffusion_head.timestep_proj.fc1 / fc2         -> head.t_fc1 / t_fc2
    model.diffusion_head.layers.i.{ffn.*,norm,linear}    -> head.layers.i.{ffn.*,norm,modulation}
    model.diffusion_head.final_layer.linear_1 / linear_2 -> head.final_modulation / final_proj
    model.latent_scaling_factor / latent_bias_factor     -> latent_scale / latent_bias
    model.audio_tower.* / model.semantic_tokenizer_encoder.*  -> acoustic.* / semantic.* (``convert.vibevoice_tokenizer``)

Microsoft's ``vibevoice`` package (``from_official``):

    model.language_model.*                          -> lm.*
    lm_head.weight                                  -> lm_head.weight
    model.acoustic_connector.{fc1,norm,fc2}         -> acoustic_connector.{linear_1,norm,linear_2}
    model.semantic_connector.{fc1,norm,fc2}         -> semantic_connector.{linear_1,norm,linear_2}
    model.prediction_head.noisy_images_proj / cond_proj  -> head.noisy_proj / cond_proj
    model.prediction_head.t_embedder.mlp.0 / mlp.2  -> head.t_fc1 / t_fc2
    model.prediction_head.layers.i.{ffn.*,norm,adaLN_modulation.1}  -> head.layers.i.{ffn.*,norm,modulation}
    model.prediction_head.final_layer.adaLN_modulation.1 / linear   -> head.final_modulation / final_proj
    model.speech_scaling_factor / speech_bias_factor     -> latent_scale / latent_bias
    model.acoustic_tokenizer.* / model.semantic_tokenizer.*  -> acoustic.* / semantic.*
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from ..models.blocks.qwen2 import Qwen2Config
from ..models.vibevoice import DiffusionHeadConfig, NoiseSchedule, VibeVoice, VibeVoiceConfig
from .common import load_strict

_TRANSFORMERS_RULES = [
    (r"model\.language_model\.(.+)", r"lm.\1"),
    (r"lm_head\.weight", r"lm_head.weight"),
    (r"model\.multi_modal_projector\.act\.(.+)", r"acoustic_connector.norm.\1"),
    (r"model\.multi_modal_projector\.(linear_[12])\.(.+)", r"acoustic_connector.\1.\2"),
    (r"model\.semantic_connector\.act\.(.+)", r"semantic_connector.norm.\1"),
    (r"model\.semantic_connector\.(linear_[12])\.(.+)", r"semantic_connector.\1.\2"),
    (r"model\.diffusion_head\.noisy_images_proj\.(.+)", r"head.noisy_proj.\1"),
    (r"model\.diffusion_head\.cond_proj\.(.+)", r"head.cond_proj.\1"),
    (r"model\.diffusion_head\.timestep_proj\.fc([12])\.(.+)", r"head.t_fc\1.\2"),
    (r"model\.diffusion_head\.layers\.(\d+)\.ffn\.(.+)", r"head.layers.\1.ffn.\2"),
    (r"model\.diffusion_head\.layers\.(\d+)\.norm\.(.+)", r"head.layers.\1.norm.\2"),
    (r"model\.diffusion_head\.layers\.(\d+)\.linear\.(.+)", r"head.layers.\1.modulation.\2"),
    (r"model\.diffusion_head\.final_layer\.linear_1\.(.+)", r"head.final_modulation.\1"),
    (r"model\.diffusion_head\.final_layer\.linear_2\.(.+)", r"head.final_proj.\1"),
    (r"model\.latent_scaling_factor", r"latent_scale"),
    (r"model\.latent_bias_factor", r"latent_bias"),
]

_OFFICIAL_RULES = [
    (r"model\.language_model\.(.+)", r"lm.\1"),
    (r"lm_head\.weight", r"lm_head.weight"),
    (r"model\.(acoustic|semantic)_connector\.fc([12])\.(.+)", r"\1_connector.linear_\2.\3"),
    (r"model\.(acoustic|semantic)_connector\.norm\.(.+)", r"\1_connector.norm.\2"),
    (r"model\.prediction_head\.noisy_images_proj\.(.+)", r"head.noisy_proj.\1"),
    (r"model\.prediction_head\.cond_proj\.(.+)", r"head.cond_proj.\1"),
    (r"model\.prediction_head\.t_embedder\.mlp\.0\.(.+)", r"head.t_fc1.\1"),
    (r"model\.prediction_head\.t_embedder\.mlp\.2\.(.+)", r"head.t_fc2.\1"),
    (r"model\.prediction_head\.layers\.(\d+)\.ffn\.(.+)", r"head.layers.\1.ffn.\2"),
    (r"model\.prediction_head\.layers\.(\d+)\.norm\.(.+)", r"head.layers.\1.norm.\2"),
    (r"model\.prediction_head\.layers\.(\d+)\.adaLN_modulation\.1\.(.+)", r"head.layers.\1.modulation.\2"),
    (r"model\.prediction_head\.final_layer\.adaLN_modulation\.1\.(.+)", r"head.final_modulation.\1"),
    (r"model\.prediction_head\.final_layer\.linear\.(.+)", r"head.final_proj.\1"),
    (r"model\.speech_scaling_factor", r"latent_scale"),
    (r"model\.speech_bias_factor", r"latent_bias"),
]

_TRANSFORMERS_TOKENIZERS = ("model.audio_tower.", "model.semantic_tokenizer_encoder.")
_OFFICIAL_TOKENIZERS = ("model.acoustic_tokenizer.", "model.semantic_tokenizer.")


def _rename(state: Mapping[str, torch.Tensor], rules, skip: tuple[str, ...]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    compiled = [(re.compile(p), r) for p, r in rules]
    for key, value in state.items():
        if key.startswith(skip) or key.endswith("timestep_embedding.freq"):
            continue
        for pattern, repl in compiled:
            if pattern.fullmatch(key):
                out[pattern.sub(repl, key)] = value
                break
        else:
            raise KeyError(f"unexpected VibeVoice weight {key!r}")
    return out


def _as_dict(config) -> dict:
    return config if isinstance(config, dict) else config.to_dict()


def config_from_transformers(config) -> VibeVoiceConfig:
    """A transformers ``VibeVoiceConfig`` (or its ``to_dict()``) -> ours."""
    from .vibevoice_tokenizer import config_from_transformers as tokenizer_config

    c = _as_dict(config)
    text, head = c["text_config"], c["diffusion_head_config"]
    return VibeVoiceConfig(
        lm=Qwen2Config.from_transformers(text),
        head=DiffusionHeadConfig(num_layers=head["num_hidden_layers"], ffn_dim=head["intermediate_size"],
                                 rms_norm_eps=float(head["rms_norm_eps"]),
                                 frequency_embedding_size=head["frequency_embedding_size"],
                                 max_period=float(head["diffusion_max_period"])),
        acoustic=tokenizer_config(c["audio_config"], semantic=False),
        semantic=tokenizer_config(c["semantic_model_config"], semantic=True),
        schedule=NoiseSchedule(),
        speech_start_id=c["audio_bos_token_id"], speech_end_id=c["audio_eos_token_id"],
        speech_diffusion_id=c["audio_token_id"], eos_id=c["eos_token_id"])


def from_transformers(state: Mapping[str, torch.Tensor], config) -> VibeVoice:
    """A ``VibeVoiceForConditionalGeneration`` state dict and config -> our model, loaded strictly."""
    from .vibevoice_tokenizer import load_transformers_tokenizers

    cfg = config_from_transformers(config)
    model = VibeVoice(cfg)
    renamed = _rename(state, _TRANSFORMERS_RULES, _TRANSFORMERS_TOKENIZERS)
    if cfg.lm.tie_word_embeddings:
        renamed.pop("lm_head.weight", None)
    acoustic, semantic = load_transformers_tokenizers(state, config)
    renamed.update({f"acoustic.{k}": v for k, v in acoustic.state_dict().items()})
    renamed.update({f"semantic.{k}": v for k, v in semantic.state_dict().items()})
    load_strict(model, renamed)
    return model.eval()


QWEN_CONTROL_IDS = (151652, 151653, 151654, 151643)  # <|vision_start|>, <|vision_end|>, <|vision_pad|>, <|endoftext|>
_BETA_SCHEDULES = {"cosine": "squaredcos_cap_v2", "squaredcos_cap_v2": "squaredcos_cap_v2", "linear": "linear",
                   "scaled_linear": "scaled_linear"}


def config_from_official(config: dict, control_ids: tuple[int, int, int, int] = QWEN_CONTROL_IDS) -> VibeVoiceConfig:
    """Microsoft's ``VibeVoiceConfig`` dict (a checkpoint's config.json) -> ours. The four control ids are the
    tokenizer's (Qwen2.5's by default), not in the config. The LM head is tied to the embeddings iff the TOP-level
    ``tie_word_embeddings`` says so (default true), as the official inference class decides."""
    from ..models.vibevoice_tokenizer import VibeVoiceTokenizerConfig

    c = dict(config)
    head = c.get("diffusion_head_config", {})
    lm = Qwen2Config.from_transformers(c["decoder_config"])
    lm.tie_word_embeddings = bool(c.get("tie_word_embeddings", True))
    schedule = head.get("ddpm_beta_schedule", "cosine")
    if schedule not in _BETA_SCHEDULES:
        raise ValueError(f"diffusion head: beta schedule {schedule!r} is not supported")
    if head.get("diffusion_type", "ddpm") != "ddpm":
        raise ValueError(f"diffusion head: diffusion_type {head['diffusion_type']!r} is not supported")
    start, end, diffusion, eos = control_ids
    return VibeVoiceConfig(
        lm=lm,
        head=DiffusionHeadConfig(num_layers=int(head.get("head_layers", 4)),
                                 ffn_dim=int(lm.hidden_size * float(head.get("head_ffn_ratio", 3.0))),
                                 rms_norm_eps=float(head.get("rms_norm_eps", 1e-5))),
        acoustic=VibeVoiceTokenizerConfig.from_official(c.get("acoustic_tokenizer_config"), semantic=False),
        semantic=VibeVoiceTokenizerConfig.from_official(c.get("semantic_tokenizer_config"), semantic=True),
        schedule=NoiseSchedule(n_train=int(head.get("ddpm_num_steps", 1000)), beta_schedule=_BETA_SCHEDULES[schedule],
                               prediction_type=head.get("prediction_type", "v_prediction"),
                               steps=int(head.get("ddpm_num_inference_steps", 20))),
        speech_start_id=start, speech_end_id=end, speech_diffusion_id=diffusion, eos_id=eos)


def from_official(state: Mapping[str, torch.Tensor], config: dict,
                  control_ids: tuple[int, int, int, int] = QWEN_CONTROL_IDS) -> VibeVoice:
    """A Microsoft ``vibevoice`` state dict and config -> our model, loaded strictly."""
    from .vibevoice_tokenizer import convert_state_dict

    cfg = config_from_official(config, control_ids)
    model = VibeVoice(cfg)
    renamed = _rename(state, _OFFICIAL_RULES, _OFFICIAL_TOKENIZERS)
    if cfg.lm.tie_word_embeddings:
        renamed.pop("lm_head.weight", None)
    for component, ours in (("acoustic_tokenizer", "acoustic"), ("semantic_tokenizer", "semantic")):
        renamed.update({f"{ours}.{k}": v for k, v in convert_state_dict(state, component).items()})
    load_strict(model, renamed)
    return model.eval()


def load_checkpoint(directory) -> VibeVoice:
    """A local checkpoint directory (config.json + safetensors / torch weights) in either layout: transformers'
    (``model_type`` "vibevoice", ``audio_config``) or Microsoft's (``acoustic_tokenizer_config``). Nothing is
    downloaded."""
    import json
    from pathlib import Path

    from .common import read_state_dict

    directory = Path(directory)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found (a VibeVoice checkpoint directory has a config.json)")
    config = json.loads(config_path.read_text())
    state: dict[str, torch.Tensor] = {}
    files = sorted(directory.glob("*.safetensors")) or sorted(directory.glob("*.bin"))
    if not files:
        raise FileNotFoundError(f"no weights (*.safetensors, *.bin) in {directory}")
    for f in files:
        state.update(read_state_dict(f))
    if "acoustic_tokenizer_config" in config:
        return from_official(state, config)
    return from_transformers(state, config)
