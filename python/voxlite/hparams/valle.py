"""Hyper-parameters of a codec language model component (kind ``valle-lm``: VALL-E, VALL-E X, SpeechX)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .base import HParams
from .voxcpm import KVGroup

SPEECHX_TASKS = ("noise-suppression", "speech-removal", "target-speaker-extraction", "speech-editing")


@dataclass(frozen=True)
class VallELMHParams(HParams):
    n_text_tokens: int
    n_audio_tokens: int  # codec codebook size N: ids N (end of speech) and N + 1 (BOS) follow the codes
    n_quantizers: int  # codebooks modelled (1 by the AR, the rest by the NAR)
    kv: dict[str, KVGroup]  # "ar": the AR step graph's cache
    max_positions: int  # text + prompt + generated positions the AR cache may hold
    languages: tuple[str, ...] = ()  # language of each language-embedding id (VALL-E X: en, zh, ja); () none
    n_task_tokens: int = 0  # SpeechX task tokens after BOS
    tasks: tuple[str, ...] = ()  # SpeechX tasks the weights were trained for (SPEECHX_TASKS)
    prefix_mode: int = 1
    frames_per_text_token: int = 16  # the AR stops past this many frames per text token (VALL-E X's cap)
    max_prompt_seconds: float = 30.0
    # generation defaults (the user's options override them): VALL-E X samples from the full distribution
    temperature: float = 1.0
    top_k: int = 0  # 0: no top-k
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    config: dict = field(default_factory=dict)  # the reference model's configuration (informative)

    def check(self) -> None:
        for name in ("n_text_tokens", "n_audio_tokens", "max_positions", "frames_per_text_token"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.n_quantizers < 2:
            raise ValueError(f"n_quantizers must be >= 2 (AR codebook 1, NAR the rest), got {self.n_quantizers}")
        if set(self.kv) != {"ar"}:
            raise ValueError(f"kv: needs the one group 'ar', got {sorted(self.kv)}")
        if self.prefix_mode not in (0, 1):
            raise ValueError(f"prefix_mode must be 0 or 1, got {self.prefix_mode}")
        unknown = sorted(set(self.tasks) - set(SPEECHX_TASKS))
        if unknown:
            raise ValueError(f"tasks: unknown {unknown} (known: {', '.join(SPEECHX_TASKS)})")
        if self.tasks and self.n_task_tokens < 6:
            raise ValueError(f"tasks: SpeechX tasks need the 6 task tokens, the model has {self.n_task_tokens}")
        if not 0 < self.max_prompt_seconds <= 600:
            raise ValueError(f"max_prompt_seconds must lie in (0, 600], got {self.max_prompt_seconds}")

    @property
    def eos(self) -> int:
        return self.n_audio_tokens

    @property
    def bos(self) -> int:
        return self.n_audio_tokens + 1

    def language_id(self, language: str) -> int:
        return self.languages.index(language)
