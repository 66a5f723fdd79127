"""English text -> UniAudio phone ids, through voxlite's English G2P (``text/english_g2p.py``, misaki's US symbols).

UniAudio's TTS-style tasks (``tts``, ``plain_tts``, ``phone_to_semantic``, ``InstructTTS``, ``speech_edit``) read
phones from a table of Kaldi word-position-dependent ARPAbet phones: silence symbols (``SIL`` and its variants), and
ARPAbet with a stress digit on vowels and a word-position suffix (``_B`` first phone of a word, ``_I`` inside, ``_E``
last, ``_S`` a one-phone word), plus bare position-free forms. The table is UniAudio's data, not ours: voxlite does not
ship it. A user finds it in a UniAudio checkout as ``tools/tokenizer/phone/phone_dict`` (under the repository's
``UniAudio/`` directory); an exporter stores that file in the bundle it writes, and ``read_phone_table`` reads it
(from the bundle, or a path / the file's text) into the tuple ``UniAudioPhones(g2p, table)`` takes.

The file's format (``read_phone_table``): one symbol per line, optionally followed by its index, the symbol's id
being its line's position (0-based; UniAudio's phone tokenizer numbers the symbols by line order); an index, where
given, must be that position, and either every line has one or none does. It is read strictly: a blank line, a
duplicate symbol, a duplicate index, a gap or disorder in the indices, a non-integer index, more than two fields, or
the symbol ``<UNK>`` itself is refused (InvalidInput naming the line), as is a table without ``SIL``. The tokenizer
appends ``<UNK>`` for symbols missing from the table, at index ``len(table)``; the joint vocabulary's phone range
holds ``len(table) + 1`` ids (the published file has 305 symbols: ``<UNK>`` is 305, the range 306 ids). The training
data (LibriTTS forced alignments) reads like ``SIL N_B OW1_E P_B IH0_I K_I ... SIL D_B UW1_E ...``: a ``SIL``
first, ``SIL`` at pauses between words, no silence at the end. Phone index ``i`` is joint-vocabulary id
``<phone_0> + i`` (``UniAudioVocabulary.data_range("phone")``).

Mapping of our G2P's phonemes (``english_g2p.PHONEMES``) onto ARPAbet:

==========  =========  ==========  =========  ==========  =========  ==========  =========
ours        ARPAbet    ours        ARPAbet    ours        ARPAbet    ours        ARPAbet
==========  =========  ==========  =========  ==========  =========  ==========  =========
``A`` eɪ    EY         ``i``       IY         ``ɔ``       AO         ``ʊ``       UH
``I`` aɪ    AY         ``u``       UW         ``ə``       AH         ``ʌ``       AH
``O`` oʊ    OW         ``æ``       AE         ``ɛ``       EH         ``ɜ``       ER
``W`` aʊ    AW         ``ɑ``       AA         ``ɪ``       IH         ``ᵊ``       AH (0)
``Y`` ɔɪ    OY         ``ᵻ``       IH (0)
``b``       B          ``h``       HH         ``n``       N          ``v``       V
``d``       D          ``j``       Y          ``p``       P          ``w``       W
``f``       F          ``k``       K          ``s``       S          ``z``       Z
``ɡ``       G          ``l``       L          ``t``       T          ``ð``       DH
``ŋ``       NG         ``ɹ``       R          ``ʃ``       SH         ``ʒ``       ZH
``ʤ``       JH         ``ʧ``       CH         ``θ``       TH
==========  =========  ==========  =========  ==========  =========  ==========  =========

Symbols with no ARPAbet counterpart, by rule:

- ``ɜɹ`` and ``əɹ`` (r-coloured vowels, written with ``ɹ`` by misaki) -> one ``ER`` (the ``ɹ`` is absorbed: CMUdict's
  ``ER`` includes it); a lone ``ɜ`` -> ``ER``;
- ``ɾ`` (the American flap in "water", "city") -> ``T``: CMUdict, from which the alignment lexicon comes, writes the
  underlying stop, and the flap is /t/ far more often than /d/;
- ``ʔ`` (glottal stop, "button") -> ``T``, likewise (American glottal stops stand for /t/); syllabic consonants are
  not expanded (misaki's "bˈʌʔn" -> ``B AH1 T N``);
- ``ᵊ`` (a reduced schwa) -> ``AH0``; ``ᵻ`` (the reduced vowel of "-es", "-ed") -> ``IH0``, as CMUdict spells them.

Stress digits: misaki puts ``ˈ`` (primary) / ``ˌ`` (secondary) before the vowel it stresses. A word with a primary
mark: ``ˈ`` -> 1, ``ˌ`` -> 2, unmarked vowels 0. A word without a primary mark is a function word, which misaki leaves
unmarked or marks secondary ("ʌv" of, "bˌʌt" but) while CMUdict gives it a primary stress ("AH1 V", "B AH1 T"): its
``ˌ`` vowels get 1, and in a word with no mark at all the first full vowel (not ``ə ᵊ ᵻ``) gets 1; the rest 0. The
reduced ``ə ᵊ ᵻ`` are 0 unless marked.

Word positions follow the G2P's words (space-separated; a hyphenated or compound word is one word only if the G2P
writes it so). The fallback handles any phone+stress+position combination a table lacks: it takes, in order, the
same phone and stress at the nearest other position (``_S``: E, B, I; ``_B``: I, S, E; ``_E``: I, S, B; ``_I``: B,
E, S), then the other stress digits (1: 2, 0; 2: 1, 0; 0: 1, 2) over the same positions, then the bare symbol (the
stress digits in the same order); ``<UNK>`` only if none of these is in the table. So in a table that holds some form
of every ARPAbet phone (as UniAudio's does), ``<UNK>`` is reached only by symbols outside our G2P's inventory (a
hand-written phoneme string), which ``unknown="unk"`` maps to ``<UNK>`` (UniAudio's tokenizer does the same) and
``unknown="error"`` refuses (InvalidInput naming the symbol).

Pauses: a ``SIL`` opens the utterance (``leading_silence``) and follows each word that ends in punctuation
(``, . ? ! ; :``) when more words follow; nothing is added at the end. Consecutive repeats are left in: the sequence
builder merges them for the tasks that do (``tts``, ``plain_tts``, ``phone_to_semantic``).
"""
from __future__ import annotations

import os
import re
from typing import Collection, Mapping, Sequence

import numpy as np

from ..errors import InvalidInput
from .tables import table_lines

UNK = "<UNK>"
SILENCE = "SIL"
PAUSE_PUNCTUATION = ",.?!;:"
STRESS_MARKS = {"ˈ": 1, "ˌ": 2}

VOWELS: dict[str, str] = {"A": "EY", "I": "AY", "O": "OW", "W": "AW", "Y": "OY", "i": "IY", "u": "UW", "æ": "AE",
                          "ɑ": "AA", "ɔ": "AO", "ə": "AH", "ɛ": "EH", "ɜ": "ER", "ɪ": "IH", "ʊ": "UH", "ʌ": "AH",
                          "ᵊ": "AH", "ᵻ": "IH"}
REDUCED = frozenset("əᵊᵻ")  # never stressed unless marked
CONSONANTS: dict[str, str] = {"b": "B", "d": "D", "f": "F", "h": "HH", "j": "Y", "k": "K", "l": "L", "m": "M",
                              "n": "N", "p": "P", "s": "S", "t": "T", "v": "V", "w": "W", "z": "Z", "ð": "DH",
                              "ŋ": "NG", "ɡ": "G", "ɹ": "R", "ʃ": "SH", "ʒ": "ZH", "ʤ": "JH", "ʧ": "CH", "θ": "TH",
                              "ɾ": "T", "ʔ": "T"}  # ɾ, ʔ: by rule (module docstring)
_POSITIONS = {"S": "SEBI", "B": "BISE", "E": "EISB", "I": "IBES"}
_STRESSES = {1: (1, 2, 0), 2: (2, 1, 0), 0: (0, 1, 2)}


def read_phone_table(path_or_text: str | os.PathLike) -> tuple[str, ...]:
    """UniAudio's ``phone_dict`` (format and checks: module docstring) -> its symbols in id order (``<UNK>``, at
    ``len(table)``, not included). ``path_or_text``: a path (``os.PathLike``, or a ``str`` without a line break) or
    the file's text (a ``str`` with one)."""
    where, lines = table_lines(path_or_text, "phone table", "read_phone_table")
    symbols: dict[str, int] = {}  # symbol -> line number (1-based)
    indexed: bool | None = None
    for number, line in enumerate(lines, 1):
        fields = line.split()
        at = f"{where}, line {number} ({line.strip()!r})"
        if not fields:
            raise InvalidInput(f"{at}: blank line")
        if len(fields) > 2:
            raise InvalidInput(f"{at}: {len(fields)} fields; a line is a symbol and optionally its index")
        symbol = fields[0]
        if symbol == UNK:
            raise InvalidInput(f"{at}: {UNK} is appended by the phone tokenizer, not listed in the table")
        if symbol in symbols:
            raise InvalidInput(f"{at}: duplicate symbol {symbol!r} (also line {symbols[symbol]})")
        if indexed is None:
            indexed = len(fields) == 2
        elif indexed != (len(fields) == 2):
            raise InvalidInput(f"{at}: " + ("no index, though earlier lines have one" if indexed else
                                            "an index, though earlier lines have none"))
        if indexed:
            if not re.fullmatch(r"[0-9]+", fields[1]):
                raise InvalidInput(f"{at}: index {fields[1]!r} is not a non-negative integer")
            index, expected = int(fields[1]), number - 1
            if index < expected:
                raise InvalidInput(f"{at}: duplicate index {index} (line {index + 1} has it)")
            if index > expected:
                raise InvalidInput(f"{at}: index {index} leaves a gap: the symbol's id is its position, {expected}")
        symbols[symbol] = number
    if SILENCE not in symbols:
        raise InvalidInput(f"{where} has no {SILENCE}: not UniAudio's phone_dict")
    return tuple(symbols)


def check_phone_table(table: Sequence[str]) -> tuple[str, ...]:
    """A table given as symbols in id order (``read_phone_table``'s result), checked as the file is."""
    if isinstance(table, (str, bytes, os.PathLike)) or not isinstance(table, Sequence):
        raise InvalidInput(f"the phone table must be a sequence of symbols (read_phone_table(path)), got "
                           f"{type(table).__name__}")
    table = tuple(table)
    if not all(isinstance(s, str) and s and s == s.strip() and len(s.split()) == 1 for s in table):
        raise InvalidInput("the phone table's symbols must be non-empty strings without spaces")
    if len(set(table)) != len(table):
        raise InvalidInput(f"duplicate symbols in the phone table: "
                           f"{' '.join(sorted({s for s in table if table.count(s) > 1}))}")
    if UNK in table:
        raise InvalidInput(f"the phone table lists {UNK}, which the phone tokenizer appends")
    if SILENCE not in table:
        raise InvalidInput(f"the phone table has no {SILENCE}: not UniAudio's phone_dict")
    return table


def table_symbol(phone: str, stress: int | None, position: str, table: Collection[str]) -> str:
    """The symbol of ``table`` (its symbols; a set or dict is fastest) for an ARPAbet phone (stress digit for
    vowels, None for consonants) at a word position (``B I E S``), by the fallback order of the module docstring;
    ``<UNK>`` if nothing fits."""
    stresses = ("",) if stress is None else tuple(str(s) for s in _STRESSES[stress])
    for s in stresses:
        for pos in _POSITIONS[position]:
            if f"{phone}{s}_{pos}" in table:
                return f"{phone}{s}_{pos}"
    for s in stresses:
        if f"{phone}{s}" in table:
            return f"{phone}{s}"
    return UNK


def word_phones(word: str, *, unknown: str = "unk") -> list[tuple[str, int | None]]:
    """One G2P word (misaki symbols with stress marks) -> [(ARPAbet phone, stress digit or None)], the stress rule of
    the module docstring applied. Symbols outside the mapping: ``("<UNK>", None)`` or InvalidInput."""
    items: list[tuple[str, str | None, int | None]] = []  # (phone, our vowel symbol or None, mark)
    mark: int | None = None
    i = 0
    while i < len(word):
        c = word[i]
        if c in STRESS_MARKS:
            mark = STRESS_MARKS[c]
        elif c in VOWELS:
            phone = VOWELS[c]
            if c in "ɜə" and word[i + 1:i + 2] == "ɹ":  # r-coloured vowel: one ER
                phone, i = "ER", i + 1
            items.append((phone, c, mark))
            mark = None
        elif c in CONSONANTS:
            items.append((CONSONANTS[c], None, None))
        elif unknown == "error":
            raise InvalidInput(f"phoneme {c!r} (U+{ord(c):04X}) in {word!r} has no UniAudio phone")
        else:
            items.append((UNK, None, None))
        i += 1
    marks = [m for _, v, m in items if v is not None]
    has_primary = 1 in marks
    first_full = next((k for k, (_, v, m) in enumerate(items) if v is not None and v not in REDUCED), None)
    out: list[tuple[str, int | None]] = []
    for k, (phone, v, m) in enumerate(items):
        if v is None:
            out.append((phone, None))
        elif has_primary:
            out.append((phone, m or 0))
        elif any(marks):
            out.append((phone, 1 if m else 0))
        else:
            out.append((phone, 1 if k == first_full else 0))
    return out


def phones_to_symbols(phonemes: str, table: Collection[str], *, leading_silence: bool = True,
                      unknown: str = "unk") -> list[str]:
    """A G2P phoneme string ("həlˈO wˈɜɹld.") -> symbols of ``table`` (``SIL HH_B AH0_I L_I OW1_E W_B ER1_I ...``)."""
    if unknown not in ("unk", "error"):
        raise InvalidInput(f"unknown must be 'unk' or 'error', got {unknown!r}")
    words = phonemes.split()
    out = [SILENCE] if leading_silence else []
    for n, token in enumerate(words):
        pause = any(c in PAUSE_PUNCTUATION for c in token)
        phones = word_phones("".join(c for c in token if c not in PAUSE_PUNCTUATION), unknown=unknown)
        for k, (phone, stress) in enumerate(phones):
            if phone == UNK:
                out.append(UNK)
                continue
            position = "S" if len(phones) == 1 else "B" if k == 0 else "E" if k == len(phones) - 1 else "I"
            out.append(table_symbol(phone, stress, position, table))
        if pause and n < len(words) - 1 and out and out[-1] != SILENCE:
            out.append(SILENCE)
    return out


def symbol_indices(symbols: Sequence[str], table: Sequence[str] | Mapping[str, int]) -> np.ndarray:
    """Symbols -> phone tokenizer indices into ``table`` (its symbols in id order, or symbol -> index); symbols
    missing from it -> <UNK> (``len(table)``), int64."""
    index = table if isinstance(table, Mapping) else {s: i for i, s in enumerate(table)}
    return np.array([index.get(s, len(index)) for s in symbols], dtype=np.int64)


class UniAudioPhones:
    """Text -> UniAudio phones. ``g2p``: an object with ``phonemize(text) -> str`` in misaki's symbols (voxlite's
    ``EnglishG2P``, e.g. the default voice's). ``table``: UniAudio's phone table, its symbols in id order
    (``read_phone_table``: from the user's UniAudio checkout or the bundle, module docstring); ``<UNK>`` is
    ``len(table)``. ``unknown``: "unk" (symbols outside the mapping -> ``<UNK>``) or "error" (InvalidInput)."""

    def __init__(self, g2p, table: Sequence[str], *, leading_silence: bool = True, unknown: str = "unk"):
        if not callable(getattr(g2p, "phonemize", None)):
            raise InvalidInput("g2p must have a phonemize(text) method (voxlite.text.english_g2p.EnglishG2P)")
        if unknown not in ("unk", "error"):
            raise InvalidInput(f"unknown must be 'unk' or 'error', got {unknown!r}")
        self.table = check_phone_table(table)
        self.index = {s: i for i, s in enumerate(self.table)}
        self.g2p, self.leading_silence, self.unknown = g2p, leading_silence, unknown

    @classmethod
    def from_component(cls, bundle, component: str, sessions) -> "UniAudioPhones":
        """A bundle's ``uniaudio-phones`` text component: its ``phone_table`` (the user's UniAudio phone_dict, stored
        by the exporter) and, read as the ``voxlite-g2p-en`` front end reads its own component, its ``lexicon`` and
        optional letter-to-sound graph."""
        from .english_g2p import EnglishG2P
        from .frontends import FILE_ROLES

        g2p = EnglishG2P.from_component(bundle, component, sessions)
        return cls(g2p, read_phone_table(bundle.component_file(component, FILE_ROLES["uniaudio-phones"])))

    supports_phonemes = True

    def add_lexicon(self, lexicon) -> int:
        """As ``EnglishG2P.add_lexicon`` (pronunciations in misaki's symbols or common IPA)."""
        return self.g2p.add_lexicon(lexicon)

    def count(self, text: str) -> int:
        """Phones of ``text`` (0 when nothing is speakable): the unit long input is chunked by."""
        try:
            return len(self.symbols(text))
        except InvalidInput:
            if not isinstance(text, str):
                raise
            return 0

    def encode_pair(self, text: str, prompt_text: str | None = None) -> tuple[list[int], int]:
        """(phone indices of ``text``, their count). UniAudio's voice prompt is audio only: its transcript is not
        part of the sequence, so ``prompt_text`` is not read."""
        ids = self.indices(text).tolist()
        return ids, len(ids)

    @property
    def unk_index(self) -> int:
        return len(self.table)

    @property
    def n_phones(self) -> int:
        """The phone range of the joint vocabulary: the table and <UNK>."""
        return len(self.table) + 1

    def symbols(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise InvalidInput(f"text must be a str, got {type(text).__name__}")
        phonemes = self.g2p.phonemize(text)
        if not phonemes.strip(PAUSE_PUNCTUATION + " "):
            raise InvalidInput(f"nothing speakable in {text!r}")
        return phones_to_symbols(phonemes, self.index, leading_silence=self.leading_silence, unknown=self.unknown)

    def indices(self, text: str) -> np.ndarray:
        """Phone tokenizer indices (0 .. ``len(table)``): what ``UniAudioVocabulary.build_sequence`` takes for a
        phone key."""
        return symbol_indices(self.symbols(text), self.index)

    def ids(self, text: str, vocab) -> np.ndarray:
        """Joint-vocabulary ids: indices offset by the vocabulary's phone range (``<phone_0>``), which must hold
        this table (``len(table) + 1`` ids)."""
        return self.indices(text) + phone_offset(vocab, self.n_phones)


def phone_offset(vocab, n_phones: int) -> int:
    """The id of ``<phone_0>`` in a ``UniAudioVocabulary``; InvalidInput unless its phone range holds ``n_phones``
    ids (a table and <UNK>)."""
    start, end = vocab.data_range("phone")
    if end - start != n_phones:
        raise InvalidInput(f"the vocabulary's phone range has {end - start} ids; the phone table has {n_phones} "
                           f"({n_phones - 1} phones + <UNK>): this checkpoint was trained with another phone table")
    return start


def text_to_phone_ids(text: str, vocab, g2p, table: Sequence[str], **options) -> np.ndarray:
    """Text -> joint-vocabulary phone ids (``UniAudioPhones(g2p, table, **options).ids(text, vocab)``)."""
    return UniAudioPhones(g2p, table, **options).ids(text, vocab)
