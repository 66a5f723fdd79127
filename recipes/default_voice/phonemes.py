"""The default voice's own phoneme inventory: IPA (as espeak-ng writes en-us) <-> token ids.

Units are phonemes, not code points: diphthongs (``aɪ``), affricates (``tʃ``), long vowels (``iː``) and
syllabic consonants (``n̩``) are one token each; primary and secondary stress (``ˈ ˌ``) are tokens of their own
placed before the vowel, as espeak-ng places them; word boundaries are the space token; ``. , ? ! ; :`` are
kept as prosody tokens. So a runtime G2P that is not espeak-ng (a CMUdict lexicon and letter rules, say) can
produce the same tokens from ARPAbet one to one (AY1 -> ``ˈ aɪ``, CH -> ``tʃ``, ER0 -> ``ɚ`` ...).

The table is append-only: ids never change meaning within an ``INVENTORY_VERSION``; a new symbol gets a new id
at the end. This module has no dependencies (it may move into the runtime wheel as it is).
"""
from __future__ import annotations

import unicodedata

INVENTORY_VERSION = 1

PAD, BOS, EOS, SPACE = "_", "^", "$", " "
PUNCTUATION = (".", ",", "?", "!", ";", ":")
STRESS = ("ˈ", "ˌ")

VOWELS = (
    "iː", "ɪ", "i", "eɪ", "ɛ", "æ", "aɪ", "aʊ", "a", "ɑː", "ɑ", "ɔː", "ɔ", "ɔɪ", "oʊ", "o", "ʊ", "uː", "u",
    "ʌ", "ə", "ɚ", "ɜː", "ɜ", "ɐ", "ᵻ", "e",
)
CONSONANTS = (
    "p", "b", "t", "d", "k", "ɡ", "f", "v", "θ", "ð", "s", "z", "ʃ", "ʒ", "h", "m", "n", "ŋ", "l", "ɹ", "w",
    "j", "tʃ", "dʒ", "ɾ", "ʔ", "n̩", "l̩", "m̩",
)

SYMBOLS: tuple[str, ...] = (PAD, BOS, EOS, SPACE, *PUNCTUATION, *STRESS, *VOWELS, *CONSONANTS)
SYMBOL_TO_ID: dict[str, int] = {s: i for i, s in enumerate(SYMBOLS)}
PAD_ID, BOS_ID, EOS_ID, SPACE_ID = (SYMBOL_TO_ID[s] for s in (PAD, BOS, EOS, SPACE))

# What espeak-ng writes now and then for English that the inventory folds into its nearest unit ("" = drop).
# ʲ is espeak's palatal off-glide on a final /i/ before a vowel ("only a" -> ˈoʊnliʲ ɐ): dropped, as Kokoro's
# vocabulary does; the others come from foreign names.
FALLBACK: dict[str, str] = {
    "ʲ": "", "r": "ɹ", "ɾ̃": "ɾ", "ɫ": "l", "x": "k", "ç": "h", "ɬ": "l", "ɣ": "ɡ", "β": "b", "ʁ": "ɹ",
    "ɒ": "ɑ", "y": "uː", "ø": "ɜː", "œ": "ɜ", "ɲ": "n", "ʎ": "l", "ɕ": "ʃ", "ʑ": "ʒ", "ʤ": "dʒ", "ʧ": "tʃ",
    "g": "ɡ", "\u0303": "", "ˑ": "", "‖": ",", "|": ",", "—": ",", "…": ".",
}

_UNITS = sorted((s for s in SYMBOLS if s not in (PAD, BOS, EOS)), key=len, reverse=True)
_FALLBACK_KEYS = sorted(FALLBACK, key=len, reverse=True)
_MAX_UNIT = max(len(u) for u in _UNITS + _FALLBACK_KEYS)


class UnknownPhoneme(ValueError):
    """The IPA string holds a symbol the inventory has no unit or fallback for."""


def normalize_ipa(ipa: str) -> str:
    """NFC, one space between words, no space before punctuation."""
    ipa = unicodedata.normalize("NFC", ipa)
    ipa = " ".join(ipa.split())
    for p in PUNCTUATION:
        ipa = ipa.replace(" " + p, p)
    return ipa.strip()


def tokenize(ipa: str, *, strict: bool = True) -> list[str]:
    """IPA string -> units, longest match first; fallbacks applied. Unknown symbols raise (or are dropped)."""
    ipa = normalize_ipa(ipa)
    out: list[str] = []
    i = 0
    while i < len(ipa):
        for n in range(min(_MAX_UNIT, len(ipa) - i), 0, -1):
            piece = ipa[i:i + n]
            if piece in SYMBOL_TO_ID:
                out.append(piece)
                break
            if piece in FALLBACK:
                out.extend(tokenize_fallback(FALLBACK[piece]))
                break
        else:
            if strict:
                raise UnknownPhoneme(f"no unit for {ipa[i]!r} (U+{ord(ipa[i]):04X}) in {ipa!r}")
            n = 1
        i += n
    # fallbacks that drop a symbol can leave doubled or leading/trailing spaces
    cleaned: list[str] = []
    for u in out:
        if u == SPACE and (not cleaned or cleaned[-1] == SPACE):
            continue
        if u in PUNCTUATION and cleaned and cleaned[-1] == SPACE:
            cleaned.pop()
        cleaned.append(u)
    while cleaned and cleaned[-1] == SPACE:
        cleaned.pop()
    return cleaned


def tokenize_fallback(s: str) -> list[str]:
    return [] if not s else [s] if s in SYMBOL_TO_ID else list(s)


def encode(ipa: str, *, add_bos_eos: bool = True, strict: bool = True) -> list[int]:
    """IPA string -> token ids (BOS ... EOS by default)."""
    ids = [SYMBOL_TO_ID[u] for u in tokenize(ipa, strict=strict)]
    return [BOS_ID, *ids, EOS_ID] if add_bos_eos else ids


def decode(ids: list[int]) -> str:
    """Token ids -> IPA string (special tokens dropped)."""
    return "".join(SYMBOLS[i] for i in ids if i not in (PAD_ID, BOS_ID, EOS_ID))


def canonical(ipa: str, *, strict: bool = True) -> str:
    """The IPA string as the inventory sees it: ``decode(encode(ipa))``."""
    return "".join(tokenize(ipa, strict=strict))
