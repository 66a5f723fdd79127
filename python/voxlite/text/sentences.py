"""Split long text into sentence chunks for sentence-by-sentence generation.

A sentence ends after ``.``, ``!``, ``?`` (followed by whitespace or the end, with any closing quotes / brackets kept
on it) or after CJK ``。``, ``！``, ``？`` (no space needed). The period of an abbreviation is not a sentence end when
more must follow: a title (``Mr.``, ``Dr.``, ``St.`` ...), ``e.g.`` / ``i.e.`` / ``cf.`` or a capital initial
(``J. Smith``); after other common abbreviations (``etc.``, ``vs.``, ``No.``, ``Jr.``, ``Jan.`` ...) and dotted ones
(``a.m.``, ``U.S.``) it is one only when the next word starts with a capital letter.

Consecutive sentences are merged while the chunk stays within ``max_tokens`` (counted by ``count``); a single
sentence over the limit is cut at commas / semicolons / spaces, and as a last resort at a character boundary, so
every chunk fits.

The implementation is native (``csrc/text/sentences.cpp``), shared with the C API so both split text alike; its
reference is ``tests/reference/sentences.py``.
"""
from __future__ import annotations

from typing import Callable

from .. import _native


def _utf8_checked(text: str) -> str:
    if isinstance(text, str):
        text.encode("utf-8")  # a lone surrogate: UnicodeEncodeError (a ValueError), not the binding's TypeError
    return text


def split_sentences(text: str) -> list[str]:
    """Sentences, stripped, empty ones dropped."""
    return _native.split_sentences(_utf8_checked(text))


def chunk_text(text: str, max_tokens: int, count: Callable[[str], int] = len) -> list[str]:
    """Sentences merged into chunks of at most ``max_tokens`` (``count(chunk)``), in order."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    return _native.chunk_text(_utf8_checked(text), int(max_tokens), count)
