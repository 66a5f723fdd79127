"""Hyper-parameters of AudioLDM 2's components (``model_type: "audioldm2"``).

- ``audioldm2-prompt`` (``text``): the two prompt encoders' tokenizers and limits (CLAP's RoBERTa; T5 for sound and
  music checkpoints, VITS for the speech ones, which read a transcription);
- ``audioldm2-lm`` (``lm``): GPT-2 generating the "language of audio" (LOA) vectors on a fixed KV buffer;
- ``audioldm2-unet`` (``unet``): the latent shape and the DDIM / DPM-Solver++ noise schedule;
- ``audioldm2-decoder`` (``decoder``): latents -> mel (VAE) -> waveform (HiFi-GAN);
- ``clap-audio`` (``ranker``, optional): CLAP's audio tower, to rank several waveforms per prompt.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .base import HParams
from .voxcpm import KVGroup


@dataclass(frozen=True)
class AudioLDM2PromptHParams(HParams):
    second_encoder: Literal["t5", "vits"]  # T5 reads the prompt; VITS (speech checkpoints) the transcription
    clap_max_length: int  # the tokenizers' model_max_length: longer input is truncated, as diffusers does
    second_max_length: int
    second_pad_id: int = 0
    # speech checkpoints: diffusers marks the end of the transcription by writing this id over its first pad
    vits_end_id: int = 182

    def check(self) -> None:
        for name in ("clap_max_length", "second_max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")


@dataclass(frozen=True)
class AudioLDM2LMHParams(HParams):
    kv: dict[str, KVGroup]  # "lm": the step graph's cache
    max_positions: int  # GPT-2's learned positions: prompt + LOA vectors must fit
    max_new_tokens: int = 8  # LOA vectors generated per prompt

    def check(self) -> None:
        if set(self.kv) != {"lm"}:
            raise ValueError(f"kv: needs the one group 'lm', got {sorted(self.kv)}")
        if not 1 <= self.max_new_tokens < self.max_positions:
            raise ValueError(f"max_new_tokens must lie in [1, {self.max_positions}), got {self.max_new_tokens}")


@dataclass(frozen=True)
class AudioLDM2UNetHParams(HParams):
    latent_channels: int
    latent_width: int  # mel bins / the VAE's downsampling
    vae_factor: int  # mel frames per latent row
    frames_per_second: float  # mel frames per second (sample rate / hop)
    n_train_timesteps: int = 1000
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = "scaled_linear"
    beta_start: float = 0.0015
    beta_end: float = 0.0195
    prediction_type: Literal["epsilon", "v_prediction", "sample"] = "epsilon"
    set_alpha_to_one: bool = False
    steps_offset: int = 1
    timestep_spacing: Literal["leading", "trailing", "linspace"] = "leading"
    # generation defaults and limits (the user's options override the defaults within the limits)
    default_steps: int = 200
    default_guidance: float = 3.5
    default_seconds: float = 10.24
    max_seconds: float = 60.0
    max_steps: int = 1000
    config: dict = field(default_factory=dict)  # the UNet's configuration (informative)

    def check(self) -> None:
        for name in ("latent_channels", "latent_width", "vae_factor", "n_train_timesteps", "default_steps",
                     "max_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not 0 < self.beta_start < self.beta_end < 1:
            raise ValueError(f"beta_start / beta_end must satisfy 0 < start < end < 1, got {self.beta_start}, "
                             f"{self.beta_end}")
        if self.frames_per_second <= 0 or not 0 < self.default_seconds <= self.max_seconds:
            raise ValueError("frames_per_second must be > 0 and default_seconds in (0, max_seconds]")
        if self.default_steps > self.max_steps or self.max_steps > self.n_train_timesteps:
            raise ValueError("default_steps <= max_steps <= n_train_timesteps must hold")


@dataclass(frozen=True)
class AudioLDM2DecoderHParams(HParams):
    sample_rate: int
    hop_length: int  # waveform samples per mel frame (the vocoder's upsampling)
    mel_bins: int

    def check(self) -> None:
        for name in ("sample_rate", "hop_length", "mel_bins"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")


@dataclass(frozen=True)
class ClapAudioHParams(HParams):
    # the feature extractor's settings (its preprocessor_config.json; voxlite.dsp.clap_features reads them):
    # generated audio is resampled to its rate and cropped / padded to its length
    feature: dict = field(default_factory=dict)
