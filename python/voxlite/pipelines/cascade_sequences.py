"""The sequences and rules of a cascade's language-model stages (numpy only: the PyTorch references and the runtime
build them with these functions, so both feed their models the same ids).

``unit-lm`` S1 (MVoice): ``<text> T <semantic>`` -> units, one per step, until ``<end>``.
``unit-lm`` S2: the system's segments in its order, each opened by its marker, then ``<acoustic>``; the target's
codes follow, k per frame (codebook 0 first). A segment that is empty (no voice prompt) is left out with its marker:

    Spear-TTS     <semantic> prompt units + target units  <acoustic> prompt codes | target codes ...
    Make-A-Voice  <acoustic> prompt codes  <semantic> target units  [<f0> F0 bins]  <acoustic> | target codes ...

Spear-TTS's two semantic runs form one segment and the prompt's codes one with the generation's marker, because its
target continues the prompt (the prompt is the start of the utterance it was cut from); Make-A-Voice's prompt is a
separate window of the utterance, so the target opens its own segment.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidInput
from ..hparams.cascade import CascadeHParams, UnitVocabulary
from .unit_rules import FrameRules


def _ids(values, n: int, what: str) -> np.ndarray:
    a = np.asarray(values if values is not None else [], dtype=np.int64).reshape(-1)
    if a.size and (a.min() < 0 or a.max() >= n):
        raise InvalidInput(f"{what} must be ids in 0..{n - 1}")
    return a


def codes_array(codes, vocab: UnitVocabulary, what: str = "codes") -> np.ndarray:
    """(k, F) per-codebook codes, each in 0..codebook_size-1 (k = the vocabulary's codebooks)."""
    a = np.asarray(codes if codes is not None else np.zeros((vocab.n_codebooks, 0)), dtype=np.int64)
    if a.ndim != 2 or a.shape[0] != vocab.n_codebooks:
        raise InvalidInput(f"{what} must be ({vocab.n_codebooks}, frames), got shape {a.shape}")
    if a.size and (a.min() < 0 or a.max() >= vocab.codebook_size):
        raise InvalidInput(f"{what} must lie in 0..{vocab.codebook_size - 1}")
    return a


def flatten_codes(codes: np.ndarray, vocab: UnitVocabulary) -> np.ndarray:
    """(k, F) codes -> (k F,) joint ids, frame by frame."""
    offsets = np.array([vocab.codebook_offset(c) for c in range(vocab.n_codebooks)], np.int64)
    return (codes + offsets[:, None]).T.reshape(-1)


def unflatten_codes(tokens, vocab: UnitVocabulary) -> np.ndarray:
    """Generated joint ids (whole frames) -> (k, F) codes."""
    k = vocab.n_codebooks
    t = np.asarray(tokens, np.int64).reshape(-1, k)
    offsets = np.array([vocab.codebook_offset(c) for c in range(k)], np.int64)
    return (t - offsets).T.copy()


def s1_lm_prefix(src: np.ndarray, hp: CascadeHParams) -> np.ndarray:
    """MVoice's S1 prefix ``<text> T <semantic>`` from source ids (phones) 0..src_vocab-1."""
    v = hp.vocabulary
    src = _ids(src, hp.src_vocab, "source ids")
    return np.concatenate(([v.TEXT], v.text_offset + src, [v.SEMANTIC])).astype(np.int64)


def s1_rules(n_src: int, hp: CascadeHParams, *, exact: int | None = None, lm: bool = False) -> FrameRules:
    """Units in S1's target ids (the seq2seq's 0..n_units-1, end = n_units + 1; the LM's joint ids); at most
    ``units_per_phone`` per source id, or exactly ``exact`` (singing: one unit per score frame)."""
    v = hp.vocabulary
    lo, end = (v.unit_offset, v.END) if lm else (0, v.n_units + 1)
    cap = exact if exact is not None else hp.units_per_phone * max(1, n_src)
    return FrameRules(((lo, lo + v.n_units),), end=end, min_frames=cap if exact is not None else 1, max_frames=cap)


def s1_units(tokens, hp: CascadeHParams, *, lm: bool = False) -> np.ndarray:
    """S1's generated ids -> unit ids 0..n_units-1."""
    t = np.asarray(tokens, np.int64)
    return t - hp.vocabulary.unit_offset if lm else t


def s2_lm_prefix(hp: CascadeHParams, units: np.ndarray, *, prompt_units=None, prompt_codes=None,
                 f0=None) -> np.ndarray:
    """A ``unit-lm`` S2 prefix in the system's order (module docstring). ``units`` (U,) target semantic units,
    ``prompt_units`` (P,) and ``prompt_codes`` (k, P') the voice prompt's, ``f0`` (F,) F0 bins (singing)."""
    v = hp.vocabulary
    units = _ids(units, v.n_units, "semantic units")
    if units.size == 0:
        raise InvalidInput("no semantic units to voice")
    prompt_units = _ids(prompt_units, v.n_units, "prompt semantic units")
    prompt_codes = codes_array(prompt_codes, v, "prompt codes")
    f0 = _ids(f0, max(v.f0_bins, 1), "F0 bins")
    if f0.size and not v.f0_bins:
        raise InvalidInput("this model takes no F0")
    parts: list[np.ndarray] = []
    order = hp.spec.s2_order
    for segment in order:
        if segment == "prompt_semantic" and prompt_units.size:
            parts += [[v.SEMANTIC], v.unit_offset + prompt_units]
        elif segment == "semantic":
            parts += ([] if "prompt_semantic" in order and prompt_units.size else [[v.SEMANTIC]])
            parts += [v.unit_offset + units]
        elif segment == "prompt_acoustic" and prompt_codes.shape[1]:
            parts += [[v.ACOUSTIC], flatten_codes(prompt_codes, v)]
        elif segment == "f0" and f0.size:
            parts += [[v.F0], v.f0_offset + f0]
    continues = "prompt_acoustic" in order and order[-1] == "prompt_acoustic" and prompt_codes.shape[1]
    if not continues:
        parts.append([v.ACOUSTIC])
    return np.concatenate([np.asarray(p, np.int64) for p in parts])


def target_frames(n_units: int, hp: CascadeHParams) -> int:
    """Codec frames the target's units cover (aligned systems) / at most (the others)."""
    if hp.spec.aligned:
        return n_units
    return max(1, math.ceil(n_units * hp.frames_per_unit * hp.frame_rate / hp.unit_rate))


def s2_rules(n_units: int, hp: CascadeHParams) -> FrameRules:
    """The target codes' rule: codebook c's ids at place c of every frame; an aligned target has exactly
    ``target_frames`` frames, another stops at ``<end>`` (not before its first frame) or at the cap."""
    v = hp.vocabulary
    ranges = tuple((v.codebook_offset(c), v.codebook_offset(c + 1)) for c in range(v.n_codebooks))
    frames = target_frames(n_units, hp)
    return FrameRules(ranges, end=v.END, min_frames=frames if hp.spec.aligned else 1, max_frames=frames)
