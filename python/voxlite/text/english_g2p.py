"""English grapheme-to-phoneme front end of the default voice: lexicon lookup, suffix rules, compound splitting.

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

The rules run natively (``csrc/text/english_g2p.cpp`` through ``voxlite._native``), so the C runtime reads text into
exactly the ids Python does; this module is the Python face of that one implementation (its former Python code is
kept as ``tests/reference/english_g2p.py``, which ``tests/test_native_g2p.py`` compares it with). User lexicon files
are parsed here (``voxlite.text.phonemes``) and handed over entry by entry. One thread at a time runs a G2P (others
wait).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Callable, Iterator

from .. import _native
from ..errors import BundleError, InvalidInput

PAD, BOS, EOS, SPACE = "<pad>", "<bos>", "<eos>", " "
PUNCTUATION = ",.?!;:"
PHONEMES = "AIOWYbdfhijklmnpstuvwzæðŋɑɔəɛɜɡɪɹɾʃʊʌʒʔʤʧˈˌθᵊᵻ"  # misaki US symbols (letters, then IPA, then marks)
INVENTORY_VERSION = 2  # v1 was the corpus recipe's espeak-ng inventory

_VOWELS = set("AIOWYiuæɑɔəɛɜɪʊʌᵊᵻ")
# Unstressed readings of the commonest function words, as a speaker (and the teacher) says them in running text;
# the lexicon has their citation forms ("a" -> "A", "the" -> "ði"). (The native rules carry the same two.)
WEAK_FORMS = {"a": "ə", "the": "ðə"}


def inventory() -> list[str]:
    """The symbol of each id: pad, bos, eos, space, punctuation, phonemes."""
    return [PAD, BOS, EOS, SPACE, *PUNCTUATION, *PHONEMES]


class _Entries(MutableMapping):
    """The native G2P's lexicon (or user lexicon) as a dict: word -> phonemes, in insertion order. Changes clear the
    word cache."""

    def __init__(self, native, user: bool):
        self._native, self._user = native, user

    def __getitem__(self, word):
        ps = self._native.get_entry(word, self._user) if isinstance(word, str) else None
        if ps is None:
            raise KeyError(word)
        return ps

    def get(self, word, default=None):
        ps = self._native.get_entry(word, self._user) if isinstance(word, str) else None
        return default if ps is None else ps

    def __contains__(self, word) -> bool:
        return isinstance(word, str) and self._native.get_entry(word, self._user) is not None

    def __setitem__(self, word: str, phonemes: str) -> None:
        if not isinstance(word, str) or not isinstance(phonemes, str):
            raise TypeError(f"lexicon entries map str to str, got {word!r}: {phonemes!r}")
        self._native.set_entry(word, phonemes, self._user)

    def __delitem__(self, word) -> None:
        if not (isinstance(word, str) and self._native.del_entry(word, self._user)):
            raise KeyError(word)

    def __iter__(self) -> Iterator[str]:
        return iter(self._native.entry_keys(self._user))

    def __len__(self) -> int:
        return self._native.entry_count(self._user)

    def clear(self) -> None:
        self._native.clear_entries(self._user)

    def __repr__(self) -> str:
        return f"<{'user ' if self._user else ''}lexicon of {len(self)} entries>"


class EnglishG2P:
    """``lexicon``: lower-case or cased word -> phoneme string (misaki symbols). ``letter_to_sound``: word ->
    phonemes or None (``voxlite.text.letter_to_sound.LetterToSound``) for words neither the lexicon nor the rules
    read; without it such words are spelled out. ``normalize``: text -> normalised text, for tests (default: the
    native normaliser, the one the C runtime uses)."""

    supports_phonemes = True  # inline ``[[phonemes]]`` and add_lexicon (``voxlite.text.phonemes``)
    LETTER_TO_SOUND_GRAPH = "letter_to_sound"

    def __init__(self, lexicon: Mapping[str, str], symbols: list[str] | None = None,
                 letter_to_sound: Callable[[str], str | None] | None = None,
                 user_lexicon: Mapping[str, str] | None = None, *,
                 normalize: Callable[[str], str] | None = None):
        lexicon = lexicon if type(lexicon) is dict else dict(lexicon)
        native = _native.EnglishG2P(lexicon, letter_to_sound, normalize, None if symbols is None else list(symbols))
        self._init(native, letter_to_sound, normalize)
        for word, ph in (user_lexicon or {}).items():
            self.user_lexicon[word] = ph

    def _init(self, native, letter_to_sound, normalize) -> None:
        self._native = native
        self._letter_to_sound = letter_to_sound
        self._normalize = normalize
        self.symbols = list(native.symbols)
        self.ids = {s: i for i, s in enumerate(self.symbols)}

    @classmethod
    def _wrap(cls, native, letter_to_sound, normalize) -> "EnglishG2P":
        self = cls.__new__(cls)
        self._init(native, letter_to_sound, normalize)
        return self

    @property
    def lexicon(self) -> MutableMapping:
        return _Entries(self._native, user=False)

    @lexicon.setter
    def lexicon(self, entries: Mapping[str, str]) -> None:
        self.lexicon.clear()
        self.lexicon.update(entries)

    @property
    def user_lexicon(self) -> MutableMapping:
        """add_lexicon's entries: they win over ``lexicon``."""
        return _Entries(self._native, user=True)

    @user_lexicon.setter
    def user_lexicon(self, entries: Mapping[str, str]) -> None:
        self.user_lexicon.clear()
        self.user_lexicon.update(entries)

    @property
    def letter_to_sound(self) -> Callable[[str], str | None] | None:
        return self._letter_to_sound

    @letter_to_sound.setter
    def letter_to_sound(self, fn: Callable[[str], str | None] | None) -> None:
        self._native.set_letter_to_sound(fn)
        self._letter_to_sound = fn

    # ------------------------------------------------------------------ user pronunciations

    def add_lexicon(self, lexicon) -> int:
        """Add user pronunciations, which win over the built-in lexicon: a path to a lexicon file (lines
        ``word<TAB>phonemes``, ``#`` comments; ``voxlite.text.phonemes``) or a mapping word -> phonemes. Phonemes are
        checked against the inventory (InvalidInput naming the line / word). Returns the number of entries added."""
        from .phonemes import parse_lexicon, read_lexicon, to_inventory

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
            self._native.add_user_entry(word, ph)  # and its lower-case form, unless that has one
        return len(entries)

    @property
    def vocab_size(self) -> int:
        return len(self.symbols)

    # ------------------------------------------------------------------ text -> phonemes

    def phonemize(self, text: str) -> str:
        """Normalised text -> phoneme string; words joined by spaces, punctuation attached to the word before."""
        return _text_call(self._native.phonemize, text)

    def word(self, word: str) -> str:
        return self._native.word(word)

    # ------------------------------------------------------------------ the pipeline's tokenizer interface

    def count(self, text: str) -> int:
        """Ids of ``text`` without bos / eos (0 when nothing is speakable)."""
        return _text_call(self._native.count, text)

    def encode_pair(self, text: str, prompt_text: str | None = None) -> tuple[list[int], int]:
        """(ids of the prompt transcript and the text as one utterance, number of ids of the text alone)."""
        if not isinstance(text, str) or (prompt_text and not isinstance(prompt_text, str)):
            ids = self.encode(f"{prompt_text} {text}" if prompt_text else text)  # as before: InvalidInput if not str
            return ids, len(ids) if not prompt_text else self.count(text)
        return _text_call(self._native.encode_pair, text, prompt_text or None)

    @classmethod
    def from_file(cls, path, letter_to_sound: Callable[[str], str | None] | None = None, *,
                  normalize: Callable[[str], str] | None = None) -> "EnglishG2P":
        """The G2P of a ``voxlite-lexicon`` file (``voxlite.text.lexicon``; BundleError if unreadable), read
        natively."""
        try:
            native = _native.EnglishG2P.from_file(os.fspath(path), letter_to_sound, normalize)
        except _native.LexiconError as e:
            raise BundleError(str(e)) from None
        return cls._wrap(native, letter_to_sound, normalize)

    @classmethod
    def from_component(cls, bundle, component: str, sessions) -> "EnglishG2P":
        """The G2P of a bundle's ``voxlite-g2p-en`` text component: its ``lexicon`` file and, when the component has
        one, the letter-to-sound graph for words the lexicon lacks (opened through ``sessions``)."""
        from .frontends import FILE_ROLES

        letter_to_sound = None
        if cls.LETTER_TO_SOUND_GRAPH in bundle.component(component).graphs:
            from .letter_to_sound import LetterToSound

            letter_to_sound = LetterToSound(sessions.get(f"{component}/{cls.LETTER_TO_SOUND_GRAPH}"))
        return cls.from_file(bundle.component_file(component, FILE_ROLES["voxlite-g2p-en"]), letter_to_sound)

    def encode(self, text: str, *, add_bos_eos: bool = True) -> list[int]:
        """Text -> ids (``phonemize`` then ``encode_phonemes``); raises InvalidInput when nothing is speakable."""
        return _text_call(self._native.encode, text, add_bos_eos)

    def encode_phonemes(self, phonemes: str, *, add_bos_eos: bool = True) -> list[int]:
        return self._native.encode_phonemes(phonemes, add_bos_eos)

    # ------------------------------------------------------------------ words (the rules, for tools and tests)

    def _entry(self, word: str) -> str | None:
        return self._native.entry(word)

    def _lookup_uncached(self, word: str) -> str:
        return self._native.lookup_uncached(word)

    def _suffixed(self, word: str) -> str | None:
        return self._native.suffixed(word)

    def _compound(self, w: str, max_pieces: int | None = None) -> str | None:
        """The fewest lexicon pieces (each >= 2 letters, or one of a/i) covering ``w``, at most ``max_pieces``
        (default: 2, or a third of the letters for longer words); None if there are none. Hyphenated: its parts."""
        return self._native.compound(w, max_pieces)

    def _spell(self, word: str) -> str:
        return self._native.spell(word)


def _text_call(method, text, *args):
    """A native text method on ``text``: InvalidInput for a non-str or for text the front end refuses."""
    if not isinstance(text, str):
        raise InvalidInput(f"text must be a str, got {type(text).__name__}")
    try:
        return method(text, *args)
    except _native.TextError as e:
        raise InvalidInput(str(e)) from None
