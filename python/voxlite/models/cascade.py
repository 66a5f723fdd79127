"""The PyTorch reference of a semantic-token cascade (Spear-TTS, Make-A-Voice, MVoice): the stage models, each run
by its own reference loop, on the sequences and rules the runtime uses (``pipelines.cascade_sequences``,
``pipelines.unit_rules``), so for one seed the reference and an exported bundle give the same tokens.

    S1  text ids -> units       UnitSeq2Seq.generate (Spear-TTS, Make-A-Voice) | UnitLM.generate (MVoice)
    S2  units -> codec codes     UnitLM.generate over the system's prefix | UniAudioLM.generate (MVoice, VC task)
    S3  codes -> waveform        the codec's decoder | UnitVocoder (+ F0)

None of the three systems has public code or weights: the stage models follow the papers (``hparams.cascade.SYSTEMS``
says which runs where), and a trained checkpoint is a ``CascadeCheckpoint`` (``export/cascade.py`` reads it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..hparams.cascade import CascadeHParams
from ..pipelines.cascade_sequences import (s1_lm_prefix, s1_rules, s1_units, s2_lm_prefix, s2_rules,
                                           unflatten_codes)
from ..pipelines.unit_rules import STAGE_STEPS, sampler

S1_STAGE, S2_STAGE = 1, 0  # sampling step offsets (in STAGE_STEPS), as the runtime's


@dataclass
class Sampling:
    seed: int = 0
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def sampler(self, stage: int) -> Callable[[np.ndarray, int], int]:
        """``sample(masked logits, i)`` of a stage: the runtime's choice (greedy at temperature 0, else the native
        sampler at step ``stage * STAGE_STEPS + i``)."""
        return sampler(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p, seed=self.seed,
                       step_offset=stage * STAGE_STEPS)


class CascadeReference(nn.Module):
    """The stage models of one cascade. ``s2`` is a ``UnitLM`` (Spear-TTS, Make-A-Voice) or a ``UniAudioLM`` (MVoice,
    whose S2 is run by the caller with UniAudio's reference search); ``vocoder`` a ``UnitVocoder`` or None (the
    codec decodes)."""

    def __init__(self, hparams: CascadeHParams, s1: nn.Module, s2: nn.Module, vocoder: nn.Module | None = None,
                 sing_vocoder: nn.Module | None = None):
        super().__init__()
        self.hparams = hparams
        self.s1, self.s2, self.vocoder, self.sing_vocoder = s1, s2, vocoder, sing_vocoder

    @torch.no_grad()
    def semantic(self, src, sampling: Sampling, *, exact: int | None = None) -> np.ndarray:
        """S1: source ids (S,) -> units (U,)."""
        hp = self.hparams
        src = np.asarray(src, np.int64).reshape(-1)
        lm = hp.spec.s1 == "unit-lm"
        rules = s1_rules(src.size, hp, exact=exact, lm=lm)
        ids = s1_lm_prefix(src, hp) if lm else src
        tokens = self.s1.generate(torch.from_numpy(ids), rules, sampling.sampler(S1_STAGE))
        return s1_units(tokens, hp, lm=lm)

    @torch.no_grad()
    def acoustic(self, units, sampling: Sampling, *, prompt_units=None, prompt_codes=None, f0=None,
                 max_length: int | None = None) -> np.ndarray:
        """S2 (``unit-lm`` systems): units (U,) -> codes (k, F)."""
        hp = self.hparams
        if hp.spec.s2 != "unit-lm":
            raise ValueError(f"{hp.system}'s S2 is a {hp.spec.s2}: run its own reference search")
        prefix = s2_lm_prefix(hp, units, prompt_units=prompt_units, prompt_codes=prompt_codes, f0=f0)
        rules = s2_rules(np.asarray(units).size, hp)
        if max_length is not None:
            rules = type(rules)(rules.ranges, rules.end, min(rules.min_frames, max_length),
                                min(rules.max_frames, max_length))
        tokens = self.s2.generate(torch.from_numpy(prefix), rules, sampling.sampler(S2_STAGE))
        k = hp.vocabulary.n_codebooks
        return unflatten_codes(tokens[:len(tokens) // k * k], hp.vocabulary)

    @torch.no_grad()
    def vocode(self, codes, f0=None) -> np.ndarray:
        """S3 by the unit vocoder: codes (k, F) -> samples; with F0 bins (F,) by the singing vocoder."""
        vocoder = self.vocoder if f0 is None else self.sing_vocoder
        if vocoder is None:
            raise ValueError("this cascade's S3 is its codec's decoder" if f0 is None else "no singing vocoder")
        c = torch.from_numpy(np.asarray(codes, np.int64))[None]
        f = None if f0 is None else torch.from_numpy(np.asarray(f0, np.int64))[None]
        return vocoder(c, f)[0, 0].numpy()
