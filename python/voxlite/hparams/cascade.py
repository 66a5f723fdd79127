"""Hyper-parameters of a semantic-token cascade (component kind ``cascade``: the plan, no graphs of its own).

Spear-TTS, Make-A-Voice and MVoice share one shape: text -> semantic units (S1) -> codec tokens (S2) -> waveform
(S3). What differs is which model runs each stage and how S2's sequence is laid out; ``SYSTEMS`` holds that per system
and ``CascadeHParams`` records it in the bundle, with the sizes the sequences need (``UnitVocabulary``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import HParams

System = Literal["spear-tts", "make-a-voice", "mvoice"]


@dataclass(frozen=True)
class SystemSpec:
    """One system's choices. ``s1``: the text -> units model's kind (``unit-seq2seq``: encoder-decoder; ``unit-lm``:
    decoder-only over ``<text> T <semantic>``). ``s2``: the units -> codes model's kind (``unit-lm``: one token per
    step, the codebooks flattened frame by frame; ``uniaudio-lm``: UniAudio's global / local multi-scale model, its
    ``VC`` task). ``s2_order``: the segments of a ``unit-lm`` S2 prefix, in order (``prompt_semantic``, ``semantic``,
    ``prompt_acoustic``, ``f0``); the target's codes follow. ``aligned``: the target has as many codec frames as the
    semantic units cover (both run at one rate), so S2's length is fixed by S1's; otherwise S2 stops at ``<end>``.
    ``vocoder``: S3, ``codec`` (the codec's decoder on the modelled codebooks) or ``unit-vocoder`` (BigVGAN from the
    codes, + F0 for singing). ``semantic``: the semantic tokenizer the system was published with."""
    s1: str
    s2: str
    s2_order: tuple[str, ...]
    aligned: bool
    vocoder: str
    semantic: str
    tasks: tuple[str, ...]


SYSTEMS: dict[str, SystemSpec] = {
    # S2 continues the prompt's codes: [prompt semantic | target semantic | prompt acoustic] -> target acoustic
    "spear-tts": SystemSpec(s1="unit-seq2seq", s2="unit-lm", s2_order=("prompt_semantic", "semantic", "prompt_acoustic"),
                            aligned=False, vocoder="codec", semantic="w2v-bert", tasks=("tts", "vc")),
    # [prompt acoustic | target semantic (| F0 for singing)] -> target acoustic, aligned frame by frame
    "make-a-voice": SystemSpec(s1="unit-seq2seq", s2="unit-lm", s2_order=("prompt_acoustic", "semantic", "f0"),
                               aligned=True, vocoder="unit-vocoder", semantic="hubert", tasks=("tts", "vc", "sing")),
    # an AR LM for S1, UniAudio's multi-scale model for S2 (its VC sequence: semantic units, then the voice prompt)
    "mvoice": SystemSpec(s1="unit-lm", s2="uniaudio-lm", s2_order=(), aligned=True, vocoder="unit-vocoder",
                         semantic="wav2vec2", tasks=("tts", "vc")),
}
TASKS = ("tts", "vc", "sing")


@dataclass(frozen=True)
class UnitVocabulary(HParams):
    """The joint id layout of the cascade's ``unit-lm`` stages: ``N_SPECIAL`` marker ids, then the semantic units,
    the ``n_codebooks`` codebooks of ``codebook_size`` codes, the F0 bins and the text ids, each a contiguous run.
    A stage's model only ever sees the runs its sequences use, but every stage counts ids the same way."""
    n_units: int
    n_codebooks: int = 3
    codebook_size: int = 1024
    f0_bins: int = 0
    n_text: int = 0

    END, SEMANTIC, ACOUSTIC, F0, TEXT = 0, 1, 2, 3, 4  # marker ids
    N_SPECIAL = 8  # ids below this are markers (three spare)

    def check(self) -> None:
        for name in ("n_units", "n_codebooks", "codebook_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("f0_bins", "n_text"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")

    @property
    def unit_offset(self) -> int:
        return self.N_SPECIAL

    def codebook_offset(self, c: int) -> int:
        return self.N_SPECIAL + self.n_units + c * self.codebook_size

    @property
    def f0_offset(self) -> int:
        return self.codebook_offset(self.n_codebooks)

    @property
    def text_offset(self) -> int:
        return self.f0_offset + self.f0_bins

    @property
    def size(self) -> int:
        return self.text_offset + self.n_text


@dataclass(frozen=True)
class CascadeHParams(HParams):
    system: System
    vocabulary: UnitVocabulary
    s1: str  # component names of the stages
    s2: str
    vocoder: str  # the S3 component: a ``unit-vocoder`` or the ``codec``
    sing_vocoder: str = ""  # singing's S3: a unit vocoder that also reads F0 (Make-A-Voice); "" none
    codec: str = "codec"  # encodes voice prompts (and decodes, when it is S3)
    semantic_units: str = ""  # the semantic tokenizer component (prompts, voice conversion); "" none
    text: str = "text"  # the text front end (English G2P phones: S1's source ids 0 .. n_phones - 1)
    n_phones: int = 0  # S1 source ids the text front end makes
    sing_phones: tuple[str, ...] = ()  # singing phone symbols, S1 source ids n_phones + i (Make-A-Voice singing)
    f0_min: float = 65.40639  # F0 quantisation range (Hz) of the F0 bins (C2 .. C7); 0 bin = unvoiced
    f0_max: float = 2093.0045
    unit_rate: float = 50.0  # semantic units per second
    frame_rate: float = 50.0  # codec frames per second
    units_per_phone: int = 25  # S1 stops past this many units per source id
    frames_per_unit: float = 2.0  # unaligned S2 stops past this many frames per unit (x frame_rate / unit_rate)
    prompt_seconds: float = 3.0  # voice prompts are cut to their first prompt_seconds
    max_prompt_seconds: float = 30.0  # longer prompts are refused
    temperature: float = 1.0  # sampling defaults of both LM stages (the user's options override them)
    top_k: int = 0
    tasks: tuple[str, ...] = ("tts",)

    def check(self) -> None:
        spec = self.spec
        unknown = sorted(set(self.tasks) - set(TASKS))
        if unknown:
            raise ValueError(f"tasks: unknown {unknown} (known: {', '.join(TASKS)})")
        beyond = sorted(set(self.tasks) - set(spec.tasks))
        if beyond:
            raise ValueError(f"tasks: {self.system} does not do {beyond} (it does {', '.join(spec.tasks)})")
        if "vc" in self.tasks and not self.semantic_units:
            raise ValueError("semantic_units: voice conversion needs the semantic tokenizer component")
        if "sing" in self.tasks and (not self.sing_phones or not self.vocabulary.f0_bins or not self.sing_vocoder):
            raise ValueError("sing_phones: singing needs a singing phone table, F0 bins and a vocoder reading F0")
        if self.n_phones < 1:
            raise ValueError(f"n_phones: must be >= 1, got {self.n_phones}")
        if not 0 < self.f0_min < self.f0_max:
            raise ValueError(f"f0_min / f0_max: need 0 < f0_min < f0_max, got {self.f0_min} / {self.f0_max}")
        for name in ("unit_rate", "frame_rate", "frames_per_unit", "prompt_seconds", "max_prompt_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.units_per_phone < 1:
            raise ValueError(f"units_per_phone: must be >= 1, got {self.units_per_phone}")
        if spec.aligned and self.unit_rate != self.frame_rate:
            raise ValueError(f"unit_rate: {self.system} aligns units and codec frames one to one, but they run at "
                             f"{self.unit_rate:g} and {self.frame_rate:g} per second")
        if self.temperature < 0 or self.top_k < 0:
            raise ValueError("temperature / top_k: must be >= 0")

    @property
    def spec(self) -> SystemSpec:
        return SYSTEMS[self.system]

    @property
    def src_vocab(self) -> int:
        """S1's source ids: the text front end's phones, then the singing phones."""
        return self.n_phones + len(self.sing_phones)
