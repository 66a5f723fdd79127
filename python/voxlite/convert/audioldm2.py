"""An AudioLDM 2 checkpoint directory in diffusers' layout -> our reference components.

The published checkpoints (cvssp/audioldm2, -large, -music, -speech-gigaspeech, -speech-ljspeech) are folders with
``model_index.json`` and one folder per component::

    text_encoder/      ClapModel (its text tower conditions; its audio tower ranks waveforms)
    tokenizer/         RobertaTokenizer(Fast)
    text_encoder_2/    T5EncoderModel (sound, music) or VitsModel (speech: reads a transcription)
    tokenizer_2/       T5Tokenizer(Fast) or VitsTokenizer
    projection_model/  AudioLDM2ProjectionModel
    language_model/    GPT2Model (the published layout) or GPT2LMHeadModel (what diffusers' pipeline needs under
                       transformers 5): both read
    unet/              AudioLDM2UNet2DConditionModel
    vae/               AutoencoderKL over log-mels
    vocoder/           SpeechT5HifiGan
    scheduler/         DDIMScheduler config
    feature_extractor/ ClapFeatureExtractor config

Nothing is downloaded and transformers / diffusers are not needed to read weights. Tokenizers are carried as
``tokenizer.json`` (the ``tokenizers`` library's format); a folder that has only the slow tokenizer's files is
converted with transformers when it is installed (an export-time dependency only).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from .common import load_strict, read_component_dir

SECOND_ENCODERS = {"T5EncoderModel": "t5", "VitsModel": "vits"}


@dataclass
class AudioLDM2Checkpoint:
    clap_text: nn.Module
    second_encoder: nn.Module
    second_kind: str  # "t5" | "vits"
    projection: nn.Module
    language_model: nn.Module
    unet: nn.Module
    vae: nn.Module
    vocoder: nn.Module
    scheduler: dict
    tokenizers: dict[str, Path]  # "clap" -> tokenizer.json; "second" -> tokenizer.json (T5) or the VITS folder
    max_lengths: dict[str, int]
    second_pad_id: int = 0
    clap_audio: nn.Module | None = None
    feature_extractor: dict = field(default_factory=dict)
    source: str = ""


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def projection_from_dir(directory: Path) -> nn.Module:
    from ..models.audioldm2_projection import AudioLDM2Projection

    config, state = read_component_dir(directory)
    learned = config.get("max_seq_length") if config.get("use_learned_position_embedding") else None
    model = AudioLDM2Projection(int(config["text_encoder_dim"]), int(config["text_encoder_1_dim"]),
                                int(config["langauge_model_dim"]),  # sic: diffusers' spelling
                                learned_positions=int(learned) if learned else None)
    load_strict(model, state)
    return model.eval()


def gpt2_from_dir(directory: Path) -> nn.Module:
    from .gpt2 import load_official

    config, state = read_component_dir(directory)
    return load_official(state, n_heads=int(config.get("n_head", 12)))


def vocoder_from_dir(directory: Path) -> nn.Module:
    from .hifigan import config_from_official, load_official

    config, state = read_component_dir(directory)
    return load_official(state, config_from_official(config))


def tokenizer_json(directory: Path, out_dir: Path, name: str) -> Path:
    """``directory``'s tokenizer.json, or one made from its slow tokenizer files with transformers."""
    if (directory / "tokenizer.json").is_file():
        return directory / "tokenizer.json"
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise FileNotFoundError(f"{directory} has no tokenizer.json; install transformers to convert its slow "
                                "tokenizer files") from None
    tokenizer = AutoTokenizer.from_pretrained(str(directory), use_fast=True, local_files_only=True)
    target = out_dir / name
    target.mkdir(parents=True, exist_ok=True)
    tokenizer.backend_tokenizer.save(str(target / "tokenizer.json"))
    return target / "tokenizer.json"


def max_length_of(directory: Path, default: int) -> int:
    value = _json(directory / "tokenizer_config.json").get("model_max_length", default)
    return int(value) if isinstance(value, (int, float)) and value < 1e9 else default


def read_checkpoint(directory: str | Path, work_dir: str | Path, *, ranker: bool = True) -> AudioLDM2Checkpoint:
    """Read every component of the checkpoint at ``directory``; ``work_dir`` receives converted tokenizer files.
    ``ranker``: also read CLAP's audio tower (to rank several waveforms per prompt)."""
    from . import audioldm2_unet, clap_text, mel_vae

    root, work = Path(directory), Path(work_dir)
    index = _json(root / "model_index.json")
    if not index:
        raise FileNotFoundError(f"{root}: no model_index.json (not a diffusers pipeline checkpoint)")
    pipeline = index.get("_class_name")
    if pipeline != "AudioLDM2Pipeline":
        raise ValueError(f"{root}: model_index.json names {pipeline!r}, not AudioLDM2Pipeline")
    second_class = (index.get("text_encoder_2") or [None, None])[1]
    if second_class not in SECOND_ENCODERS:
        raise ValueError(f"{root}: text_encoder_2 is {second_class!r}; known: {', '.join(SECOND_ENCODERS)}")
    kind = SECOND_ENCODERS[second_class]

    if kind == "t5":
        from . import t5

        second = t5.load_official_dir(root / "text_encoder_2")
        second_tokenizer = tokenizer_json(root / "tokenizer_2", work, "tokenizer_2")
        pad_id = int(_json(root / "text_encoder_2" / "config.json").get("pad_token_id", 0) or 0)
    else:
        from . import vits_text

        second = vits_text.load_official_dir(root / "text_encoder_2")
        second_tokenizer = root / "tokenizer_2"
        pad_id = 0
    clap_audio = None
    if ranker:
        from . import clap_audio as clap_audio_convert

        clap_audio = clap_audio_convert.load_official_dir(root / "text_encoder")
    return AudioLDM2Checkpoint(
        clap_text=clap_text.load_official_dir(root / "text_encoder"), second_encoder=second, second_kind=kind,
        projection=projection_from_dir(root / "projection_model"),
        language_model=gpt2_from_dir(root / "language_model"),
        unet=audioldm2_unet.load_official_dir(root / "unet"), vae=mel_vae.load_official_dir(root / "vae"),
        vocoder=vocoder_from_dir(root / "vocoder"),
        scheduler=_json(root / "scheduler" / "scheduler_config.json"),
        tokenizers={"clap": tokenizer_json(root / "tokenizer", work, "tokenizer"), "second": second_tokenizer},
        max_lengths={"clap": max_length_of(root / "tokenizer", 512),
                     "second": max_length_of(root / "tokenizer_2", 512)},
        second_pad_id=pad_id, clap_audio=clap_audio,
        feature_extractor=_json(root / "feature_extractor" / "preprocessor_config.json"), source=str(root))
