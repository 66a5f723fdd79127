"""Export a codec (RVQ: EnCodec, UniAudio's SoundStream, DAC; continuous: WaveVAE = VoxCPM's AudioVAE, VibeVoice's
acoustic sigma-VAE; vocoders: Vocos, HiFi-GAN, BigVGAN, whose "latents" are the log-mel frames of the shared front end)
to a voxlite bundle.

    python -m export codec --family encodec --checkpoint encodec_24khz-d7cc33bc.th --out bundles/encodec24
    python -m export codec --family encodec --config tiny --random-init --seed 0 --out /tmp/tiny-codec

With ``--checkpoint`` the model's configuration comes from the checkpoint wherever the official release carries it:
DAC: the ``metadata.kwargs`` saved in its .pth; WaveVAE (VoxCPM's AudioVAE): ``audio_vae_config`` of the checkpoint
directory's config.json; VibeVoice: ``acoustic_tokenizer_config`` of the directory's config.json; Vocos: a
directory's config.yaml; BigVGAN: config.json (a directory, or beside the .pt), its mel front end from the same
file; HiFi-GAN (transformers ``SpeechT5HifiGan``): config.json (a directory, or beside the weights), its mel front
end the preset matching (sample rate, mel bins, hop). EnCodec's .th carries no config: the preset is ``--config``,
else chosen by the file's name and the first conv's channels (``48khz`` in the name or 2 channels: 48 kHz, else
24 kHz), and the sizes the weights fix (channels, filters, first kernel, latent dimension, LSTM layers, codebook
count and size) are read from their shapes. Bare state-dict files of Vocos / HiFi-GAN / BigVGAN (no config beside
them) take the ``--config`` preset; otherwise ``--config`` only names the preset of ``--random-init``.

Graphs (each in every requested precision, each verified against the PyTorch reference before the bundle is
written): ``encoder`` (audio -> latents), ``decoder`` (latents -> audio) and, for causal codecs,
``decoder_stream_init`` (first latent chunk -> initial states) + ``decoder_stream`` (latent chunk + states ->
audio chunk + new states); for non-causal SEANet decoders with a bottleneck LSTM (UniAudio's SoundStream),
``decoder_pre_lstm`` (first conv + LSTM, its states in and out) + ``decoder_post`` (the rest), which
``voxlite.pipelines.streaming.LSTMSplitStreamDecoder`` streams exactly (``CodecHParams.lstm_stream``); those two
stay float in int8 bundles. RVQ codebooks are stored as tensors and run by the native kernel, not in a graph.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from voxlite.bundle import BundleWriter
from voxlite.hparams import CodecHParams, LSTMStream, StreamState
from voxlite.models.blocks.conv import SConv1d, pad1d
from voxlite.pipelines.codec import LSTM_STREAM_GRAPHS

from . import ExportError
from .graphs import (Bounds, MethodModule, add_source_arguments, check_precisions, jsonable, weights_provenance,
                     write_graphs)

# Bounds every exported variant must meet against the fp32 PyTorch reference on the verify input.
FP32_MAX_ABS = 1e-4
MIN_SNR_DB = {"fp16": 30.0, "int8": 10.0}
CODEC_BOUNDS = Bounds(FP32_MAX_ABS, MIN_SNR_DB)


@dataclasses.dataclass
class CodecParts:
    """What the exporter needs from a family: torch modules and facts."""

    family: str
    kind: str  # "rvq" (codes) | "vae" (continuous latents) | "mel" (vocoder: log-mel frames)
    sample_rate: int
    channels: int
    hop_length: int
    latent_dim: int
    encoder: nn.Module  # (B, channels, S) with S a multiple of hop -> latents (B, D, S / hop)
    decoder: nn.Module  # (B, D, T) -> (B, channels, ~T * hop)
    config: dict
    rvq: nn.Module | None = None  # voxlite.models.blocks.rvq.ResidualVQ
    stream: "StreamAdapter | None" = None  # causal decoders only
    lstm_split: nn.Module | None = None  # voxlite.models.seanet.LSTMSplit: non-causal decoders with a bottleneck LSTM
    decoder_min_frames: int = 1
    int8_keep_float: tuple[str, ...] = ()  # node-name substrings left in float in int8 graphs
    float_only: tuple[str, ...] = ()  # graphs exported without an int8 variant (they run fp32 in int8 mode)
    config_source: str = ""  # where ``config`` came from (the bundle's provenance): a preset, a checkpoint's file


class StreamAdapter:
    """One streaming interface over the families' decoders: initial states from the first chunk, then steps."""

    def __init__(self, init, step, names, min_first_frames: int, zero_init: bool):
        self.init, self.step, self.names, self.min_first_frames = init, step, names, min_first_frames
        self.zero_init = zero_init  # initial states are zeros: no init graph, the pipeline makes them


def _preset(family: str, presets: dict, config: str | None):
    name = config or DEFAULT_CONFIGS[family]
    if name not in presets:
        raise ExportError(f"unknown {family} config {name!r}; presets: {', '.join(presets)}")
    return name, presets[name]()


def _random_model(family: str, config_cls, model_cls, config: str | None, seed: int, *, spread_codebooks=False):
    """A preset-config model with random weights (``--random-init``): (model, config, provenance)."""
    name = config or DEFAULT_CONFIGS[family]
    cfg = config_cls.preset(name)
    torch.manual_seed(seed)
    model = model_cls(cfg)
    if spread_codebooks:
        _randomize(model, seed)
    return model, cfg, f"preset {name}"


def _preset_model(family: str, presets: dict, config: str | None, checkpoint: str | None, seed: int, load_official,
                  model_cls):
    """A model of a preset config: a bare weights file (``checkpoint``, read by ``load_official(path, cfg)``) loaded
    into it, or random weights. (model, config, provenance)."""
    name, cfg = _preset(family, presets, config)
    if checkpoint:
        model = load_official(checkpoint, cfg)
    else:
        torch.manual_seed(seed)
        model = model_cls(cfg)
    return model, cfg, f"preset {name}"


def _config_file(checkpoint: str | Path, name: str) -> Path | None:
    """``name`` in a checkpoint directory, or beside a checkpoint file (the official releases' layout)."""
    path = Path(checkpoint)
    found = path / name if path.is_dir() else path.with_name(name)
    return found if found.is_file() else None


def _weights_in(directory: Path, names) -> Path:
    for name in names:
        if (directory / name).is_file():
            return directory / name
    raise ExportError(f"{directory}: no {' or '.join(names)}")


# -- families ----------------------------------------------------------------------------------------------
def encodec_config_from_checkpoint(checkpoint: str | Path, state: dict, config: str | None):
    """(preset name, RVQCodecConfig) for an EnCodec .th, which carries no config: the preset is ``config``, else
    chosen by the file name and the first conv's input channels (``48khz`` / 2 channels: 48 kHz, else 24 kHz); the
    sizes the weights fix are then read from their shapes (channels, filters, first kernel, latent dimension, LSTM
    layers, codebook count and size). What shapes cannot tell (strides, residual layers, causality, norm) is the
    preset's: a checkpoint that differs there fails the strict load, naming the keys."""
    from voxlite.models.rvq_codec import RVQCodecConfig

    first = next((state[k] for k in ("encoder.model.0.conv.conv.weight_v", "encoder.model.0.conv.conv.weight")
                  if k in state), None)
    if first is None:
        raise ExportError(f"{checkpoint}: not an EnCodec state dict (no encoder.model.0.conv.conv weight)")
    if config is None:
        config = "encodec_48khz" if "48khz" in Path(checkpoint).name or first.shape[1] == 2 else "encodec_24khz"
    name, cfg = _preset("encodec", _encodec_presets(), config)
    codebooks = sorted(int(m.group(1)) for k in state
                       if (m := re.fullmatch(r"quantizer\.vq\.layers\.(\d+)\._codebook\.embed", k)))
    if not codebooks:
        raise ExportError(f"{checkpoint}: no quantizer.vq.layers.<q>._codebook.embed codebooks")
    size, dim = state[f"quantizer.vq.layers.{codebooks[0]}._codebook.embed"].shape
    lstm = len({k for k in state if re.fullmatch(r"encoder\.model\.\d+\.lstm\.weight_ih_l\d+", k)})
    return name, dataclasses.replace(cfg, channels=int(first.shape[1]), n_filters=int(first.shape[0]),
                                     kernel_size=int(first.shape[2]), dimension=int(dim), lstm=lstm,
                                     n_q=len(codebooks), codebook_size=int(size))


def encodec_parts(checkpoint: str | None, config: str | None, seed: int) -> CodecParts:
    from voxlite.models.rvq_codec import RVQCodec

    if checkpoint:
        from voxlite.convert.encodec import load_official

        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        name, cfg = encodec_config_from_checkpoint(checkpoint, state, config)
        source = f"preset {name}, sizes from the checkpoint's shapes"
    else:
        name, cfg = _preset("encodec", _encodec_presets(), config)
        source = f"preset {name}"
    if cfg.segment is not None or cfg.normalize:
        raise ExportError("segmented / normalised EnCodec (48 kHz) is not exported yet: its encode runs per segment")
    if checkpoint:
        model = load_official(state, cfg)
    else:
        torch.manual_seed(seed)
        model = RVQCodec(cfg)
        _randomize(model, seed)
    model.eval()
    dec = model.decoder
    stream = None
    if cfg.causal:
        stream = StreamAdapter(lambda z: tuple(dec.initial_state(z.shape[0], z)), dec.stream, dec.state_names(),
                               dec.min_first_chunk(), zero_init=cfg.pad_mode == "zeros")
    split = _lstm_split(dec)
    return CodecParts("encodec", "rvq", cfg.sample_rate, cfg.channels, cfg.hop_length, cfg.dimension,
                      model.encoder, dec, jsonable(dataclasses.asdict(cfg)), model.quantizer, stream, split,
                      decoder_min_frames=min_frames_for(dec, upsampling=True), config_source=source,
                      float_only=LSTM_STREAM_GRAPHS if split is not None else ())


def _lstm_split(decoder):
    """A non-causal SEANet decoder with a bottleneck LSTM, split at it for exact streaming (None otherwise).

    Its two graphs stay float in int8 bundles: dynamic int8 scales each tensor by its range over what one call
    sees, so every window of the stream would round differently from the offline decode (and at UniAudio's size
    the codec's int8 convolutions decode slower than fp32: export/uniaudio.py)."""
    cfg = decoder.cfg
    if cfg.causal or not cfg.lstm or cfg.norm == "time_group_norm":
        return None
    return decoder.lstm_split()


def soundstream_parts(checkpoint: str | None, config: str | None, seed: int) -> CodecParts:
    """UniAudio's 16 kHz SoundStream (EnCodec's non-causal SEANet + RVQ, hop 320). With a checkpoint: the codec
    trainer's .pth (``codec_model`` state dict) or a bare state dict; its config from ``generator.config`` of a
    config.yaml beside it (or in the directory), else the ``--config`` preset if given, else the weights' shapes."""
    from voxlite.models.soundstream import PRESETS, SoundStream

    if checkpoint:
        from voxlite.convert.soundstream import config_from_state, load_official, read_checkpoint

        state, yaml_config = read_checkpoint(checkpoint)
        if yaml_config is not None:
            cfg, source = yaml_config, "checkpoint config.yaml"
        elif config is not None:
            name, cfg = _preset("soundstream", PRESETS, config)
            source = f"preset {name}"
        else:
            cfg, source = config_from_state(state), "sizes from the checkpoint's shapes"
        model = load_official(state, cfg)
    else:
        name, cfg = _preset("soundstream", PRESETS, config)
        source = f"preset {name}"
        torch.manual_seed(seed)
        model = SoundStream(cfg)
        _randomize(model, seed)
    return soundstream_model_parts(model, source)


def soundstream_model_parts(model, config_source: str = "") -> CodecParts:
    """CodecParts of a built ``SoundStream`` (a codec bundle's, or the one inside a UniAudio bundle)."""
    model.eval()
    cfg = model.cfg
    return CodecParts("soundstream", "rvq", cfg.sample_rate, cfg.channels, cfg.hop_length, cfg.dimension,
                      model.encoder, model.decoder, jsonable(dataclasses.asdict(cfg)), model.quantizer,
                      lstm_split=model.decoder.lstm_split(), float_only=LSTM_STREAM_GRAPHS,
                      decoder_min_frames=min_frames_for(model.decoder, upsampling=True), config_source=config_source)


def dac_parts(checkpoint: str | None, config: str | None, seed: int) -> CodecParts:
    """With a checkpoint: DAC 1.0.0's .pth, whose ``metadata.kwargs`` (the model's constructor arguments) give the
    config."""
    from voxlite.models.dac import DACCodec, DACConfig

    if checkpoint:
        from voxlite.convert.dac import load_official

        model = load_official(checkpoint)
        cfg = model.config
        source = "checkpoint metadata.kwargs"
    else:
        model, cfg, source = _random_model("dac", DACConfig, DACCodec, config, seed, spread_codebooks=True)
    model.eval()
    return CodecParts("dac", "rvq", cfg.sample_rate, 1, cfg.hop_length, cfg.latent_dim,
                      MethodModule(model, model.encode_latents), MethodModule(model, model.decode_latents),
                      jsonable(dataclasses.asdict(cfg)), model.quantizer, config_source=source)


def wavevae_parts(checkpoint: str | None, config: str | None, seed: int) -> CodecParts:
    """With a checkpoint: a VoxCPM checkpoint directory (``audio_vae_config`` of its config.json + audiovae.*), or an
    AudioVAE state-dict file (the VoxCPM defaults)."""
    from voxlite.models.wavevae import WaveVAE, WaveVAEConfig

    if checkpoint:
        from voxlite.convert.voxcpm_audiovae import load_official

        model = load_official(checkpoint)
        cfg = model.config
        source = "checkpoint config.json" if Path(checkpoint).is_dir() else "VoxCPM AudioVAE defaults"
    else:
        model, cfg, source = _random_model("wavevae", WaveVAEConfig, WaveVAE, config, seed)
    return wavevae_model_parts(model, source)


def wavevae_model_parts(model, config_source: str = "") -> CodecParts:
    """CodecParts of a loaded ``WaveVAE`` (VoxCPM's AudioVAE: causal, zero initial stream states)."""
    model.eval()
    cfg = model.config
    if cfg.output_sample_rate != cfg.sample_rate:
        raise ExportError("WaveVAEs whose output rate differs from their input rate (VoxCPM2) are not exported yet")
    names = [f"decoder.state_{i}" for i in range(len(model.decoder.state_shapes()))]
    stream = StreamAdapter(lambda z: model.initial_state(z.shape[0], dtype=z.dtype), model.stream, names, 1,
                           zero_init=True)
    return CodecParts("wavevae", "vae", cfg.sample_rate, 1, cfg.hop_length, cfg.latent_dim,
                      MethodModule(model, model.encode), MethodModule(model, model.decode),
                      jsonable(dataclasses.asdict(cfg)), None, stream, config_source=config_source)


def vibevoice_parts(checkpoint: str | None, config: str | None, seed: int) -> CodecParts:
    """VibeVoice's acoustic sigma-VAE: latents are the encoder mean (the LM applies its own scale / bias). With a
    checkpoint: a VibeVoice directory (``acoustic_tokenizer_config`` of its config.json + safetensors)."""
    from voxlite.models.vibevoice_tokenizer import VibeVoiceAcousticTokenizer, VibeVoiceTokenizerConfig

    if checkpoint:
        from voxlite.convert.vibevoice_tokenizer import load_official

        model = load_official(checkpoint, "acoustic_tokenizer")
        cfg = model.config
        source = "checkpoint config.json"
    else:
        model, cfg, source = _random_model("vibevoice", VibeVoiceTokenizerConfig, VibeVoiceAcousticTokenizer, config,
                                           seed)
    return vibevoice_model_parts(model, source)


def vibevoice_model_parts(model, config_source: str = "") -> CodecParts:
    """CodecParts of a built ``VibeVoiceAcousticTokenizer`` (a codec bundle's, or the one inside a VibeVoice)."""
    model.eval()
    cfg = model.config
    stream = StreamAdapter(lambda z: model.initial_state(z.shape[0], dtype=z.dtype), model.stream,
                           model.state_names(), 1, zero_init=True)
    return CodecParts("vibevoice", "vae", cfg.sample_rate, cfg.channels, cfg.hop_length, cfg.latent_dim,
                      MethodModule(model, model.encode), MethodModule(model, model.decode),
                      jsonable(dataclasses.asdict(cfg)), None, stream, config_source=config_source)


class _Mono(nn.Module):
    """Adapt mel front ends and vocoders to the codec graph layout: audio (B, 1, S) in and out."""

    def __init__(self, inner: nn.Module, squeeze_input: bool = False, unsqueeze_output: bool = False):
        super().__init__()
        self.inner, self.squeeze_input, self.unsqueeze_output = inner, squeeze_input, unsqueeze_output

    def forward(self, x):
        y = self.inner(x[:, 0] if self.squeeze_input else x)
        return y[:, None] if self.unsqueeze_output else y


def _mel_parts(family: str, vocoder: nn.Module, mel_cfg, config: dict, config_source: str) -> CodecParts:
    """A vocoder as a codec whose 'latents' are log-mel frames: encoder = the shared mel front end."""
    from voxlite.dsp.mel import MelConfig
    from voxlite.models.blocks.mel import MelSpectrogram

    if isinstance(mel_cfg, str):
        mel_cfg = MelConfig.preset(mel_cfg)
    vocoder.eval()
    encoder = _Mono(MelSpectrogram(mel_cfg), squeeze_input=True)
    out = vocoder(torch.zeros(1, mel_cfg.n_mels, 4))
    decoder = _Mono(vocoder, unsqueeze_output=out.dim() == 2)
    # The mel front end is a DFT-basis conv feeding a log: int8 weights there cost more than they save.
    return CodecParts(family, "mel", mel_cfg.sample_rate, 1, mel_cfg.hop_length, mel_cfg.n_mels, encoder, decoder,
                      {**config, "mel": mel_cfg.to_dict()}, float_only=("encoder",), config_source=config_source)


def _tiny_mel(sample_rate: int, hop: int, n_mels: int):
    from voxlite.dsp.mel import MelConfig

    return MelConfig(sample_rate, 8 * hop, hop, n_mels, padding="same", mag_eps=1e-9)


def vocos_parts(checkpoint: str | None, config: str | None, seed: int) -> CodecParts:
    """With a checkpoint: a directory in the official layout (config.yaml + pytorch_model.bin / model.safetensors,
    its size from config.yaml), or a bare weights file (the ``config`` preset)."""
    from voxlite.models.vocos import Vocos, VocosConfig

    if checkpoint and Path(checkpoint).is_dir():
        from voxlite.convert.vocos import load_official_dir

        model = load_official_dir(checkpoint)
        cfg = model.cfg
        source = "checkpoint config.yaml"
    else:
        from voxlite.convert.vocos import load_official

        model, cfg, source = _preset_model("vocos", {"tiny": VocosConfig.tiny, "mel_24khz": VocosConfig.mel_24khz},
                                           config, checkpoint, seed, load_official, Vocos)
    parts = _mel_parts("vocos", model, cfg.mel, jsonable(dataclasses.asdict(cfg)), source)
    # the head's magnitudes go through exp(): int8 there is audible. The input conv reads the mel itself: in int8
    # it cost the default voice's decoder 11 dB of SNR (38.9 -> 27.2 dB) and ran slower than in float (ConvInteger)
    parts.int8_keep_float = ("/head/", "/embed/")
    return parts


def hifigan_parts(checkpoint: str | None, config: str | None, seed: int) -> CodecParts:
    """With a checkpoint: a transformers ``SpeechT5HifiGan`` directory (config.json + model.safetensors /
    pytorch_model.bin) or weights file with config.json beside it (size from config.json; mel front end: the preset
    of that sample rate, mel bins and hop); a bare weights file (HiFi-GAN's ``generator`` checkpoint, or
    SpeechT5HifiGan's) takes the ``config`` preset."""
    from voxlite.dsp.mel import MelConfig
    from voxlite.models.hifigan import HiFiGAN, HiFiGANConfig

    presets = {"tiny": HiFiGANConfig.tiny, "audioldm2": HiFiGANConfig.audioldm2, "speecht5": HiFiGANConfig.speecht5}
    official = _config_file(checkpoint, "config.json") if checkpoint else None
    if official is not None:
        from voxlite.convert.hifigan import config_from_official, load_official

        cfg = config_from_official(json.loads(official.read_text()))
        if cfg.mel is None:
            raise ExportError(f"{official}: no mel preset has {cfg.sample_rate} Hz, {cfg.n_mels} bins, hop "
                              f"{cfg.hop_length} (the checkpoint does not say how its mels are computed)")
        weights = _weights_in(Path(checkpoint), ("model.safetensors", "pytorch_model.bin")) \
            if Path(checkpoint).is_dir() else checkpoint
        model = load_official(weights, cfg)
        source = "checkpoint config.json"
    else:
        from voxlite.convert.hifigan import load_official

        model, cfg, source = _preset_model("hifigan", presets, config, checkpoint, seed, load_official, HiFiGAN)
    mel = MelConfig.preset(cfg.mel) if cfg.mel is not None else \
        _tiny_mel(cfg.sample_rate, cfg.hop_length, cfg.n_mels)
    return _mel_parts("hifigan", model, mel, jsonable(dataclasses.asdict(cfg)), source)


def bigvgan_mel(h: dict):
    """The mel front end an official BigVGAN config (``h``) trains on (``meldataset.mel_spectrogram``: reflect
    padding of (n_fft - hop) / 2 each side, magnitude with 1e-9, slaney mels in [fmin, fmax], ln(clip(x, 1e-5)))."""
    from voxlite.dsp.mel import MelConfig

    n_fft = int(h["n_fft"])
    win = int(h.get("win_size", n_fft))
    return MelConfig(int(h["sampling_rate"]), n_fft, int(h["hop_size"]), int(h["num_mels"]),
                     win_length=None if win == n_fft else win, fmin=float(h.get("fmin") or 0.0),
                     fmax=None if h.get("fmax") is None else float(h["fmax"]), padding="same", mag_eps=1e-9)


def bigvgan_parts(checkpoint: str | None, config: str | None, seed: int) -> CodecParts:
    """With a checkpoint: an official release directory (config.json + bigvgan_generator.pt) or a generator .pt
    with config.json beside it (size and mel front end from config.json); a bare .pt takes the ``config`` preset."""
    from voxlite.dsp.mel import MelConfig
    from voxlite.models.bigvgan import BigVGAN, BigVGANConfig

    official = _config_file(checkpoint, "config.json") if checkpoint else None
    if official is not None:
        from voxlite.convert.bigvgan import load_official
        from voxlite.convert.common import read_state_dict

        h = json.loads(official.read_text())
        weights = _weights_in(Path(checkpoint), ("bigvgan_generator.pt",)) if Path(checkpoint).is_dir() \
            else checkpoint
        model = load_official(read_state_dict(weights, "generator"), h)
        cfg, mel, source = model.cfg, bigvgan_mel(h), "checkpoint config.json"
    else:
        name, cfg = _preset("bigvgan", {"tiny": BigVGANConfig.tiny,
                                        "v2_24khz_100band_256x": BigVGANConfig.v2_24khz_100band_256x}, config)
        source = f"preset {name}"
        if checkpoint:
            from voxlite.convert.bigvgan import load_official
            from voxlite.convert.common import read_state_dict

            model = load_official(read_state_dict(checkpoint, "generator"), cfg.to_h())
        else:
            torch.manual_seed(seed)
            model = BigVGAN(cfg)
        mel = MelConfig.preset("bigvgan-24khz-100band") if name != "tiny" else \
            _tiny_mel(cfg.sampling_rate, cfg.hop_size, cfg.num_mels)
    return _mel_parts("bigvgan", model, mel, jsonable(dataclasses.asdict(cfg)), source)


def _encodec_presets():
    from voxlite.models.rvq_codec import RVQCodecConfig

    return {"tiny": RVQCodecConfig.tiny, "encodec_24khz": RVQCodecConfig.encodec_24khz,
            "encodec_48khz": RVQCodecConfig.encodec_48khz}


FAMILIES = {"encodec": encodec_parts, "soundstream": soundstream_parts, "dac": dac_parts, "wavevae": wavevae_parts,
            "vibevoice": vibevoice_parts, "vocos": vocos_parts, "hifigan": hifigan_parts, "bigvgan": bigvgan_parts}
DEFAULT_CONFIGS = {"encodec": "encodec_24khz", "soundstream": "uniaudio_16khz", "dac": "44khz",
                   "wavevae": "voxcpm-0.5b", "vibevoice": "acoustic", "vocos": "mel_24khz", "hifigan": "audioldm2",
                   "bigvgan": "v2_24khz_100band_256x"}


def _randomize(model: nn.Module, seed: int) -> None:
    """Random-init export (tests, benchmarks): spread codebooks so every code is used."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "codebooks" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)


# -- minimum lengths (reflect padding needs inputs longer than the padding) ------------------------------------
def min_frames_for(module: nn.Module, *, upsampling: bool) -> int:
    """Fewest input frames for which every reflect-padded conv of a decoder (upsampling) sees more samples
    than its padding; the exported graph is exact from there on (shorter inputs are refused by the pipeline)."""
    need, scale = 1, 1  # scale: samples per input frame at the current layer
    for m in module.modules():
        if isinstance(m, SConv1d) and m.pad_mode == "reflect" and m.padding_total:
            need = max(need, math.ceil((m.padding_total + 1) / scale))
        elif isinstance(m, nn.ConvTranspose1d) and upsampling:
            scale *= m.stride[0]
    return need


# -- export wrappers ---------------------------------------------------------------------------------------------
class _StreamInit(nn.Module):
    def __init__(self, decoder: nn.Module, adapter: StreamAdapter):
        super().__init__()
        self.decoder, self.adapter = decoder, adapter

    def forward(self, latents):
        return tuple(self.adapter.init(latents))


class _PreLSTM(nn.Module):
    def __init__(self, split: nn.Module):
        super().__init__()
        self.split = split

    def forward(self, latents, h, c):
        return self.split.pre(latents, h, c)


def _lstm_stream_specs(split, latents_q: torch.Tensor) -> tuple[dict, LSTMStream]:
    """``decoder_pre_lstm`` / ``decoder_post`` specs and the ``lstm_stream`` hparams of a split decoder. The pre
    graph is verified mid-stream (a chunk after the first 5 frames, from the LSTM's state there: not zeros)."""
    pl, pr = split.pad_left, split.pad_right
    padded = pad1d(latents_q, pl, pr, split.pad_mode)
    with torch.no_grad():
        h, c = split.initial_state(latents_q.shape[0], latents_q)
        _, h, c = split.pre(padded[..., : 5 + pl + pr], h, c)
        hidden, _, _ = split.pre(padded, *split.initial_state(latents_q.shape[0], latents_q))
    layers, _, width = h.shape
    states = (StreamState("lstm_h", (layers, "batch", width), "lstm.h"),
              StreamState("lstm_c", (layers, "batch", width), "lstm.c"))
    state_axes = {n: {1: "batch"} for s in states for n in (s.name, f"new_{s.name}")}
    specs = {
        "decoder_pre_lstm": (_PreLSTM(split), (padded[..., 5:5 + 7 + pl + pr], h, c),
                             ["latents", *(s.name for s in states)], ["hidden", *(f"new_{s.name}" for s in states)],
                             {"latents": {0: "batch", 2: "frames"}, "hidden": {0: "batch", 2: "frames"},
                              **state_axes}),
        "decoder_post": (split.post, (hidden,), ["hidden"], ["audio"],
                         {"hidden": {0: "batch", 2: "frames"}, "audio": {0: "batch", 2: "samples"}}),
    }
    left, right = split.post_receptive_field()
    return specs, LSTMStream(pad_left=pl, pad_right=pr, pad_mode=split.pad_mode, left=left, right=right,
                             early_samples=split.early_samples(), states=states)


class _StreamStep(nn.Module):
    def __init__(self, decoder: nn.Module, adapter: StreamAdapter):
        super().__init__()
        self.decoder, self.adapter = decoder, adapter

    def forward(self, latents, *state):
        audio, new = self.adapter.step(latents, tuple(state))
        return (audio, *new)


def _whole_frames_only(module: nn.Module) -> None:
    """Graphs take whole-frame inputs (the pipeline pads), so the length-dependent extra padding is off."""
    for m in module.modules():
        if isinstance(m, SConv1d):
            m.pad_to_full_frames = False


def codec_specs(parts: CodecParts) -> tuple[dict, CodecHParams]:
    """The graphs of a codec as export specs ``{name: (module, args, input names, output names, dynamic axes)}``
    and the codec component's typed hparams (what ``voxlite.pipelines.codec.Codec`` reads)."""
    hop, dim, ch = parts.hop_length, parts.latent_dim, parts.channels
    _whole_frames_only(parts.encoder)
    _whole_frames_only(parts.decoder)
    dec_min = max(parts.decoder_min_frames, parts.stream.min_first_frames if parts.stream else 1)
    frames = max(24, dec_min + 5)
    g = torch.Generator().manual_seed(1234)
    wav = torch.randn(1, ch, frames * hop, generator=g) * 0.3
    with torch.no_grad():
        latents = parts.encoder(wav)
        if parts.rvq is not None:
            latents_q = parts.rvq.decode(parts.rvq.encode(latents))
        else:
            latents_q = latents

    specs = {}  # graph name -> (module, args, input names, output names, dynamic axes)
    specs["encoder"] = (parts.encoder, (wav,), ["audio"], ["latents"],
                        {"audio": {0: "batch", 2: "samples"}, "latents": {0: "batch", 2: "frames"}})
    specs["decoder"] = (parts.decoder, (latents_q,), ["latents"], ["audio"],
                        {"latents": {0: "batch", 2: "frames"}, "audio": {0: "batch", 2: "samples"}})
    stream: dict = {}
    if parts.stream is not None:
        init = _StreamInit(parts.decoder, parts.stream)
        with torch.no_grad():
            state0 = init(latents_q[..., :dec_min + 2])
        n = len(state0)
        state_in = [f"state_{i}" for i in range(n)]
        state_out = [f"new_state_{i}" for i in range(n)]
        if not parts.stream.zero_init:
            specs["decoder_stream_init"] = (init, (latents_q[..., :dec_min + 2],), ["latents"], state_in,
                                            {"latents": {0: "batch", 2: "frames"}, **{s: {0: "batch"} for s in state_in}})
        specs["decoder_stream"] = (_StreamStep(parts.decoder, parts.stream), (latents_q[..., :3], *state0), ["latents", *state_in],
                                   ["audio", *state_out],
                                   {"latents": {0: "batch", 2: "frames"}, "audio": {0: "batch", 2: "samples"},
                                    **{s: {0: "batch"} for s in state_in + state_out}})
        stream = {
            "stream_states": tuple(StreamState(s, ("batch", *t.shape[1:]), src)
                                   for s, src, t in zip(state_in, parts.stream.names, state0)),
            "stream_min_first_frames": dec_min,
            "stream_init": "zeros" if parts.stream.zero_init else "graph",
        }
    if parts.lstm_split is not None:
        lstm_specs, stream["lstm_stream"] = _lstm_stream_specs(parts.lstm_split, latents_q)
        specs.update(lstm_specs)
    rvq = {} if parts.rvq is None else {"n_q": parts.rvq.n_q, "codebook_size": parts.rvq.codebook_size,
                                        "normalize": parts.rvq.normalize}
    hparams = CodecHParams(family=parts.family, kind=parts.kind, hop_length=hop, latent_dim=dim, channels=ch,
                           frame_rate=parts.sample_rate / hop, decoder_min_frames=dec_min, config=jsonable(parts.config),
                           **rvq, **stream)
    hparams.check()
    return specs, hparams


def write_codec_component(writer: BundleWriter, parts: CodecParts, tmp: str | Path, *, component: str = "codec",
                          precisions=("fp32",), hparams_changes: dict | None = None, bounds=None,
                          metadata: dict | None = None, **graph_options) -> CodecHParams:
    """Declare a codec component on ``writer`` and write its graphs (``write_graphs`` with ``graph_options``) and,
    for RVQ codecs, its codebook tensors: the same component in a codec bundle and in a speech model's bundle.
    ``hparams_changes``: fields of the exported ``CodecHParams`` to set (e.g. a streaming ``window``)."""
    specs, hparams = codec_specs(parts)
    if hparams_changes:
        hparams = CodecHParams.from_json({**hparams.to_json(), **hparams_changes}, f"{component} hparams")
    writer.component(component, kind="codec", hparams=hparams.to_json())
    write_graphs(writer, specs, tmp, precisions=precisions, bounds=bounds or CODEC_BOUNDS, component=component,
                 metadata=metadata or {"family": parts.family, "sample_rate": parts.sample_rate},
                 int8_keep_float=graph_options.pop("int8_keep_float", parts.int8_keep_float),
                 float_only=graph_options.pop("float_only", parts.float_only), **graph_options)
    if parts.rvq is not None:
        def add(name, tensor):
            writer.add_tensor(name, tensor.detach().numpy().astype(np.float32), component=component)

        add("codebooks", parts.rvq.kernel_codebooks())
        add("search_codebooks", parts.rvq.codebooks)
        if parts.rvq.projected:
            add("in_proj_weight", parts.rvq.in_proj_weight)
            add("in_proj_bias", parts.rvq.in_proj_bias)
    return hparams


def export_codec(parts: CodecParts, out: str | Path, *, precisions=("fp32",), name: str | None = None,
                 provenance: dict | None = None, overwrite: bool = False, openvino_ir: bool = False,
                 log=print) -> Path:
    """Write the bundle: one codec component, capability "codec". ``openvino_ir`` adds an ``ov-<precision>``
    OpenVINO IR variant of each fp32/fp16 graph (faster to load on the openvino backend; verified like the rest)."""
    precisions = check_precisions(precisions)
    # the writer aborts (nothing half-written stays) if anything in the block raises
    with BundleWriter(out, model_type="codec", name=name or f"{parts.family}-{parts.sample_rate // 1000}khz",
                      sample_rate=parts.sample_rate, default_precision="fp32", capabilities=["codec"],
                      provenance=provenance or {}, overwrite=overwrite) as writer:
        with tempfile.TemporaryDirectory() as tmp:
            # a decoder split for streaming repeats the decoder's tensors: one shared file holds each once
            shared = {"shared_data": "weights"} if parts.lstm_split is not None else {}
            write_codec_component(writer, parts, tmp, precisions=precisions, openvino_ir=openvino_ir, log=log,
                                  **shared)
        return writer.finish()


def main(argv=None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--family", required=True, choices=sorted(FAMILIES))
    add_source_arguments(
        parser, checkpoint_help="official checkpoint: a file or a directory in the official layout; its config is "
        "read from it where the release carries one (config.json, config.yaml, DAC's metadata; EnCodec: sizes from "
        "the weights' shapes); omit with --random-init", config_default=None,
        config_help="preset name (family-specific; e.g. tiny, encodec_24khz): what --random-init builds, or the "
        "size of a checkpoint that carries no config")
    parser.add_argument("--openvino-ir", action="store_true", help="also write OpenVINO IR variants (ov-fp32, ov-fp16)")
    args = parser.parse_args(argv)
    weights = weights_provenance(parser, args)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    parts = FAMILIES[args.family](args.checkpoint, args.config, args.seed)
    provenance = {"family": args.family, "config": parts.config_source, "weights": weights}
    out = export_codec(parts, args.out, precisions=tuple(args.precision), name=args.name, provenance=provenance,
                       overwrite=args.overwrite, openvino_ir=args.openvino_ir)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
