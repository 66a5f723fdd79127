"""User pronunciations for the English G2P: phoneme strings given by hand, a user lexicon file, inline phonemes.

Phoneme strings are written in the G2P's inventory (``english_g2p.PHONEMES``: misaki's US symbols, one character
per phoneme: diphthongs ``A`` (eɪ) ``I`` (aɪ) ``O`` (oʊ) ``W`` (aʊ) ``Y`` (ɔɪ), affricates ``ʤ ʧ``, stress marks
``ˈ ˌ`` before the stressed syllable) with spaces between words. Common IPA spellings are accepted too and mapped
onto it (``eɪ aɪ oʊ əʊ aʊ ɔɪ dʒ tʃ g r ɚ ɝ ɒ ɐ e o x`` and ``'`` for ``ˈ``; length marks ``ː`` and syllable dots
``.`` dropped; a stress mark before a syllable's consonants moves to its vowel, as the inventory writes it), so
an SSML ``<phoneme alphabet="ipa" ph="təˈmeɪtoʊ">`` works. Any other symbol is refused, named.

Inline phonemes in text: ``[[...]]``, e.g. ``I say [[təmˈAtO]], you say tomato.``; the phonemes inside replace
the reading of that span (as whole words: put punctuation outside the brackets).

User lexicon file (UTF-8): one ``word<TAB or spaces>phonemes`` entry a line; ``#`` starts a comment; blank lines
are skipped. Words are letters with inner apostrophes (``O'Neill``); a word matches its own spelling,
its lower-case form and, for lower-case entries, any capitalisation. Entries win over the built-in lexicon.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import InvalidInput

INLINE = re.compile(r"\[\[(.*?)\]\]", re.S)
STRESS = "ˈˌ"
# IPA spellings -> inventory symbols, longest first
_IPA = [("eɪ", "A"), ("aɪ", "I"), ("oʊ", "O"), ("əʊ", "O"), ("aʊ", "W"), ("ɔɪ", "Y"), ("dʒ", "ʤ"), ("tʃ", "ʧ"),
        ("ɚ", "əɹ"), ("ɝ", "ɜɹ"), ("ɡ", "ɡ"), ("g", "ɡ"), ("r", "ɹ"), ("ɒ", "ɑ"), ("ɐ", "ə"), ("e", "ɛ"),
        ("o", "O"), ("x", "k"), ("'", "ˈ"), ("ˈ", "ˈ"), ("ː", ""), ("ˑ", ""), (".", ""), ("\u0361", ""),
        ("\u035c", "")]
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")  # a word as the G2P reads it


def phoneme_symbols() -> str:
    from .english_g2p import PHONEMES

    return PHONEMES


def to_inventory(ph: str, what: str = "phonemes") -> str:
    """A phoneme string (inventory symbols or common IPA) -> inventory symbols, words separated by single spaces;
    InvalidInput naming the first unknown symbol."""
    if not isinstance(ph, str):
        raise InvalidInput(f"{what} must be a string, got {type(ph).__name__}")
    allowed = set(phoneme_symbols())
    out, i = [], 0
    words: list[str] = []
    s = ph.strip()
    while i < len(s):
        c = s[i]
        if c.isspace():
            if out:
                words.append("".join(out))
                out = []
            i += 1
            continue
        for ipa, sym in _IPA:
            if s.startswith(ipa, i):
                out.append(sym)
                i += len(ipa)
                break
        else:
            if c not in allowed:
                raise InvalidInput(f"{what}: {c!r} (U+{ord(c):04X}) is not a phoneme symbol of this voice; the "
                                   f"symbols are {' '.join(phoneme_symbols())} (and common IPA: eɪ aɪ oʊ aʊ ɔɪ dʒ tʃ "
                                   f"g r ɚ ɝ ɒ)")
            out.append(c)
            i += 1
    if out:
        words.append("".join(out))
    words = [_stress_on_vowel(w) for w in words if w.strip(STRESS)]
    if not words:
        raise InvalidInput(f"{what} is empty")
    return " ".join(words)


def _stress_on_vowel(word: str) -> str:
    """IPA marks stress before the syllable ("təˈmAtO"), the inventory before its vowel ("təmˈAtO")."""
    from .english_g2p import _VOWELS

    chars, i = list(word), 0
    while i < len(chars):
        if chars[i] in STRESS:
            j = i + 1
            while j < len(chars) and chars[j] not in _VOWELS and chars[j] not in STRESS:
                j += 1
            if j < len(chars) and chars[j] in _VOWELS and j > i + 1:
                chars.insert(j - 1, chars.pop(i))
                continue
        i += 1
    return "".join(chars)


def parse_lexicon(text: str, source: str = "lexicon") -> dict[str, str]:
    """The entries of a user lexicon file's text (module docstring); InvalidInput naming ``source`` and the line."""
    entries: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 1)
        if len(parts) < 2:
            raise InvalidInput(f"{source} line {n}: expected 'word<TAB>phonemes', got {line!r}")
        word, ph = parts
        if not _WORD.fullmatch(word):
            raise InvalidInput(f"{source} line {n}: {word!r} is not a word (letters, with inner apostrophes)")
        try:
            entries[word.replace("’", "'")] = to_inventory(ph, "phonemes").replace(" ", "")
        except InvalidInput as e:
            raise InvalidInput(f"{source} line {n}: {e}") from None
    return entries


def read_lexicon(path: str | os.PathLike) -> dict[str, str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInput(f"lexicon {path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise InvalidInput(f"cannot read lexicon {path}: {e.strerror or e}") from None
    return parse_lexicon(text, f"lexicon {path}")


def split_inline(text: str) -> list[tuple[bool, str]]:
    """Text -> [(is_phonemes, piece)], the ``[[...]]`` spans' contents mapped onto the inventory."""
    pieces, start = [], 0
    for m in INLINE.finditer(text):
        if m.start() > start:
            pieces.append((False, text[start:m.start()]))
        pieces.append((True, to_inventory(m.group(1), f"inline phonemes [[{m.group(1)}]]")))
        start = m.end()
    if start < len(text):
        pieces.append((False, text[start:]))
    return pieces
