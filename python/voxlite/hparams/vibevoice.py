"""Hyper-parameters of VibeVoice's language-model component (kind ``vibevoice-lm``): shapes, control tokens, the
script template, the diffusion sampler, the semantic encoder's streaming state, generation defaults."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .base import HParams
from .codec import StreamState
from .voxcpm import KVGroup


@dataclass(frozen=True)
class ScriptTemplate(HParams):
    """The prompt the official processor lays out (each string tokenized on its own, in this order):

        system | voice_header | per voice: speaker.format(k) [speech_start, diffusion x n, speech_end] newline |
        text_header | per line: line.format(k, text) | speech_header [speech_start]

    ``k`` is the speaker's index as the script's numbering gives it (see ``pipelines.vibevoice.parse_script``)."""

    system: str = (" Transform the text provided by various speakers into speech output, utilizing the distinct "
                   "voice of each respective speaker.\n")
    voice_header: str = " Voice input:\n"
    speaker: str = " Speaker {0}:"
    newline: str = "\n"
    text_header: str = " Text input:\n"
    line: str = " Speaker {0}:{1}\n"
    speech_header: str = " Speech output:\n"


@dataclass(frozen=True)
class VibeVoiceLMHParams(HParams):
    lm_dim: int
    acoustic_dim: int  # the codec's latent_dim
    semantic_dim: int
    vocab_size: int
    control_ids: tuple[int, ...]  # speech_start, speech_end, speech_diffusion, eos: control_logits' columns
    kv: dict[str, KVGroup]  # "lm"
    max_positions: int
    semantic_hop: int  # audio samples per semantic feature frame (= the codec's hop)
    semantic_states: tuple[StreamState, ...]  # the semantic_stream graph's conv contexts (zeros at the start)
    latent_scale: float = 1.0  # LM-scale latent = (VAE latent + latent_bias) * latent_scale
    latent_bias: float = 0.0
    prompt_noise: Literal["none", "gaussian", "fix"] = "gaussian"  # voice prompts' sigma-VAE draw (the official one)
    prompt_std: float = 0.5  # fix_std of the acoustic tokenizer
    n_train: int = 1000
    beta_schedule: Literal["squaredcos_cap_v2", "linear", "scaled_linear"] = "squaredcos_cap_v2"
    prediction_type: Literal["v_prediction", "epsilon", "sample"] = "v_prediction"
    step_kv: str = "buffer"
    max_speakers: int = 4
    template: ScriptTemplate = field(default_factory=ScriptTemplate)
    # generation defaults (the user's options override them)
    cfg: float = 1.3
    steps: int = 10
    config: dict = field(default_factory=dict)  # the reference model's configuration (informative)

    def check(self) -> None:
        for name in ("lm_dim", "acoustic_dim", "semantic_dim", "vocab_size", "max_positions", "semantic_hop",
                     "n_train", "steps", "max_speakers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if len(self.control_ids) != 4 or len(set(self.control_ids)) != 4:
            raise ValueError(f"control_ids: needs 4 distinct ids, got {self.control_ids}")
        if not all(0 <= i < self.vocab_size for i in self.control_ids):
            raise ValueError(f"control_ids: {self.control_ids} are not all inside the vocabulary")
        if set(self.kv) != {"lm"}:
            raise ValueError(f"kv: needs the one group 'lm', got {sorted(self.kv)}")
        if self.latent_scale == 0:
            raise ValueError("latent_scale: must not be 0")
        if self.cfg < 0 or self.prompt_std < 0:
            raise ValueError(f"cfg / prompt_std: must be >= 0 ({self.cfg}, {self.prompt_std})")
