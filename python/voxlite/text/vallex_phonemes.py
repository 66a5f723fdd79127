"""English text -> VALL-E X phoneme token ids, on voxlite's own English G2P (no eng_to_ipa, no ``tokenizers``).

VALL-E X (``VALL-E-X`` 0.0.2a1) reads English through ``english_to_ipa2``: eng_to_ipa's CMUdict IPA (stress marks
``ˈ ˌ`` before the stressed syllable of words of two or more syllables, none on one-syllable words), then dark l
(``l`` -> ``ɫ`` when only non-vowels follow it up to the end of its word), ``r`` -> ``ɹ``, ``ʤ ʧ`` -> ``dʒ tʃ``;
a segment whose phonemes do not end in punctuation gets a final ``.``; spaces become ``_``; every character is one
token of its ``bpe_69.json`` vocabulary (a BPE model without merges); every token's language is English (id 0).

Here the words come from ``EnglishG2P`` (normaliser, lexicon, suffix rules, letter-to-sound model: misaki's US
symbols, one character per phoneme) and are rewritten into VALL-E X's symbols by ``TO_VALLEX`` below, each misaki
symbol as eng_to_ipa would write the CMUdict phone it stands for. Stress marks move from misaki's place (before the
vowel) to where eng_to_ipa puts them (before the syllable's onset, ``_onset``) and are dropped on one-syllable
words. Differences that remain: the lexicon (misaki's, not CMUdict; eng_to_ipa takes the alphabetically last of a
word's CMUdict readings: "hello" is ``həˈloʊ`` here, ``hɛˈloʊ`` there, "reading" ``ˈɹidɪŋ`` / ``ˈɹɛdɪŋ``), weak
forms ("a", "the" reduced here), the normaliser (voxlite's, not inflect's), words CMUdict lacks (read here, spelled
``word*`` in letters there), flaps written ``t`` whatever the spelling, and punctuation: ``;`` ``:`` become ``,``,
an ellipsis ``.`` (the G2P keeps one mark a word), quotes and brackets are dropped (unknown tokens there).

A voice prompt's transcript and the target are phonemized as separate segments (each with its own final ``.``)
and their ids concatenated, as VALL-E X's ``make_prompt`` and ``generate_audio`` do.
"""
from __future__ import annotations

import json
import os
from typing import Mapping

from ..errors import BundleError, InvalidInput
from .english_g2p import EnglishG2P

LANGUAGE_IDS = {"en": 0, "zh": 1, "ja": 2}  # VALL-E X's language embedding rows

# misaki US symbol -> VALL-E X symbols: how eng_to_ipa (+ english_to_ipa2) writes the CMUdict phone it stands for
TO_VALLEX: dict[str, str] = {
    # vowels
    "A": "eɪ",  # diphthongs: one misaki symbol, two VALL-E X tokens (CMU EY AY OW AW OY)
    "I": "aɪ",
    "O": "oʊ",
    "W": "aʊ",
    "Y": "ɔɪ",
    "i": "i", "u": "u", "æ": "æ", "ɑ": "ɑ", "ɔ": "ɔ", "ɛ": "ɛ", "ɪ": "ɪ", "ʊ": "ʊ", "ə": "ə",
    "ʌ": "ə",  # CMU AH is "ə" in eng_to_ipa whatever its stress ("jumps" -> "ʤəmps")
    "ɜ": "ə",  # misaki "ɜɹ" is CMU ER, which eng_to_ipa writes "ər"
    "ᵊ": "ə",  # the reduced vowel of a syllabic l / n ("ˈæpᵊl" apple): CMU AH0 ("æpəl")
    "ᵻ": "ɪ",  # the reduced vowel of -es / -ed ("wˈɑntᵻd"): CMU IH0 ("wɑntɪd")
    # consonants
    "b": "b", "d": "d", "f": "f", "h": "h", "j": "j", "k": "k", "l": "l", "m": "m", "n": "n", "p": "p", "s": "s",
    "t": "t", "v": "v", "w": "w", "z": "z", "ð": "ð", "ŋ": "ŋ", "ɹ": "ɹ", "ʃ": "ʃ", "ʒ": "ʒ", "θ": "θ",
    "ɡ": "g",  # the vocabulary's g is ASCII U+0067 (eng_to_ipa keeps CMU's "g"), not IPA U+0261
    "ɾ": "t",  # a flap: CMUdict has none; four in five of misaki's flapped words spell it t ("water", "city")
    "ʔ": "tə",  # misaki writes a glottal stop only before syllabic n ("bˈʌʔn" button): CMU T AH0 N ("bətən")
    "ʤ": "dʒ",  # english_to_ipa2's ʤ -> dʒ
    "ʧ": "tʃ",  # english_to_ipa2's ʧ -> tʃ
    # stress marks: moved before the syllable (``_onset``), dropped on one-syllable words
    "ˈ": "ˈ", "ˌ": "ˌ",
    # punctuation
    ",": ",", ".": ".", "?": "?", "!": "!",
    ";": ",",  # ; and : are not in the vocabulary: the nearest pause
    ":": ",",
    " ": " ",  # the word boundary; "_" once dark l is marked (``_finish``)
}
DARK_L = "ɫ"  # l -> ɫ when only non-vowels follow it up to the end of its word (english_to_ipa2's mark_dark_l)
SPACE = "_"
FINAL = "."  # appended to a segment not ending in one of ENDINGS
ENDINGS = ".,!?-…~"
# every symbol this front end can emit: the vocabulary must have each
SYMBOLS = frozenset("".join(TO_VALLEX.values()).replace(" ", "") + DARK_L + SPACE + FINAL)

_STRESS = "ˈˌ"
_PUNCT = ",.?!;:"
# eng_to_ipa's classes of the phones (resources/phones.json), keyed by our units
_VOWELS = {"eɪ", "aɪ", "oʊ", "aʊ", "ɔɪ", "i", "u", "æ", "ɑ", "ɔ", "ɛ", "ɪ", "ʊ", "ə", "ər"}
_STOPS = set("pbtdkg")
_HALTS = _VOWELS | set("mnŋfvθðszʃʒw")  # nasals, fricatives, vowels, w (and CMU ER): the onset search stops there
_CLUSTERS = {("s", "p"), ("s", "t"), ("s", "k"), ("f", "ɹ"), ("f", "l")}  # kept whole in an onset
# adjacent vowels that are two syllables for eng_to_ipa (CMU ER IY, IY OW, UW OW, IY AH, IY EY, UW EH, ER EH)
_HIATUS = {("ər", "i"), ("i", "oʊ"), ("u", "oʊ"), ("i", "ə"), ("i", "eɪ"), ("u", "ɛ"), ("ər", "ɛ")}
_SWAPS = (("ˈəɹ", "əˈɹ"), ("ˈie", "iˈe"))  # eng_to_ipa's cmu_to_ipa moves these marks (not at a word's start)
_PLAIN_VOWELS = set("aeiouæɑɔəɛɪʊ")  # what mark_dark_l counts as a vowel (eng_to_ipa's output has no other)


def read_vocab(path: str | os.PathLike) -> dict[str, int]:
    """symbol -> id from a HuggingFace ``tokenizers`` JSON file (``model.vocab``), as VALL-E X's bpe_69.json."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"unreadable VALL-E X vocabulary {path}: {e}") from None
    vocab = doc.get("model", {}).get("vocab") if isinstance(doc, dict) and isinstance(doc.get("model"), dict) else None
    if not isinstance(vocab, dict) or not all(isinstance(k, str) and type(v) is int for k, v in vocab.items()):
        raise BundleError(f"{path} is not a tokenizers JSON file with a model.vocab of symbol -> id")
    return vocab


class VallEXPhonemes:
    """``g2p``: the English G2P that reads the words; ``vocab``: VALL-E X's symbol -> id (``read_vocab``)."""

    language_id = LANGUAGE_IDS["en"]  # of every token this front end makes

    def __init__(self, g2p: EnglishG2P, vocab: Mapping[str, int]):
        missing = sorted(SYMBOLS - set(vocab))
        if missing:
            raise BundleError(f"the VALL-E X vocabulary lacks {' '.join(missing)}: not VALL-E X's bpe_69.json?")
        self.g2p = g2p
        self.vocab = dict(vocab)

    @classmethod
    def from_files(cls, lexicon: str | os.PathLike, vocab: str | os.PathLike, letter_to_sound=None) -> "VallEXPhonemes":
        return cls(EnglishG2P.from_file(lexicon, letter_to_sound), read_vocab(vocab))

    @classmethod
    def from_component(cls, bundle, component: str, sessions) -> "VallEXPhonemes":
        """A bundle's ``vallex-phonemes`` text component: its ``vocab`` file (the tokenizer JSON) and, read as the
        ``voxlite-g2p-en`` front end reads its own component, its ``lexicon`` and optional letter-to-sound graph."""
        from .frontends import FILE_ROLES

        g2p = EnglishG2P.from_component(bundle, component, sessions)
        return cls(g2p, read_vocab(bundle.component_file(component, FILE_ROLES["vallex-phonemes"])))

    # ------------------------------------------------------------------ user pronunciations (misaki symbols)

    supports_phonemes = True

    def add_lexicon(self, lexicon) -> int:
        """As ``EnglishG2P.add_lexicon`` (pronunciations in misaki's symbols or common IPA)."""
        return self.g2p.add_lexicon(lexicon)

    # ------------------------------------------------------------------ text -> symbols -> ids

    def phonemes(self, text: str) -> str:
        """One segment's VALL-E X symbol string ("həˈloʊ_wəɹɫd."); InvalidInput when nothing in it is speakable."""
        ps = self.g2p.phonemize(text)
        if not ps.strip(_PUNCT + " "):
            raise InvalidInput(f"nothing speakable in {text[:60]!r}")
        return _finish(" ".join(_word(w) for w in ps.split()))

    def encode(self, text: str) -> list[int]:
        return [self.vocab[c] for c in self.phonemes(text)]

    def count(self, text: str) -> int:
        """Ids of ``text`` as one segment (0 when nothing is speakable)."""
        try:
            return len(self.phonemes(text))
        except InvalidInput:
            if not isinstance(text, str):
                raise
            return 0

    def encode_pair(self, text: str, prompt_text: str | None = None) -> tuple[list[int], int]:
        """(ids of the prompt transcript's segment then the text's, number of ids of the text's segment)."""
        ids = self.encode(text)
        return ([*self.encode(prompt_text), *ids] if prompt_text else ids), len(ids)


def _units(word: str) -> tuple[list[str], list[str]]:
    """A misaki word (no punctuation) -> (VALL-E X phone units, stress mark of each unit or "")."""
    units: list[str] = []
    marks: list[str] = []
    pending = ""
    for i, c in enumerate(word):
        if c in _STRESS:
            pending = c
            continue
        try:
            out = TO_VALLEX[c]
        except KeyError:
            raise InvalidInput(f"phoneme {c!r} (U+{ord(c):04X}) has no VALL-E X symbol") from None
        if c == "ɹ" and i and word[i - 1] in "ɜə" and not _is_vowel_symbol(word[i + 1:].lstrip(_STRESS)[:1]):
            units[-1] = "ər"  # ɜɹ / əɹ before a consonant or the word's end: one CMU ER (a vowel of its own class)
            continue
        split = [out] if out in _VOWELS or out in ("dʒ", "tʃ") else list(out)
        for u in split:
            units.append(u)
            marks.append(pending if u in _VOWELS else "")
            if u in _VOWELS:
                pending = ""
    return units, marks


def _is_vowel_symbol(c: str) -> bool:
    return bool(c) and TO_VALLEX.get(c, "") in _VOWELS


def _syllables(units: list[str]) -> int:
    """eng_to_ipa's syllable count: vowel runs, and adjacent vowels in hiatus."""
    n = 0
    for i, u in enumerate(units):
        if u in _VOWELS and (i == 0 or units[i - 1] not in _VOWELS or (units[i - 1], u) in _HIATUS):
            n += 1
    return n


def _onset(units: list[str], v: int) -> int:
    """Where eng_to_ipa's find_stress puts the mark of the stressed vowel at ``v``: back over the consonants
    before it until a vowel, nasal, fricative or w, or a consonant followed by a stop; clusters sp st sk fr fl stay
    whole in the onset."""
    for j in range(v - 1, -1, -1):
        inner = j < v - 1  # not the unit right before the vowel
        if units[j] in _HALTS or inner and units[j + 1] in _STOPS:
            if not inner:
                return v if units[j] in _VOWELS else j
            return j if (units[j], units[j + 1]) in _CLUSTERS else j + 1
    return 0


def _word(token: str) -> str:
    """A misaki word with its trailing punctuation -> VALL-E X symbols, stress placed as eng_to_ipa's."""
    core = token.rstrip(_PUNCT)
    tail = "".join(TO_VALLEX[c] for c in token[len(core):])
    units, marks = _units(core)
    before = [""] * len(units)
    if _syllables(units) > 1:
        for v, mark in enumerate(marks):
            if mark:
                before[_onset(units, v)] += mark
    out = "".join(b + ("əɹ" if u == "ər" else u) for b, u in zip(before, units))
    for old, new in _SWAPS:
        if not out.startswith(old):
            out = out.replace(old, new)
    return out + tail


def _finish(segment: str) -> str:
    """Dark l, the final ``.``, ``_`` for spaces (english_to_ipa2 then clean_one then the tokenizer's replace)."""
    segment = " ".join(_dark_l(w) for w in segment.split(" "))
    if segment[-1] not in ENDINGS:
        segment += FINAL
    return segment.replace(" ", SPACE)


def _dark_l(word: str) -> str:
    """The first ``l`` after the word's last vowel becomes ``ɫ`` (mark_dark_l's regex, scanning left to right,
    matches that ``l`` and consumes the rest of the word, so a second one stays ``l``)."""
    last = max((i for i, c in enumerate(word) if c in _PLAIN_VOWELS), default=-1)
    at = word.find("l", last + 1)
    return word if at < 0 else word[:at] + DARK_L + word[at + 1:]
