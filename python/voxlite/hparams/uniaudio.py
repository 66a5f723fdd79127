"""Hyper-parameters of UniAudio's LM component (kind ``uniaudio-lm``): the MegaByte graphs' sizes, the joint
vocabulary (the checkpoint's token list, from which every offset is read), the tasks the weights were trained for,
and the search defaults."""
from __future__ import annotations

from dataclasses import dataclass, field

from .base import HParams
from .voxcpm import KVGroup


@dataclass(frozen=True)
class UniAudioLMHParams(HParams):
    token_list: tuple[str, ...]  # the joint vocabulary, id order (special tokens, <audio_N>, <phone_N>, ...)
    n_ctx: int  # global (frame) positions: prefix + generated frames
    n_state: int
    na_repeat: int  # tokens per frame = codebooks the LM models
    continuous_dim: int  # width of the T5 features a continuous segment carries
    kv: dict[str, KVGroup]  # "global": global_step's cache; "local": local_step's (na_repeat positions)
    tasks: tuple[str, ...]  # UniAudio tasks the bundle accepts (voxlite.pipelines.uniaudio_sequences.TASKS)
    # search defaults (UniAudio's inference: top-k 30 sampling; TTS recipe: maxlen 7x, minlen 0.5x the prefix)
    top_k: int = 30
    temperature: float = 1.0
    maxlen_ratio: float = 7.0  # at most int(maxlen_ratio * prefix frames) frames (and what n_ctx leaves)
    minlen_ratio: float = 0.5  # <audio_end> allowed from frame int(minlen_ratio * prefix frames) on
    max_prompt_seconds: float = 30.0  # the longest recording an input may be
    prompt_seconds: float = 3.0  # voice prompts are cut to their first prompt_seconds (UniAudio trained on 3 s)
    sound_seconds: float = 10.0  # generate's default length (AudioCaps-style clips)
    config: dict = field(default_factory=dict)  # the reference model's configuration (informative)

    def check(self) -> None:
        from ..errors import InvalidInput
        from ..pipelines.uniaudio_sequences import FRAME, TASK_FORMATS, UniAudioVocabulary

        for name in ("n_ctx", "n_state", "continuous_dim", "top_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.na_repeat != FRAME:
            raise ValueError(f"na_repeat: the sequence builder's frames are {FRAME} tokens, got {self.na_repeat}")
        if set(self.kv) != {"global", "local"}:
            raise ValueError(f"kv: needs the groups 'global' and 'local', got {sorted(self.kv)}")
        for name in ("max_prompt_seconds", "prompt_seconds", "sound_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.temperature <= 100:
            raise ValueError(f"temperature must lie in [0, 100], got {self.temperature}")
        if not self.maxlen_ratio > 0 or not 0 <= self.minlen_ratio <= self.maxlen_ratio:
            raise ValueError(f"maxlen_ratio / minlen_ratio: need 0 <= minlen ({self.minlen_ratio}) <= maxlen "
                             f"({self.maxlen_ratio}), maxlen > 0")
        unknown = sorted(set(self.tasks) - set(TASK_FORMATS))
        if unknown:
            raise ValueError(f"tasks: unknown {unknown}")
        try:
            vocab = UniAudioVocabulary.from_token_list(self.token_list)
            for task in self.tasks:
                fmt = TASK_FORMATS[task]
                vocab.task_id(task)
                for kind in fmt.types:
                    vocab.special(f"<{kind}_start>")
                    vocab.special(f"<{kind}_end>")
                    if kind != "text_t5":
                        vocab.data_range(kind)
                if fmt.types[-1] != "audio":
                    raise ValueError(f"tasks: {task}'s target is {fmt.types[-1]}; the graphs generate audio only")
            vocab.special("<audio_start>"), vocab.special("<audio_end>")
        except InvalidInput as e:
            raise ValueError(f"token_list: {e}") from None
        if vocab.bins < 1:
            raise ValueError("token_list: no <audio_N> codec range")

    def vocabulary(self):
        """The sequence builder's ``UniAudioVocabulary`` of this token list."""
        from ..pipelines.uniaudio_sequences import UniAudioVocabulary

        return UniAudioVocabulary.from_token_list(self.token_list)
