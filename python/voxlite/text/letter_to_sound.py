"""Run time of the letter-to-sound model (``voxlite.models.letter_to_sound``): a word the lexicon lacks -> phonemes.

The graph (``tokenizer/letter_to_sound.onnx`` in a bundle: letter ids (1, L) -> logits (1, L * upsample, V)) runs
on any voxlite session; encoding the word and decoding the logits (greedy CTC: best symbol per position, repeats
merged, blanks dropped) are native (``csrc/text/letter_to_sound.cpp``, the codec the C runtime runs the same graph
between; the former NumPy code is kept as ``tests/reference/letter_to_sound.py``).
Its metadata (``voxlite.letters``, ``voxlite.symbols``) carries the letters and symbols it was trained with, so a
graph is read as it was trained.
"""
from __future__ import annotations

import json

import numpy as np

from .. import _native
from ..errors import BundleError

WORD_START, WORD_END = 1, 2  # letter ids; 0 is an unknown letter, letters[k] is k + 3


def ctc_greedy(logits: np.ndarray, symbols) -> str:
    """(T, 1 + len(symbols)) logits -> symbols: argmax per position, repeats merged, blanks (id 0) dropped."""
    arr = np.asarray(logits)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)  # exact for float16 and the integers numpy would compare
    return _native.ctc_greedy(np.ascontiguousarray(arr), symbols if isinstance(symbols, str) else list(symbols))


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

    MAX_LETTERS = _native.LetterToSoundCodec.MAX_LETTERS  # longer "words" are not words: the caller spells them

    def __init__(self, session):
        try:
            letters, symbols = session.metadata["voxlite.letters"], session.metadata["voxlite.symbols"]
            self.letters, self.symbols = json.loads(letters), json.loads(symbols)
            self._codec = _native.LetterToSoundCodec(letters, symbols)
        except (KeyError, TypeError, ValueError) as e:
            raise BundleError(f"letter-to-sound graph without readable letters / symbols metadata: {e}") from None
        self.session = session

    def __call__(self, word: str) -> str | None:
        """Phonemes of ``word``, or None when it has no letter the model knows (or is too long to be a word)."""
        ids = self._codec.encode(word)
        if ids is None:
            return None
        logits = np.asarray(self.session.run({"letter_ids": ids})["logits"][0])
        if logits.dtype == np.float32:
            return self._codec.decode(np.ascontiguousarray(logits)) or None
        return ctc_greedy(logits, self._codec.symbols) or None
