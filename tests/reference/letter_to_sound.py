"""Reference: the Python implementation of voxlite.text.letter_to_sound as it was before the native codec (csrc/text/
letter_to_sound.cpp): letter ids and greedy CTC in NumPy, kept unchanged but for its imports. Not used at run time.

Run time of the letter-to-sound model (``voxlite.models.letter_to_sound``): a word the lexicon lacks -> phonemes.

The graph (``tokenizer/letter_to_sound.onnx`` in a bundle: letter ids (1, L) -> logits (1, L * upsample, V)) runs
on any voxlite session; decoding is greedy CTC in NumPy (best symbol per position, repeats merged, blanks dropped).
Its metadata (``voxlite.letters``, ``voxlite.symbols``) carries the letters and symbols it was trained with, so a
graph is read as it was trained.
"""
from __future__ import annotations

import json

import numpy as np

from voxlite.errors import BundleError

WORD_START, WORD_END = 1, 2  # letter ids; 0 is an unknown letter, letters[k] is k + 3


def ctc_greedy(logits: np.ndarray, symbols: str) -> str:
    """(T, 1 + len(symbols)) logits -> symbols: argmax per position, repeats merged, blanks (id 0) dropped."""
    best = np.asarray(logits).argmax(-1)
    keep = np.ones(len(best), bool)
    keep[1:] = best[1:] != best[:-1]
    return "".join(symbols[i - 1] for i in best[keep] if i > 0)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions of one symbol each)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


class LetterToSound:
    """``session``: a voxlite session of the graph (``run(feeds) -> {"logits": ...}``, ``metadata`` with the
    ``voxlite.letters`` and ``voxlite.symbols`` JSON strings the export writes)."""

    MAX_LETTERS = 48  # longer "words" are not words: the caller spells them out

    def __init__(self, session):
        try:
            self.letters = json.loads(session.metadata["voxlite.letters"])
            self.symbols = json.loads(session.metadata["voxlite.symbols"])
        except (KeyError, TypeError, ValueError) as e:
            raise BundleError(f"letter-to-sound graph without readable letters / symbols metadata: {e}") from None
        self.session = session
        self._index = {ch: i + 3 for i, ch in enumerate(self.letters)}

    def __call__(self, word: str) -> str | None:
        """Phonemes of ``word``, or None when it has no letter the model knows (or is too long to be a word)."""
        w = word.lower()
        if not 0 < len(w) <= self.MAX_LETTERS or not any(ch in self._index for ch in w):
            return None
        ids = np.array([[WORD_START, *(self._index.get(ch, 0) for ch in w), WORD_END]], np.int64)
        return ctc_greedy(self.session.run({"letter_ids": ids})["logits"][0], self.symbols) or None
