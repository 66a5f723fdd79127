"""Reference: the Python implementation of voxlite.text.english_g2p as it was before the native port (csrc/text/
english_g2p.cpp), kept unchanged but for its imports so tests/test_native_g2p.py can compare the two. Not used at run
time.

English grapheme-to-phoneme front end of the default voice: lexicon lookup, suffix rules, compound splitting.

    text -> normalise (numbers, abbreviations, layout) -> words and punctuation
         -> each word: lexicon (exact, lower case, capitalised) -> 's / -s / -es / -ed / -ing / -ly stems
            -> hyphen parts -> the letter-to-sound model (``voxlite.text.letter_to_sound``, when the bundle has one;
            without it: the fewest known pieces, "moonbeam" = moon + beam) -> letter names
         -> phoneme string ("həlˈO wˈɜɹld.") -> ids over a fixed inventory

No GPL code: the lexicon is data (``voxlite.text.lexicon``, built from misaki's Apache-2.0 US dictionaries and
carried inside the bundle), so training text and synthesis text go through exactly this code; the letter-to-sound
model is a small graph trained on that lexicon (``recipes/default_voice/train_letter_to_sound.py``).
Symbols are misaki's US set: one character per phoneme (diphthongs ``A I O W Y``, affricates ``ʤ ʧ``), stress marks
``ˈ ˌ`` before the stressed vowel's syllable, words separated by spaces.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from voxlite.errors import InvalidInput
from tests.reference.english_normalize import normalize_text  # the Python normaliser, as it was too

PAD, BOS, EOS, SPACE = "<pad>", "<bos>", "<eos>", " "
PUNCTUATION = ",.?!;:"
PHONEMES = "AIOWYbdfhijklmnpstuvwzæðŋɑɔəɛɜɡɪɹɾʃʊʌʒʔʤʧˈˌθᵊᵻ"  # misaki US symbols (letters, then IPA, then marks)
INVENTORY_VERSION = 2  # v1 was the corpus recipe's espeak-ng inventory

_SIBILANT = set("szʃʒʧʤ")
_VOICELESS = set("ptkfθ")
_VOWELS = set("AIOWYiuæɑɔəɛɜɪʊʌᵊᵻ")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*|[0-9]+|[,.?!;:]")
# Unstressed readings of the commonest function words, as a speaker (and the teacher) says them in running text;
# the lexicon has their citation forms ("a" -> "A", "the" -> "ði").
WEAK_FORMS = {"a": "ə", "the": "ðə"}


def inventory() -> list[str]:
    """The symbol of each id: pad, bos, eos, space, punctuation, phonemes."""
    return [PAD, BOS, EOS, SPACE, *PUNCTUATION, *PHONEMES]


@dataclass
class EnglishG2P:
    """``lexicon``: lower-case or cased word -> phoneme string (misaki symbols). ``letter_to_sound``: word ->
    phonemes or None (``voxlite.text.letter_to_sound.LetterToSound``) for words neither the lexicon nor the rules
    read; without it such words are spelled out."""
    lexicon: dict[str, str]
    symbols: list[str] = field(default_factory=inventory)
    letter_to_sound: Callable[[str], str | None] | None = None
    user_lexicon: dict[str, str] = field(default_factory=dict)  # add_lexicon's entries: they win over ``lexicon``

    def __post_init__(self):
        self.ids = {s: i for i, s in enumerate(self.symbols)}
        self._lookup = lru_cache(maxsize=65536)(self._lookup_uncached)

    # ------------------------------------------------------------------ user pronunciations

    supports_phonemes = True  # inline ``[[phonemes]]`` and add_lexicon (``voxlite.text.phonemes``)

    def add_lexicon(self, lexicon) -> int:
        """Add user pronunciations, which win over the built-in lexicon: a path to a lexicon file (lines
        ``word<TAB>phonemes``, ``#`` comments; ``voxlite.text.phonemes``) or a mapping word -> phonemes. Phonemes are
        checked against the inventory (InvalidInput naming the line / word). Returns the number of entries added."""
        from voxlite.text.phonemes import parse_lexicon, read_lexicon, to_inventory

        if isinstance(lexicon, dict):
            lines = []
            for word, ph in lexicon.items():
                if not isinstance(word, str) or not isinstance(ph, str):
                    raise InvalidInput(f"lexicon entries must map words to phoneme strings, got {word!r}: {ph!r}")
                to_inventory(ph, f"lexicon entry {word!r}")
                lines.append(f"{word}\t{ph}")
            entries = parse_lexicon("\n".join(lines), "lexicon")
        else:
            entries = read_lexicon(lexicon)
        for word, ph in entries.items():
            self.user_lexicon[word] = ph
            if word.islower():
                continue
            self.user_lexicon.setdefault(word.lower(), ph)
        self._lookup.cache_clear()
        return len(entries)

    @property
    def vocab_size(self) -> int:
        return len(self.symbols)

    # ------------------------------------------------------------------ text -> phonemes

    def phonemize(self, text: str) -> str:
        """Normalised text -> phoneme string; words joined by spaces, punctuation attached to the word before."""
        if not isinstance(text, str):
            raise InvalidInput(f"text must be a str, got {type(text).__name__}")
        out: list[str] = []
        article = None  # index in out of a "the" whose vowel depends on the next word
        toks = self._tokens(text)
        for i, tok in enumerate(toks):
            if isinstance(tok, _Phonemes):  # inline [[phonemes]]: as given
                if article is not None and tok.lstrip("ˈˌ")[:1] in _VOWELS:
                    out[article] = "ði"
                out.extend(tok.split())
                article = None
                continue
            if tok in PUNCTUATION:
                if out and out[-1][-1:] not in PUNCTUATION:
                    out[-1] += tok
                article = None
                continue
            low = tok.lower()
            if low in self.user_lexicon or tok in self.user_lexicon:
                ps = self.word(tok)
            elif tok == "A" and any(_is_letter(toks[j]) for j in (i - 1, i + 1) if 0 <= j < len(toks)):
                ps = self.word(tok)  # a spelled letter ("A M", "U S A" from the normaliser), not the article
            else:
                ps = WEAK_FORMS.get(low) or self.word(tok)
            if not ps:
                continue
            if article is not None and ps.lstrip("ˈˌ")[:1] in _VOWELS:
                out[article] = "ði"  # "the apple"
            article = len(out) if low == "the" else None
            out.append(ps)
        return " ".join(out)

    @staticmethod
    def _tokens(text: str) -> list:
        """Words, numbers and punctuation of the normalised text; ``[[...]]`` spans as ``_Phonemes``."""
        if "[[" not in text:
            return _WORD.findall(normalize_text(text))
        from voxlite.text.phonemes import split_inline

        toks: list = []
        for is_ph, piece in split_inline(text):
            if is_ph:
                toks.append(_Phonemes(piece))
                continue
            lead = re.match(r"\s*([,.?!;:])", piece)  # punctuation right after a span (the normaliser drops it)
            if lead and toks:
                toks.append(lead.group(1))
            toks.extend(_WORD.findall(normalize_text(piece)))
        return toks

    def word(self, word: str) -> str:
        return self._lookup(word.replace("’", "'"))

    # ------------------------------------------------------------------ the pipeline's tokenizer interface

    def count(self, text: str) -> int:
        """Ids of ``text`` without bos / eos (0 when nothing is speakable)."""
        return len(self.encode_phonemes(self.phonemize(text), add_bos_eos=False))

    def encode_pair(self, text: str, prompt_text: str | None = None) -> tuple[list[int], int]:
        """(ids of the prompt transcript and the text as one utterance, number of ids of the text alone)."""
        ids = self.encode(f"{prompt_text} {text}" if prompt_text else text)
        return ids, len(ids) if not prompt_text else self.count(text)

    @classmethod
    def from_file(cls, path, letter_to_sound: Callable[[str], str | None] | None = None) -> "EnglishG2P":
        from voxlite.text.lexicon import load

        return cls(load(path), letter_to_sound=letter_to_sound)

    LETTER_TO_SOUND_GRAPH = "letter_to_sound"

    @classmethod
    def from_component(cls, bundle, component: str, sessions) -> "EnglishG2P":
        """The G2P of a bundle's ``voxlite-g2p-en`` text component: its ``lexicon`` file and, when the component has
        one, the letter-to-sound graph for words the lexicon lacks (opened through ``sessions``)."""
        from voxlite.text.frontends import FILE_ROLES

        letter_to_sound = None
        if cls.LETTER_TO_SOUND_GRAPH in bundle.component(component).graphs:
            from tests.reference.letter_to_sound import LetterToSound

            letter_to_sound = LetterToSound(sessions.get(f"{component}/{cls.LETTER_TO_SOUND_GRAPH}"))
        return cls.from_file(bundle.component_file(component, FILE_ROLES["voxlite-g2p-en"]), letter_to_sound)

    def encode(self, text: str, *, add_bos_eos: bool = True) -> list[int]:
        """Text -> ids (``phonemize`` then ``encode_phonemes``); raises InvalidInput when nothing is speakable."""
        ps = self.phonemize(text)
        if not ps.strip(PUNCTUATION + " "):
            raise InvalidInput(f"nothing speakable in {text[:60]!r}")
        return self.encode_phonemes(ps, add_bos_eos=add_bos_eos)

    def encode_phonemes(self, phonemes: str, *, add_bos_eos: bool = True) -> list[int]:
        ids = [self.ids[c] for c in phonemes if c in self.ids]
        return [self.ids[BOS], *ids, self.ids[EOS]] if add_bos_eos else ids

    # ------------------------------------------------------------------ words

    def _entry(self, word: str) -> str | None:
        if self.user_lexicon:
            ps = self.user_lexicon.get(word) or self.user_lexicon.get(word.lower())
            if ps:
                return ps
        for w in (word, word.lower(), word.capitalize()):
            ps = self.lexicon.get(w)
            if ps:
                return ps
        return None

    def _lookup_uncached(self, word: str) -> str:
        if word.isdigit():  # normalise_text leaves only numbers too large to read: digit by digit
            return " ".join(self._lookup_uncached(d) for d in _digit_names(word))
        ps = self._entry(word)
        if ps is not None:
            return ps
        ps = self._suffixed(word)
        if ps is not None:
            return ps
        if word.lower().endswith("'s") and len(word) > 2:  # possessive of an unknown word
            return _add_s(self._lookup_uncached(word[:-2]))
        if "'" in word:  # unknown contraction: read its parts
            return "".join(self._lookup_uncached(p) for p in word.split("'") if p)
        if word.isupper() and len(word) <= 5:  # an acronym: letter names
            return self._spell(word)
        if self.letter_to_sound is None:
            return self._compound(word.lower()) or self._spell(word)
        # with a model only hyphen parts stay a rule: on held-out lexicon words the model reads better than
        # lexicon pieces, even two of them (symbol errors 5.8 % against 20.8 % on the 1,584 words two pieces
        # cover; "Methodius" = method + i + us)
        if "-" in word:
            return self._compound(word.lower()) or self._spell(word)
        return self.letter_to_sound(word) or self._spell(word)

    def _suffixed(self, word: str) -> str | None:
        w = word.lower()
        if w.endswith("'s") and (stem := self._entry(w[:-2])):
            return _add_s(stem)
        if w.endswith("s'") and (stem := self._entry(w[:-1])):
            return stem
        if w.endswith("s") and len(w) > 3:
            for stem_word in (w[:-1], w[:-2] if w.endswith("es") else None,
                              w[:-3] + "y" if w.endswith("ies") else None):
                if stem_word and (stem := self._entry(stem_word)):
                    return _add_s(stem)
        if w.endswith("ed") and len(w) > 4:
            for stem_word in (w[:-2], w[:-1], w[:-3] if len(w) > 5 and w[-3] == w[-4] else None,
                              w[:-3] + "y" if w.endswith("ied") else None):
                if stem_word and (stem := self._entry(stem_word)):
                    return _add_ed(stem)
        if w.endswith("ing") and len(w) > 5:
            for stem_word in (w[:-3], w[:-3] + "e", w[:-4] if w[-4] == w[-5] else None):
                if stem_word and (stem := self._entry(stem_word)):
                    return stem + "ɪŋ"
        if w.endswith("ly") and len(w) > 4 and (stem := self._entry(w[:-2])):
            return stem + "li"
        return None

    def _compound(self, w: str, max_pieces: int | None = None) -> str | None:
        """The fewest lexicon pieces (each >= 2 letters, or one of a/i) covering ``w``, at most ``max_pieces``
        (default: 2, or a third of the letters for longer words); None if there are none. Hyphenated: its parts."""
        if "-" in w:
            parts = [self._lookup_uncached(p) for p in w.split("-") if p]
            return " ".join(parts) if parts else None
        n = len(w)
        best: list[tuple[int, list[str]] | None] = [None] * (n + 1)
        best[0] = (0, [])
        for end in range(1, n + 1):
            for start in range(max(0, end - 20), end):
                if best[start] is None:
                    continue
                piece = w[start:end]
                if len(piece) < 2 and piece not in ("a", "i"):
                    continue
                ps = (self.lexicon.get(piece) or self._suffixed(piece)) if len(piece) > 1 else self.lexicon.get(piece)
                if not ps:
                    continue
                cand = (best[start][0] + 1, best[start][1] + [ps])
                if best[end] is None or cand[0] < best[end][0]:
                    best[end] = cand
        if best[n] is None or best[n][0] > (max_pieces or max(2, n // 3)):
            return None
        return _join_pieces(best[n][1])

    def _spell(self, word: str) -> str:
        names = [self.lexicon.get(c.upper()) or self.lexicon.get(c.lower()) for c in word if c.isalpha()]
        return " ".join(n for n in names if n)


class _Phonemes(str):
    """An inline ``[[...]]`` span's phonemes (inventory symbols, words separated by spaces)."""


def _is_letter(tok: str) -> bool:
    """A single capital letter, as the normaliser writes a spelled acronym ("F B I"); "I'm" or "A's" are not."""
    if isinstance(tok, _Phonemes):
        return False
    return len(tok) == 1 and tok.isupper() or len(tok) == 3 and tok[0].isupper() and tok[1:] == "'s"


def _digit_names(digits: str) -> list[str]:
    names = "zero one two three four five six seven eight nine".split()
    return [names[int(d)] for d in digits]


def _last_sound(ps: str) -> str:
    core = ps.rstrip("ˈˌ")
    return core[-1] if core else ""


def _add_s(stem: str) -> str:
    last = _last_sound(stem)
    if last in _SIBILANT:
        return stem + "ᵻz"
    return stem + ("s" if last in _VOICELESS else "z")


def _add_ed(stem: str) -> str:
    last = _last_sound(stem)
    if last in "td":
        return stem + "ᵻd"
    return stem + ("t" if last in _VOICELESS | set("sʃʧ") else "d")


def _join_pieces(pieces: list[str]) -> str:
    """Compound pieces keep the first primary stress; later primaries become secondary."""
    out, seen_primary = [], False
    for p in pieces:
        if seen_primary:
            p = p.replace("ˈ", "ˌ")
        seen_primary = seen_primary or "ˈ" in p
        out.append(p)
    return "".join(out)
