"""Split long text into sentence chunks for sentence-by-sentence generation.

A sentence ends after ``.``, ``!``, ``?`` (followed by whitespace or the end, with any closing quotes / brackets kept
on it) or after CJK ``。``, ``！``, ``？`` (no space needed). The period of an abbreviation is not a sentence end when
more must follow: a title (``Mr.``, ``Dr.``, ``St.`` ...), ``e.g.`` / ``i.e.`` / ``cf.`` or a capital initial
(``J. Smith``); after other common abbreviations (``etc.``, ``vs.``, ``No.``, ``Jr.``, ``Jan.`` ...) and dotted ones
(``a.m.``, ``U.S.``) it is one only when the next word starts with a capital letter.

Consecutive sentences are merged while the chunk stays within ``max_tokens`` (counted by ``count``); a single
sentence over the limit is cut at commas / semicolons / spaces, and as a last resort at a character boundary, so
every chunk fits.
"""
from __future__ import annotations

import re
from typing import Callable

_END = re.compile(r"""(?<=[.!?])["'”’)\]]*\s+|(?<=[。！？])["'”’」』）]*\s*""")
_SOFT = re.compile(r"(?<=[,;:，；：、])\s*|\s+")
# lower-case, without the final period
_TITLES = frozenset("mr mrs ms mx dr prof st mt rev fr gen col capt lt sgt gov sen rep hon pres supt".split()
                    + ["e.g", "i.e", "cf", "viz"])
_ABBREVIATIONS = frozenset("etc vs no nos jr sr inc ltd co corp approx fig figs vol vols pp ch sec ca est dept univ "
                           "jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun".split())
_LAST_WORD = re.compile(r"""[^\s"'“‘(\[]+$""")


def _abbreviation_end(text: str, period: int, after: int) -> bool:
    """Whether the ``.`` at ``period`` (followed by whitespace up to ``after``) closes an abbreviation, not a
    sentence."""
    m = _LAST_WORD.search(text, 0, period)
    if m is None:
        return False
    word = m.group()
    if len(word) == 1 and word.isupper():  # an initial: a name follows
        return True
    key = word.lower()
    if key in _TITLES:
        return True
    if key in _ABBREVIATIONS or ("." in key and key.replace(".", "").isalpha()):
        return not (after < len(text) and text[after].isupper())
    return False


def split_sentences(text: str) -> list[str]:
    """Sentences, stripped, empty ones dropped."""
    parts, start = [], 0
    for m in _END.finditer(text):
        if text[m.start() - 1] == "." and text[m.start():m.end()].isspace() \
                and _abbreviation_end(text, m.start() - 1, m.end()):
            continue
        end = m.end()
        parts.append(text[start:end])
        start = end
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _join(a: str, b: str) -> str:
    """Concatenate text pieces: a space between them unless the first ends with CJK text or punctuation."""
    if not a:
        return b
    return a + ("" if _is_cjk(a[-1]) else " ") + b


def _cut(sentence: str, max_tokens: int, count: Callable[[str], int]) -> list[str]:
    """One over-long sentence -> pieces within max_tokens (soft breaks first, then characters)."""
    pieces, cur = [], ""
    for w in (w for w in _SOFT.split(sentence) if w):
        if count(_join(cur, w)) <= max_tokens:
            cur = _join(cur, w)
            continue
        if cur:
            pieces.append(cur)
        cur = ""
        if count(w) <= max_tokens:
            cur = w
            continue
        for ch in w:  # a run without soft breaks (e.g. long CJK): cut by characters
            if cur and count(cur + ch) > max_tokens:
                pieces.append(cur)
                cur = ""
            cur += ch
    if cur:
        pieces.append(cur)
    return pieces


def chunk_text(text: str, max_tokens: int, count: Callable[[str], int] = len) -> list[str]:
    """Sentences merged into chunks of at most ``max_tokens`` (``count(chunk)``), in order."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    chunks, cur = [], ""
    for sentence in split_sentences(text):
        pieces = [sentence] if count(sentence) <= max_tokens else _cut(sentence, max_tokens, count)
        for piece in pieces:
            cand = _join(cur, piece)
            if cur and count(cand) > max_tokens:
                chunks.append(cur)
                cur = piece
            else:
                cur = cand
    if cur:
        chunks.append(cur)
    return chunks


def _is_cjk(c: str) -> bool:
    return c in "。！？，；：、「」『』（）" or "\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff"
