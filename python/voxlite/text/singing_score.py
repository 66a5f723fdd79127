"""A hand-written singing score -> the frame-level inputs of UniAudio's ``sing`` task (numpy only, no torch).

UniAudio's ``sing`` task conditions on two aligned sequences at the codec frame rate (50 frames per second, one id per
20 ms frame): ``sing_phone``, the phone sung in each frame, and ``sing_midi``, the MIDI note held in each frame (both
of the same length), followed by a voice prompt (codec codes; not this module's business). This module turns a score
(notes with durations, pitches and lyrics) into those two id sequences; the sequence builder
(``pipelines/uniaudio_sequences.py``) takes them from there.

Tables
------
Both id tables are UniAudio's data, not ours, so voxlite does not ship them. A user finds them in a UniAudio checkout
under ``UniAudio/tools/tokenizer/Sing/`` (``dict_phone.txt`` and ``f0_dict.txt``); an exporter stores the user's copies
in the bundle, and the readers here take a path (``os.PathLike``, or a ``str`` without a line break) or the file's text
(a ``str`` with one).

- ``read_sing_phone_table``: one phone symbol per line, optionally followed by a count (a non-negative integer, a
  frequency the file carries and we ignore; either every line has one or none does). A symbol's id is its line's
  position (0-based). The published file lists 68 symbols: the Mandarin initials and finals used by the Opencpop /
  M4Singer labels (``INITIALS``, ``GLIDES``, ``FINALS``, ``ABBREVIATED_FINALS``) and the non-phone marks ``|``,
  ``<SEP>``, ``#``, ``AP`` (breath) and ``SP`` (silence).
- ``read_midi_table``: one non-negative integer per line; the id of MIDI note ``n`` is the position of the line that
  holds ``n``. In the published file line ``n`` holds ``n`` (0 to 137), so the id is the note number itself; 0 stands
  for rests and unvoiced frames.

Both are read strictly: a blank line, an extra field, a malformed number or a repeated entry is refused
(InvalidInput naming the line). UniAudio's own loader would silently skip a repeated entry and renumber every later
line, so a repeat would make "id = line position" false; refusing it keeps the two in agreement. The phone table must
hold ``SP`` and ``AP``, the midi table must hold 0.

Score format (JSON)
-------------------
A score is a list of notes, or an object ``{"bpm": 96, "notes": [...]}`` (optional ``"title"``, ignored)::

    {"bpm": 90, "notes": [
        {"note": "rest", "beats": 1},
        {"note": "E4", "beats": 1, "pinyin": "ni3", "text": "你"},
        {"note": 64, "beats": 0.5, "pinyin": "hao"},
        {"note": "G4", "beats": 0.5, "slur": true},
        {"breath": true, "seconds": 0.25},
        {"note": "F#4", "seconds": 0.6, "phones": ["w", "o"], "phone_seconds": [0.1, 0.5]}
    ]}

Each note is an object with these keys (anything else is refused, to catch misspellings):

- duration: ``"seconds"`` (a positive number) or ``"beats"`` (a positive number; needs the top-level ``"bpm"``, so a
  beat lasts ``60 / bpm`` seconds) -- not both. It may be left out when ``"phone_seconds"`` is given: the note then
  lasts their sum.
- pitch, ``"note"``: a MIDI note number 0-127 (an integer; C4 = 60, A4 = 69) or a note name: a letter ``A``-``G``
  (either case), an optional accidental (``#``, ``##``, ``b``, ``bb``, ``♯``, ``♭``) and an octave number (``C4``,
  ``F#3``, ``Bb4``, ``C-1`` = 0, ``G9`` = 127; ``midi = 12 * (octave + 1) + pitch class + accidental``). ``"rest"``
  or null makes the note a rest. A sung note must give its pitch: a missing ``"note"`` is refused rather than taken
  for a rest. Note 0 is a valid pitch but is also the id rests get, so the model cannot tell it from one.
- lyric, exactly one of (a rest takes none):

  * ``"pinyin"``: one Mandarin syllable (``"ni"``, ``"ni3"``, ``"nǐ"``, ``"lü"``), split by the rules below;
  * ``"phones"``: a non-empty list of phone-table symbols, used as written (any symbol of the table, marks included);
  * ``"breath": true``: a breath, ``AP``; it takes no pitch (``"note"`` absent, ``"rest"`` or null);
  * ``"slur": true``: the previous sung note's last phone (its final) held on at this note's pitch, for a syllable
    sung over several notes. The previous note must be sung (not a rest or breath).
- ``"phone_seconds"``: optional, one positive duration per phone of the note. When the note also has a duration, the
  sum must be within 1 ms of it and the last phone takes up the difference, so the note still ends on its beat.
- ``"text"``: optional, ignored (the character, for the human reader).

A rest becomes one ``SP`` and a breath one ``AP``; both get MIDI 0, and so does an ``AP`` or ``SP`` written in a
sung note's ``"phones"``. Every other phone of a sung note carries the note's pitch.

Pinyin
------
A syllable is lower-cased; a trailing tone digit (0-5) and tone marks (ā á ǎ à ...) are dropped; ``ü`` (or ``u:``)
is written ``v``. Then it is split into an initial and a final:

- initials: ``zh ch sh`` (tried first), then ``b p m f d t n l g k h j q x r z c s``. The rest is the final, where:

  * after ``j q x`` a written ``u`` is ``ü``: ``ju`` -> ``j v``, ``que`` -> ``q ve``, ``xuan`` -> ``x van``, ``jun``
    -> ``j vn`` (as the Opencpop labels write them);
  * after ``n l`` a written ``ue`` is ``üe``: ``lue`` -> ``l ve`` (also written ``lüe``); ``nv``, ``lv`` are
    ``nü``, ``lü``;
  * the abbreviated spellings are written out in full: ``iu`` -> ``iou``, ``ui`` -> ``uei``, ``un`` -> ``uen``
    (``liu`` -> ``l iou``, ``gui`` -> ``g uei``, ``lun`` -> ``l uen``). The table also lists ``iu ui un``, but its
    counts put them far behind the full forms; they are never produced here, though ``"phones"`` may use them;
  * the apical vowel of ``zhi chi shi ri zi ci si`` has no symbol of its own in the table, so it is ``i``
    (``shi`` -> ``sh i``).
- ``y`` and ``w`` spellings are a zero initial: the syllable is one final. The table does list ``y`` and ``w``, but
  its counts put them far behind the finals they would precede (``y`` about 17.5k against ``iou`` alone at 646k), so
  the labels mostly drop them; they are never produced here, though ``"phones"`` may use them:

  * ``yi yin ying`` -> ``i in ing``; ``yu yue yuan yun`` (or ``yü``...) -> ``v ve van vn``; any other ``y`` + X ->
    ``i`` + X: ``ya yo ye yao you yan yang yong`` -> ``ia io ie iao iou ian iang iong``;
  * ``wu`` -> ``u``; any other ``w`` + X -> ``u`` + X: ``wa wo wai wei wan wen wang weng`` -> ``ua uo uai uei uan
    uen uang ueng``;
- a syllable starting with a vowel is its own final: ``a o e ai ei ao ou an en ang eng er``.

The final must be one of ``FINALS`` and fit its initial's group: ``j q x`` take only ``i``-/``ü``-finals; ``g k h``
and ``zh ch sh r z c s`` take none of them (except bare ``i`` after the latter seven); ``b p m f d t`` take no
``ü``-final; ``n l`` take ``v`` and ``ve`` but not ``van``/``vn``; ``er``, ``io`` and ``ueng`` take no initial.
Anything else (``gia``, ``bv``, ``zhv``, ``wong``, the interjections ``m``, ``ng``, ``hm``) is unknown pinyin. The
check is by group, not a full syllable inventory, so a rare impossible combination (``bou``) passes.

Splitting a note into its phones
--------------------------------
Without ``"phone_seconds"``, a note of duration ``d`` with ``k`` consonants (a phone in ``INITIALS`` or ``GLIDES``)
among its phones and ``m`` other phones gives each consonant ``min(0.08 s, d / (3 k))`` and the ``m`` others equal
shares of the rest; when ``k`` or ``m`` is 0 all phones share ``d`` equally. For a pinyin syllable this is: the
initial gets ``min(0.08 s, d / 3)``, the final the rest.

Frames
------
All times are exact: each number is taken as the decimal it is written as (``0.1`` is one tenth, not the nearest
binary float), beats as ``beats * 60 / bpm``, and sums are rational. The end of every phone, counted from the
score's start, becomes a frame boundary ``round(t * frame_rate)``, rounding halves up; each phone spans the frames
between its start and end boundaries. Rounding the cumulative time (rather than each duration) keeps every boundary
within half a frame of its true time however long the score (save where the minimum below moves it), so nothing
drifts. A phone that would get no frame gets
one: its end boundary is moved to one past its start, and the following boundaries, rounded again from their own
times, take that frame back as soon as they have room.

Errors (all InvalidInput, naming the note, where there is one, as ``notes[i]``, 0-based): an empty score, a note that
is not an object or has an unknown key, a zero/negative/non-finite/non-numeric duration, both or neither of seconds
and beats, beats without a bpm, an unreadable or out-of-range pitch, no lyric or more than one, unknown pinyin, a
phone the table lacks, a pitch the midi table lacks, ``phone_seconds`` of the wrong length or off the note's
duration, a slur with no sung note before it, and a score (or its frames) longer than ``max_seconds`` (60 s by
default).
"""
from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InvalidInput
from .tables import table_lines

BREATH = "AP"
SILENCE = "SP"
MARKS = ("|", "<SEP>", "#", BREATH, SILENCE)  # non-phone symbols of the table
INITIALS = ("b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "zh", "ch", "sh", "r", "z", "c", "s")
GLIDES = ("y", "w")  # in the table, never produced from pinyin (module docstring)
CONSONANTS = frozenset(INITIALS + GLIDES)
FINALS = ("a", "o", "e", "ai", "ei", "ao", "ou", "an", "en", "ang", "eng", "ong", "er",
          "i", "ia", "io", "ie", "iao", "iou", "ian", "in", "iang", "ing", "iong",
          "u", "ua", "uo", "uai", "uei", "uan", "uen", "uang", "ueng",
          "v", "ve", "van", "vn")
ABBREVIATED_FINALS = {"iu": "iou", "ui": "uei", "un": "uen"}
CONSONANT_SECONDS = Fraction(8, 100)  # the most an initial consonant gets by the default split
PHONE_SECONDS_TOLERANCE = Fraction(1, 1000)
DEFAULT_FRAME_RATE = 50.0
DEFAULT_MAX_SECONDS = 60.0

_TWO_LETTER_INITIALS = ("zh", "ch", "sh")
_VOWEL_START_FINALS = frozenset({"a", "o", "e", "ai", "ei", "ao", "ou", "an", "en", "ang", "eng", "er"})
_NO_INITIAL_FINALS = frozenset({"er", "io", "ueng"})
_TONE_MARKS = frozenset("\u0300\u0301\u0304\u030c")  # grave, acute, macron, caron (NFD)
_PITCH_CLASS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_ACCIDENTAL = {"": 0, "#": 1, "##": 2, "♯": 1, "b": -1, "bb": -2, "♭": -1}
_NOTE_NAME = re.compile(r"([A-Ga-g])(##|#|♯|bb|b|♭)?(-?[0-9]+)")
_SCORE_KEYS = frozenset({"notes", "bpm", "title"})
_NOTE_KEYS = frozenset({"seconds", "beats", "note", "phones", "pinyin", "breath", "slur", "phone_seconds", "text"})
_LYRIC_KEYS = ("phones", "pinyin", "breath", "slur")


# ---------------------------------------------------------------------------------------------------------- tables

def read_sing_phone_table(path_or_text: str | os.PathLike) -> tuple[str, ...]:
    """UniAudio's ``dict_phone.txt`` (format and checks: module docstring) -> its symbols in id order."""
    where, lines = table_lines(path_or_text, "sing phone table", "read_sing_phone_table")
    symbols: dict[str, int] = {}  # symbol -> line number (1-based)
    counted: bool | None = None
    for number, line in enumerate(lines, 1):
        fields = line.split()
        at = f"{where}, line {number} ({line.strip()!r})"
        if not fields:
            raise InvalidInput(f"{at}: blank line")
        if len(fields) > 2:
            raise InvalidInput(f"{at}: {len(fields)} fields; a line is a symbol and optionally its count")
        if counted is None:
            counted = len(fields) == 2
        elif counted != (len(fields) == 2):
            raise InvalidInput(f"{at}: " + ("no count, though earlier lines have one" if counted else
                                            "a count, though earlier lines have none"))
        if counted and not re.fullmatch(r"[0-9]+", fields[1]):
            raise InvalidInput(f"{at}: count {fields[1]!r} is not a non-negative integer")
        symbol = fields[0]
        if symbol in symbols:
            raise InvalidInput(f"{at}: duplicate symbol {symbol!r} (also line {symbols[symbol]}); a symbol's id is "
                               f"its line's position")
        symbols[symbol] = number
    for required in (SILENCE, BREATH):
        if required not in symbols:
            raise InvalidInput(f"{where} has no {required}: not a singing phone table (dict_phone.txt)")
    return tuple(symbols)


def read_midi_table(path_or_text: str | os.PathLike) -> tuple[int, ...]:
    """UniAudio's ``f0_dict.txt`` (format and checks: module docstring) -> its MIDI values in id order."""
    where, lines = table_lines(path_or_text, "midi table", "read_midi_table")
    values: dict[int, int] = {}  # value -> line number (1-based)
    for number, line in enumerate(lines, 1):
        fields = line.split()
        at = f"{where}, line {number} ({line.strip()!r})"
        if not fields:
            raise InvalidInput(f"{at}: blank line")
        if len(fields) != 1:
            raise InvalidInput(f"{at}: {len(fields)} fields; a line is one MIDI note number")
        if not re.fullmatch(r"[0-9]+", fields[0]):
            raise InvalidInput(f"{at}: {fields[0]!r} is not a non-negative integer")
        value = int(fields[0])
        if value in values:
            raise InvalidInput(f"{at}: duplicate value {value} (also line {values[value]}); a value's id is its "
                               f"line's position")
        values[value] = number
    if 0 not in values:
        raise InvalidInput(f"{where} has no 0 (the id of rests and unvoiced frames): not a midi table (f0_dict.txt)")
    return tuple(values)


def _phone_index(table: Sequence[str]) -> dict[str, int]:
    if isinstance(table, (str, bytes, os.PathLike)) or not isinstance(table, Sequence):
        raise InvalidInput(f"the sing phone table must be a sequence of symbols (read_sing_phone_table(path)), got "
                           f"{type(table).__name__}")
    if not all(isinstance(s, str) and s and len(s.split()) == 1 and s == s.strip() for s in table):
        raise InvalidInput("the sing phone table's symbols must be non-empty strings without spaces")
    index = {s: i for i, s in reversed(list(enumerate(table)))}
    if len(index) != len(table):
        raise InvalidInput("duplicate symbols in the sing phone table: "
                           + " ".join(sorted({s for s in table if list(table).count(s) > 1})))
    for required in (SILENCE, BREATH):
        if required not in index:
            raise InvalidInput(f"the sing phone table has no {required}: not a singing phone table")
    return index


def _midi_index(table: Sequence[int]) -> dict[int, int]:
    if isinstance(table, (str, bytes, os.PathLike)) or not isinstance(table, Sequence):
        raise InvalidInput(f"the midi table must be a sequence of integers (read_midi_table(path)), got "
                           f"{type(table).__name__}")
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in table):
        raise InvalidInput("the midi table's entries must be non-negative integers")
    index = {int(v): i for i, v in reversed(list(enumerate(table)))}
    if len(index) != len(table):
        raise InvalidInput("duplicate values in the midi table")
    if 0 not in index:
        raise InvalidInput("the midi table has no 0 (the id of rests and unvoiced frames)")
    return index


# ---------------------------------------------------------------------------------------------- pitches and pinyin

def note_to_midi(note: int | float | str) -> int:
    """A MIDI note number (0-127; an integral float is accepted) or a note name (``C4`` = 60, ``F#3``, ``Bb4``;
    module docstring) -> the MIDI note number. Rests are the caller's business."""
    if isinstance(note, bool) or not isinstance(note, (int, float, str, np.integer)):
        raise InvalidInput(f"a pitch is a MIDI note number or a note name like 'C4', got {type(note).__name__}")
    if isinstance(note, str):
        m = _NOTE_NAME.fullmatch(note.strip())
        if not m:
            raise InvalidInput(f"unreadable note name {note!r}: a letter A-G, an optional accidental (# ## b bb) and "
                               f"an octave number, like 'C4', 'F#3', 'Bb4'")
        letter, accidental, octave = m.group(1).lower(), m.group(2) or "", int(m.group(3))
        value = 12 * (octave + 1) + _PITCH_CLASS[letter] + _ACCIDENTAL[accidental]
        if not 0 <= value <= 127:
            raise InvalidInput(f"note {note!r} is MIDI {value}, outside 0-127")
        return value
    if isinstance(note, float) and not (math.isfinite(note) and note.is_integer()):
        raise InvalidInput(f"MIDI note {note!r} is not an integer")
    value = int(note)
    if not 0 <= value <= 127:
        raise InvalidInput(f"MIDI note {value} is outside 0-127")
    return value


def _plain_syllable(syllable: str) -> str:
    text = unicodedata.normalize("NFD", syllable.strip().lower())
    text = unicodedata.normalize("NFC", "".join(c for c in text if c not in _TONE_MARKS))
    text = text.replace("u:", "v").replace("ü", "v")
    if text and text[-1] in "012345":
        text = text[:-1]
    return text


def _final_fits(initial: str, final: str) -> bool:
    if final not in FINALS or final in _NO_INITIAL_FINALS:
        return False
    front = final[0]  # "i" and "v" finals are the i-/ü- groups
    if initial in ("j", "q", "x"):
        return front in "iv"
    if initial in ("g", "k", "h"):
        return front not in "iv"
    if initial in ("zh", "ch", "sh", "r", "z", "c", "s"):
        return final == "i" or front not in "iv"
    if initial in ("n", "l"):
        return final not in ("van", "vn")
    return front != "v"  # b p m f d t


def pinyin_to_phones(syllable: str) -> tuple[str, ...]:
    """One Mandarin pinyin syllable -> its phones, ``(initial, final)`` or ``(final,)``, by the rules of the module
    docstring. Unknown pinyin raises InvalidInput."""
    if not isinstance(syllable, str):
        raise InvalidInput(f"pinyin must be a string (one syllable), got {type(syllable).__name__}")
    text = _plain_syllable(syllable)
    unknown = InvalidInput(f"unknown pinyin {syllable!r}: not one Mandarin syllable the rules know (write its "
                           f"phones with \"phones\" instead)")
    if not re.fullmatch(r"[a-z]+", text):
        raise unknown
    if text[0] in "yw" and len(text) == 1:
        raise unknown
    if text[0] == "y":
        rest = text[1:]
        if rest in ("i", "in", "ing"):
            final = rest
        elif rest[:1] in ("u", "v"):
            final = "v" + rest[1:]
        else:
            final = "i" + rest
        if final not in FINALS or final[0] not in "iv":
            raise unknown
        return (final,)
    if text[0] == "w":
        rest = text[1:]
        if rest.startswith("u") and rest != "u":  # wu is u; wun, wui ... are not syllables
            raise unknown
        final = "u" if rest == "u" else "u" + rest
        if final not in FINALS:
            raise unknown
        return (final,)
    if text in _VOWEL_START_FINALS:
        return (text,)
    initial = text[:2] if text[:2] in _TWO_LETTER_INITIALS else text[:1]
    if initial not in INITIALS:
        raise unknown
    final = text[len(initial):]
    if initial in ("j", "q", "x") and final.startswith("u"):
        final = "v" + final[1:]
    if initial in ("n", "l") and final == "ue":
        final = "ve"
    final = ABBREVIATED_FINALS.get(final, final)
    if not _final_fits(initial, final):
        raise unknown
    return (initial, final)


# ----------------------------------------------------------------------------------------------------------- score

@dataclass(frozen=True)
class ScoreNote:
    """One note of a checked score: ``kind`` ``"sung"``, ``"rest"`` or ``"breath"``; ``midi`` its MIDI note number
    (0 for rests and breaths); its ``phones`` (table symbols, not yet checked against a table) and each phone's
    exact duration in seconds (``durations``)."""
    kind: str
    midi: int
    phones: tuple[str, ...]
    durations: tuple[Fraction, ...]

    @property
    def seconds(self) -> float:
        return float(sum(self.durations, Fraction(0)))


@dataclass(frozen=True)
class Score:
    """A checked score (``load_score``): its notes in order."""
    notes: tuple[ScoreNote, ...]

    @property
    def seconds(self) -> float:
        return float(sum((d for n in self.notes for d in n.durations), Fraction(0)))


def _exact(value: Any, what: str) -> Fraction:
    """A positive finite number, as the decimal it is written as."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidInput(f"{what} must be a number, got {type(value).__name__}")
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise InvalidInput(f"{what} must be finite, got {value}")
        exact = Fraction(repr(float(value)))
    else:
        exact = Fraction(int(value))
    if exact <= 0:
        raise InvalidInput(f"{what} must be positive, got {value}")
    return exact


def _split(phones: tuple[str, ...], duration: Fraction) -> tuple[Fraction, ...]:
    """The default split of a note's duration over its phones (module docstring)."""
    k = sum(p in CONSONANTS for p in phones)
    m = len(phones) - k
    if k == 0 or m == 0:
        return (duration / len(phones),) * len(phones)
    consonant = min(CONSONANT_SECONDS, duration / (3 * k))
    other = (duration - k * consonant) / m
    return tuple(consonant if p in CONSONANTS else other for p in phones)


def _flag(raw: Mapping, key: str, at: str) -> bool:
    value = raw.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput(f"{at}: {key!r} must be true or false, got {value!r}")
    return value


def _parse_note(raw: Any, at: str, bpm: Fraction | None, previous: ScoreNote | None) -> ScoreNote:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{at}: a note is an object with a duration, a pitch and a lyric, got "
                           f"{type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in _NOTE_KEYS)
    if unknown:
        raise InvalidInput(f"{at}: unknown key(s) {', '.join(map(repr, unknown))}; a note takes "
                           f"{', '.join(sorted(_NOTE_KEYS))}")
    lyrics = [k for k in _LYRIC_KEYS if (_flag(raw, k, at) if k in ("breath", "slur") else raw.get(k) is not None)]
    if len(lyrics) > 1:
        raise InvalidInput(f"{at}: more than one lyric ({', '.join(lyrics)}); give one of phones, pinyin, breath, "
                           f"slur")
    pitch = raw.get("note")
    rest = "note" in raw and (pitch is None or (isinstance(pitch, str) and pitch.strip().lower() == "rest"))
    if lyrics == ["breath"]:
        if "note" in raw and not rest:
            raise InvalidInput(f"{at}: a breath takes no pitch (leave out \"note\", or make it \"rest\" or null)")
        kind, midi, phones = "breath", 0, (BREATH,)
    elif "note" not in raw:
        raise InvalidInput(f"{at}: no pitch: give \"note\" (a MIDI number 0-127 or a name like 'C4'), or "
                           f"\"rest\" / null for a rest")
    elif rest:
        if lyrics:
            raise InvalidInput(f"{at}: a rest takes no lyric, got {lyrics[0]}")
        kind, midi, phones = "rest", 0, (SILENCE,)
    else:
        try:
            midi = note_to_midi(pitch)
        except InvalidInput as e:
            raise InvalidInput(f"{at}: {e}") from None
        kind = "sung"
        if not lyrics:
            raise InvalidInput(f"{at}: no lyric: give \"pinyin\", \"phones\", \"breath\": true or \"slur\": true")
        if lyrics == ["pinyin"]:
            try:
                phones = pinyin_to_phones(raw["pinyin"])
            except InvalidInput as e:
                raise InvalidInput(f"{at}: {e}") from None
        elif lyrics == ["phones"]:
            listed = raw["phones"]
            if isinstance(listed, str) or not isinstance(listed, Sequence) or not listed:
                raise InvalidInput(f"{at}: \"phones\" must be a non-empty list of phone-table symbols")
            if not all(isinstance(p, str) and p and len(p.split()) == 1 and p == p.strip() for p in listed):
                raise InvalidInput(f"{at}: \"phones\" must hold symbols (non-empty strings without spaces), got "
                                   f"{list(listed)!r}")
            phones = tuple(listed)
        else:  # slur
            if previous is None or previous.kind != "sung":
                raise InvalidInput(f"{at}: a slur continues the previous sung note, and there is "
                                   + ("none" if previous is None else f"a {previous.kind} before it"))
            phones = (previous.phones[-1],)
    has_seconds, has_beats = raw.get("seconds") is not None, raw.get("beats") is not None
    if has_seconds and has_beats:
        raise InvalidInput(f"{at}: both seconds and beats; give one")
    duration: Fraction | None = None
    if has_seconds:
        duration = _exact(raw["seconds"], f"{at}: seconds")
    elif has_beats:
        beats = _exact(raw["beats"], f"{at}: beats")
        if bpm is None:
            raise InvalidInput(f"{at}: beats need a top-level \"bpm\" (the score as {{\"bpm\": ..., \"notes\": "
                               f"[...]}}), or give seconds")
        duration = beats * 60 / bpm
    if raw.get("phone_seconds") is not None:
        listed = raw["phone_seconds"]
        if isinstance(listed, str) or not isinstance(listed, Sequence):
            raise InvalidInput(f"{at}: \"phone_seconds\" must be a list of durations, one per phone")
        if len(listed) != len(phones):
            raise InvalidInput(f"{at}: {len(listed)} phone_seconds for {len(phones)} phone(s) "
                               f"({' '.join(phones)})")
        durations = [_exact(v, f"{at}: phone_seconds[{j}]") for j, v in enumerate(listed)]
        if duration is not None:
            difference = duration - sum(durations, Fraction(0))
            if abs(difference) > PHONE_SECONDS_TOLERANCE:
                raise InvalidInput(f"{at}: phone_seconds add up to {float(sum(durations)):g} s, the note lasts "
                                   f"{float(duration):g} s")
            durations[-1] += difference
            if durations[-1] <= 0:
                raise InvalidInput(f"{at}: the last phone's duration is not positive once fitted to the note's")
        return ScoreNote(kind, midi, phones, tuple(durations))
    if duration is None:
        raise InvalidInput(f"{at}: no duration: give \"seconds\", \"beats\" or \"phone_seconds\"")
    return ScoreNote(kind, midi, phones, _split(phones, duration))


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise InvalidInput(f"duplicate key(s) {', '.join(map(repr, repeated))} in an object")
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise InvalidInput(f"{name} is not a number JSON allows")


def load_score(path_or_obj: str | os.PathLike | Mapping | Sequence | Score) -> Score:
    """A score (format: module docstring) from a JSON file's path, or from the parsed object (a dict, or a list of
    notes) -> a checked ``Score`` (durations split over phones; not yet checked against a table). A ``Score`` is
    returned as is."""
    if isinstance(path_or_obj, Score):
        return path_or_obj
    if isinstance(path_or_obj, (str, os.PathLike)):
        where = f"score {os.fspath(path_or_obj)}"
        try:
            with open(path_or_obj, encoding="utf-8") as f:
                obj = json.load(f, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidInput(f"unreadable {where}: {e}") from None
        except json.JSONDecodeError as e:
            raise InvalidInput(f"{where} is not valid JSON: {e}") from None
        except InvalidInput as e:
            raise InvalidInput(f"{where}: {e}") from None
    elif isinstance(path_or_obj, (Mapping, list, tuple)):
        obj, where = path_or_obj, "the score"
    else:
        raise InvalidInput(f"load_score takes a JSON file's path, a dict or a list of notes, got "
                           f"{type(path_or_obj).__name__}")
    bpm: Fraction | None = None
    if isinstance(obj, Mapping):
        unknown = sorted(str(k) for k in obj if k not in _SCORE_KEYS)
        if unknown:
            raise InvalidInput(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; a score object takes "
                               f"{', '.join(sorted(_SCORE_KEYS))}")
        if "notes" not in obj:
            raise InvalidInput(f"{where}: no \"notes\"")
        if obj.get("bpm") is not None:
            bpm = _exact(obj["bpm"], f"{where}: bpm")
        notes = obj["notes"]
    else:
        notes = obj
    if not isinstance(notes, (list, tuple)):
        raise InvalidInput(f"{where}: the notes must be a list, got {type(notes).__name__}")
    if not notes:
        raise InvalidInput(f"{where} is empty: no notes")
    parsed: list[ScoreNote] = []
    for i, raw in enumerate(notes):
        parsed.append(_parse_note(raw, f"notes[{i}]", bpm, parsed[-1] if parsed else None))
    return Score(tuple(parsed))


# ---------------------------------------------------------------------------------------------------------- frames

def _round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def score_to_frames(score: Score | str | os.PathLike | Mapping | Sequence, phone_table: Sequence[str],
                    midi_table: Sequence[int], frame_rate: float = DEFAULT_FRAME_RATE, *,
                    max_seconds: float = DEFAULT_MAX_SECONDS) -> tuple[np.ndarray, np.ndarray]:
    """A score (a ``Score``, or anything ``load_score`` reads) -> ``(phone_ids, midi_ids)``, both ``(T,)`` int64:
    per frame at ``frame_rate`` frames per second, the sing phone table's id of the phone sung and the midi table's
    id of the note held (the id of 0 for rests, breaths and ``AP``/``SP``). Tables: ``read_sing_phone_table``,
    ``read_midi_table``. Framing rule and errors: module docstring."""
    score = load_score(score)
    phone_ids = _phone_index(phone_table)
    midi_ids = _midi_index(midi_table)
    rate = _exact(frame_rate, "frame_rate")
    limit = _exact(max_seconds, "max_seconds")
    limit_frames = _round_half_up(limit * rate)
    ids: list[int] = []
    midis: list[int] = []
    counts: list[int] = []
    time, boundary = Fraction(0), 0
    for i, note in enumerate(score.notes):
        at = f"notes[{i}]"
        if note.midi not in midi_ids:
            raise InvalidInput(f"{at}: MIDI note {note.midi} is not in the midi table")
        for phone, duration in zip(note.phones, note.durations):
            if phone not in phone_ids:
                raise InvalidInput(f"{at}: phone {phone!r} is not in the sing phone table")
            time += duration
            if time > limit:
                raise InvalidInput(f"{at}: the score runs past max_seconds ({float(limit):g} s) here, at "
                                   f"{float(time):g} s")
            end = max(_round_half_up(time * rate), boundary + 1)
            if end > limit_frames:
                raise InvalidInput(f"{at}: the score's frames (one at least per phone) run past max_seconds "
                                   f"({float(limit):g} s = {limit_frames} frames) here")
            ids.append(phone_ids[phone])
            midis.append(midi_ids[0] if phone in (BREATH, SILENCE) else midi_ids[note.midi])
            counts.append(end - boundary)
            boundary = end
    repeats = np.asarray(counts, dtype=np.int64)
    return (np.repeat(np.asarray(ids, dtype=np.int64), repeats),
            np.repeat(np.asarray(midis, dtype=np.int64), repeats))
