"""Singing score -> UniAudio ``sing`` frames (text/singing_score.py): the two table readers and their refusals, note
names, every pinyin rule, the score format (seconds vs beats, rests, breaths, slurs, per-phone durations, the default
split), cumulative frame rounding over a long score, and every error path.

UniAudio's tables are its data, not ours, so the tests build tables of the same format here, by rule and in an
order of our choosing (so an id is checked to be a line position, not a coincidence of the published order)."""
import json
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from voxlite.errors import InvalidInput
from voxlite.text import singing_score as ss

# written out here, independently of the module's constants
INITIALS = "b p m f d t n l g k h j q x zh ch sh r z c s".split()
FINALS = ("a o e ai ei ao ou an en ang eng ong er i ia io ie iao iou ian in iang ing iong u ua uo uai uei uan uen "
          "uang ueng v ve van vn iu ui un").split()
MARKS = ["|", "<SEP>", "#", "AP", "SP"]


def synthetic_phone_table() -> tuple[str, ...]:
    """Marks first, then finals in reverse alphabetical order, then initials and y/w alphabetically."""
    return tuple(MARKS + sorted(FINALS, reverse=True) + sorted(INITIALS + ["y", "w"]))


PHONES = synthetic_phone_table()
PHONE_TEXT = "".join(f"{s} {1000 - i}\n" for i, s in enumerate(PHONES))  # "symbol count" lines
MIDI = tuple(range(138))
MIDI_TEXT = "".join(f"{v}\n" for v in MIDI)
SHUFFLED_MIDI = tuple([0] + list(range(127, 0, -1)))  # 0 first, then 127 down to 1: id of n (n > 0) is 128 - n
PID = {s: i for i, s in enumerate(PHONES)}


def frames(score, **kwargs):
    return ss.score_to_frames(score, PHONES, MIDI, **kwargs)


def runs(ids):
    """[(value, run length)] of a 1-D array."""
    out = []
    for v in ids.tolist():
        if out and out[-1][0] == v:
            out[-1][1] += 1
        else:
            out.append([v, 1])
    return [tuple(r) for r in out]


def symbols(ids):
    return [(PHONES[i], n) for i, n in runs(ids)]


# ------------------------------------------------------------------------------------------------------- tables

def test_the_synthetic_table_has_the_published_size():
    assert len(PHONES) == 68 and len(set(PHONES)) == 68


def test_phone_table_from_text_and_path(tmp_path):
    assert ss.read_sing_phone_table(PHONE_TEXT) == PHONES
    path = tmp_path / "dict_phone.txt"
    path.write_text(PHONE_TEXT.rstrip("\n"), encoding="utf-8")  # no final newline, as published
    assert ss.read_sing_phone_table(path) == PHONES
    assert ss.read_sing_phone_table(str(path)) == PHONES
    assert ss.read_sing_phone_table("".join(f"{s}\r\n" for s in PHONES)) == PHONES  # no counts, CRLF


@pytest.mark.parametrize("text, message", [
    ("SP 1\nAP 2\n\ni 3\n", "line 3 (''): blank"),
    ("SP 1\nAP 2 3\n", "line 2 ('AP 2 3'): 3 fields"),
    ("SP 1\nAP\n", "line 2 ('AP'): no count"),
    ("SP\nAP 2\n", "line 2 ('AP 2'): a count"),
    ("SP 1\nAP x\n", "line 2 ('AP x'): count 'x'"),
    ("SP 1\nAP -2\n", "count '-2'"),
    ("SP 1\nAP 2\nSP 3\n", "line 3 ('SP 3'): duplicate symbol 'SP' (also line 1)"),
    ("AP 1\ni 2\n", "has no SP"),
    ("SP 1\ni 2\n", "has no AP"),
    ("\n\n", "is empty"),
])
def test_phone_table_refusals(text, message):
    with pytest.raises(InvalidInput) as e:
        ss.read_sing_phone_table(text)
    assert message in str(e.value)


def test_phone_table_unreadable_and_wrong_type(tmp_path):
    with pytest.raises(InvalidInput, match="unreadable sing phone table"):
        ss.read_sing_phone_table(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InvalidInput, match="unreadable"):
        ss.read_sing_phone_table(tmp_path / "bad.txt")
    with pytest.raises(InvalidInput, match="takes a path or the file's text, got list"):
        ss.read_sing_phone_table(list(PHONES))


def test_midi_table_from_text_and_path(tmp_path):
    assert ss.read_midi_table(MIDI_TEXT) == MIDI
    path = tmp_path / "f0_dict.txt"
    path.write_text(MIDI_TEXT, encoding="utf-8")
    assert ss.read_midi_table(path) == MIDI
    assert ss.read_midi_table("".join(f"{v}\n" for v in SHUFFLED_MIDI)) == SHUFFLED_MIDI


@pytest.mark.parametrize("text, message", [
    ("0\n1\n\n2\n", "line 3 (''): blank"),
    ("0\n1 5\n", "line 2 ('1 5'): 2 fields"),
    ("0\n1.5\n", "line 2 ('1.5'): '1.5' is not a non-negative integer"),
    ("0\n-1\n", "'-1' is not"),
    ("0\nC4\n", "'C4' is not"),
    ("0\n1\n1\n", "line 3 ('1'): duplicate value 1 (also line 2)"),
    ("1\n2\n", "has no 0"),
    (" \n", "is empty"),
])
def test_midi_table_refusals(text, message):
    with pytest.raises(InvalidInput) as e:
        ss.read_midi_table(text)
    assert message in str(e.value)
    with pytest.raises(InvalidInput, match="takes a path or the file's text"):
        ss.read_midi_table(3)


@pytest.mark.parametrize("phones, midi, message", [
    ("dict_phone.txt", MIDI, "sequence of symbols"),
    (PHONES + ("a",), MIDI, "duplicate symbols in the sing phone table: a"),
    (("AP", "a b"), MIDI, "without spaces"),
    (tuple(s for s in PHONES if s != "SP"), MIDI, "has no SP"),
    (tuple(s for s in PHONES if s != "AP"), MIDI, "has no AP"),
    (PHONES, "f0_dict.txt", "sequence of integers"),
    (PHONES, (0, 1, 1), "duplicate values"),
    (PHONES, (0, True), "non-negative integers"),
    (PHONES, (0, -5), "non-negative integers"),
    (PHONES, tuple(range(1, 100)), "has no 0"),
])
def test_tables_given_as_sequences_are_checked(phones, midi, message):
    with pytest.raises(InvalidInput, match=message):
        ss.score_to_frames([{"note": 60, "seconds": 1, "pinyin": "a"}], phones, midi)


# --------------------------------------------------------------------------------------------------- note names

@pytest.mark.parametrize("name, midi", [
    ("C4", 60), ("A4", 69), ("c4", 60), ("F#3", 54), ("Bb4", 70), ("bb4", 70), ("B♭4", 70), ("F♯3", 54),
    ("Cb4", 59), ("B#3", 60), ("E##4", 66), ("Dbb4", 60), ("C-1", 0), ("G9", 127), (" D5 ", 74),
    (60, 60), (0, 0), (127, 127), (61.0, 61), (np.int64(62), 62),
])
def test_note_names_and_numbers(name, midi):
    assert ss.note_to_midi(name) == midi


@pytest.mark.parametrize("bad, message", [
    ("H4", "unreadable note name"), ("C", "unreadable"), ("C#", "unreadable"), ("4", "unreadable"),
    ("Cx4", "unreadable"), ("G#9", "MIDI 128, outside 0-127"), ("Cb-1", "MIDI -1"), (128, "outside 0-127"),
    (-1, "outside 0-127"), (60.5, "not an integer"), (float("nan"), "not an integer"), (True, "got bool"),
    ([60], "got list"),
])
def test_bad_pitches(bad, message):
    with pytest.raises(InvalidInput, match=message):
        ss.note_to_midi(bad)


# ------------------------------------------------------------------------------------------------------- pinyin

PINYIN = {
    # initial + final, every initial
    "ba": ("b", "a"), "po": ("p", "o"), "me": ("m", "e"), "fei": ("f", "ei"), "dao": ("d", "ao"),
    "tou": ("t", "ou"), "nan": ("n", "an"), "len": ("l", "en"), "gang": ("g", "ang"), "keng": ("k", "eng"),
    "hong": ("h", "ong"), "jia": ("j", "ia"), "qie": ("q", "ie"), "xiao": ("x", "iao"), "zhuang": ("zh", "uang"),
    "chuo": ("ch", "uo"), "shuai": ("sh", "uai"), "ruan": ("r", "uan"), "zou": ("z", "ou"), "cai": ("c", "ai"),
    "suan": ("s", "uan"), "bian": ("b", "ian"), "lin": ("l", "in"), "liang": ("l", "iang"), "ding": ("d", "ing"),
    "xiong": ("x", "iong"), "gua": ("g", "ua"), "kuang": ("k", "uang"), "dia": ("d", "ia"),
    # the apical vowel is i
    "zhi": ("zh", "i"), "chi": ("ch", "i"), "shi": ("sh", "i"), "ri": ("r", "i"), "zi": ("z", "i"),
    "ci": ("c", "i"), "si": ("s", "i"), "ji": ("j", "i"),
    # u after j q x is ü
    "ju": ("j", "v"), "qu": ("q", "v"), "xu": ("x", "v"), "jue": ("j", "ve"), "que": ("q", "ve"),
    "xuan": ("x", "van"), "juan": ("j", "van"), "jun": ("j", "vn"), "qun": ("q", "vn"), "jv": ("j", "v"),
    # ü after n l
    "nv": ("n", "v"), "lü": ("l", "v"), "lu:": ("l", "v"), "nüe": ("n", "ve"), "lue": ("l", "ve"),
    "nve": ("n", "ve"), "lu": ("l", "u"), "nu": ("n", "u"),
    # abbreviated finals written out
    "liu": ("l", "iou"), "jiu": ("j", "iou"), "diu": ("d", "iou"), "gui": ("g", "uei"), "dui": ("d", "uei"),
    "shui": ("sh", "uei"), "lun": ("l", "uen"), "kun": ("k", "uen"), "zhun": ("zh", "uen"),
    # y spellings
    "yi": ("i",), "yin": ("in",), "ying": ("ing",), "ya": ("ia",), "yo": ("io",), "ye": ("ie",), "yao": ("iao",),
    "you": ("iou",), "yan": ("ian",), "yang": ("iang",), "yong": ("iong",), "yu": ("v",), "yue": ("ve",),
    "yuan": ("van",), "yun": ("vn",), "yü": ("v",), "yv": ("v",),
    # w spellings
    "wu": ("u",), "wa": ("ua",), "wo": ("uo",), "wai": ("uai",), "wei": ("uei",), "wan": ("uan",),
    "wen": ("uen",), "wang": ("uang",), "weng": ("ueng",),
    # zero initial
    "a": ("a",), "o": ("o",), "e": ("e",), "ai": ("ai",), "ei": ("ei",), "ao": ("ao",), "ou": ("ou",),
    "an": ("an",), "en": ("en",), "ang": ("ang",), "eng": ("eng",), "er": ("er",),
    # tones, case
    "ni3": ("n", "i"), "hao0": ("h", "ao"), "NI": ("n", "i"), "nǐ": ("n", "i"), "hǎo": ("h", "ao"),
    "lǜ": ("l", "v"), "nǚ3": ("n", "v"), "Zhōng": ("zh", "ong"), "guó2": ("g", "uo"),
}


@pytest.mark.parametrize("syllable", sorted(PINYIN))
def test_pinyin_rules(syllable):
    assert ss.pinyin_to_phones(syllable) == PINYIN[syllable]
    assert all(p in PHONES for p in PINYIN[syllable])


@pytest.mark.parametrize("syllable", [
    "", "y", "w", "m", "n", "ng", "hm", "hng", "gia", "kiu", "bv", "zhv", "dve", "jong", "qa", "xo", "lvan", "nvn",
    "wong", "wun", "wui", "wi", "yai", "yie", "yer", "yiu", "yuang", "ner", "lio", "dueng", "zhia", "ni6",
    "ni 3", "n-i", "你", "xyz", "ê",
])
def test_unknown_pinyin(syllable):
    with pytest.raises(InvalidInput, match="unknown pinyin"):
        ss.pinyin_to_phones(syllable)


def test_pinyin_must_be_a_string():
    with pytest.raises(InvalidInput, match="must be a string"):
        ss.pinyin_to_phones(3)


# ------------------------------------------------------------------------------------------------- score format

def test_docstring_example():
    score = {"bpm": 90, "notes": [
        {"note": "rest", "beats": 1},
        {"note": "E4", "beats": 1, "pinyin": "ni3", "text": "你"},
        {"note": 64, "beats": 0.5, "pinyin": "hao"},
        {"note": "G4", "beats": 0.5, "slur": True},
        {"breath": True, "seconds": 0.25},
        {"note": "F#4", "seconds": 0.6, "phones": ["w", "o"], "phone_seconds": [0.1, 0.5]},
    ]}
    phone_ids, midi_ids = frames(score)
    assert phone_ids.dtype == np.int64 and midi_ids.dtype == np.int64 and phone_ids.shape == midi_ids.shape
    # boundaries: round(50 t), t = 2/3, +0.08, 4/3, +0.08, 5/3, 2, 2.25, 2.35, 2.85
    assert [(PHONES[p], m, n) for (p, m), n in runs_pairs(phone_ids, midi_ids)] == [
        ("SP", 0, 33), ("n", 64, 4), ("i", 64, 30), ("h", 64, 4), ("ao", 64, 12), ("ao", 67, 17), ("AP", 0, 13),
        ("w", 66, 5), ("o", 66, 25)]
    assert len(phone_ids) == 143  # 2.85 s * 50 = 142.5, rounded half up


def runs_pairs(a, b):
    out = []
    for pair in zip(a.tolist(), b.tolist()):
        if out and out[-1][0] == pair:
            out[-1][1] += 1
        else:
            out.append([pair, 1])
    return [tuple(r) for r in out]


def test_score_as_list_dict_path_and_score(tmp_path):
    notes = [{"note": "C4", "seconds": 0.5, "pinyin": "la"}, {"note": None, "seconds": 0.5}]
    expected = frames(notes)
    path = tmp_path / "score.json"
    path.write_text(json.dumps({"notes": notes, "title": "t"}), encoding="utf-8")
    loaded = ss.load_score(path)
    assert isinstance(loaded, ss.Score) and ss.load_score(loaded) is loaded
    for score in (path, str(path), loaded, {"notes": notes}, tuple(notes)):
        got = frames(score)
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert loaded.seconds == 1.0 and [n.kind for n in loaded.notes] == ["sung", "rest"]
    assert loaded.notes[0].phones == ("l", "a") and loaded.notes[0].durations == (Fraction(2, 25), Fraction(21, 50))
    assert loaded.notes[0].seconds == 0.5 and loaded.notes[0].midi == 60
    assert loaded.notes[1].phones == ("SP",) and loaded.notes[1].midi == 0


def test_beats_equal_seconds():
    beats = {"bpm": 120, "notes": [{"note": 60, "beats": 1, "pinyin": "ma"}, {"note": "rest", "beats": 0.5},
                                   {"note": 62, "beats": 2.5, "pinyin": "a"}]}
    seconds = [{"note": 60, "seconds": 0.5, "pinyin": "ma"}, {"note": "rest", "seconds": 0.25},
               {"note": 62, "seconds": 1.25, "pinyin": "a"}]
    b, s = frames(beats), frames(seconds)
    assert np.array_equal(b[0], s[0]) and np.array_equal(b[1], s[1]) and len(b[0]) == 100
    slow = frames({"bpm": 60, "notes": beats["notes"]})  # half the tempo: twice the frames
    assert len(slow[0]) == 200


def test_rests_and_breaths_are_sp_and_ap_with_midi_0():
    p, m = frames([{"note": "rest", "seconds": 0.2}, {"note": None, "seconds": 0.2}, {"breath": True, "seconds": 0.2},
                   {"breath": True, "note": "rest", "seconds": 0.2}, {"breath": True, "note": None, "seconds": 0.2},
                   {"note": 70, "seconds": 0.2, "phones": ["a", "AP", "SP", "|"]}])
    assert [(PHONES[a], b, n) for (a, b), n in runs_pairs(p, m)] == [
        ("SP", 0, 20), ("AP", 0, 30), ("a", 70, 3), ("AP", 0, 2), ("SP", 0, 3), ("|", 70, 2)]


def test_midi_ids_are_table_positions():
    p, m = ss.score_to_frames([{"note": 60, "seconds": 0.1, "phones": ["a"]}, {"note": 0, "seconds": 0.1,
                                                                              "phones": ["a"]},
                               {"note": "rest", "seconds": 0.1}], PHONES, SHUFFLED_MIDI)
    assert runs(m) == [(68, 5), (0, 10)]
    assert runs(p) == [(PID["a"], 10), (PID["SP"], 5)]


def test_phone_ids_are_table_positions():
    reordered = tuple(reversed(PHONES))
    p, _ = ss.score_to_frames([{"note": 60, "seconds": 0.5, "pinyin": "zhi"}], reordered, MIDI)
    assert runs(p) == [(reordered.index("zh"), 4), (reordered.index("i"), 21)]


def test_slur_holds_the_previous_final():
    p, m = frames([{"note": 60, "seconds": 0.4, "pinyin": "xiang"}, {"note": 62, "seconds": 0.2, "slur": True},
                   {"note": 64, "seconds": 0.2, "slur": True, "breath": False}])
    assert [(PHONES[a], b, n) for (a, b), n in runs_pairs(p, m)] == [
        ("x", 60, 4), ("iang", 60, 16), ("iang", 62, 10), ("iang", 64, 10)]


# --------------------------------------------------------------------------------------------- splitting phones

@pytest.mark.parametrize("seconds, lyric, expected", [
    (0.6, {"pinyin": "ni"}, [("n", 4), ("i", 26)]),           # initial capped at 0.08 s
    (0.18, {"pinyin": "ni"}, [("n", 3), ("i", 6)]),           # a third of the note
    (0.15, {"pinyin": "ni"}, [("n", 3), ("i", 5)]),           # 0.05 s = 2.5 frames, rounded half up
    (0.3, {"pinyin": "yi"}, [("i", 15)]),                     # no initial: the final takes all
    (0.6, {"phones": ["n", "i", "AP"]}, [("n", 4), ("i", 13), ("AP", 13)]),  # others share the rest equally
    (0.6, {"phones": ["m", "a", "n"]}, [("m", 4), ("a", 22), ("n", 4)]),     # k = 2: min(0.08, 0.6 / 6) = 0.08 each
    (0.3, {"phones": ["m", "n"]}, [("m", 8), ("n", 7)]),      # all consonants: equal shares (7.5 -> 8, 15)
    (0.3, {"phones": ["a", "o", "e"]}, [("a", 5), ("o", 5), ("e", 5)]),
    (0.3, {"phones": ["y", "i"]}, [("y", 4), ("i", 11)]),     # y, w count as consonants
])
def test_default_split(seconds, lyric, expected):
    p, _ = frames([dict(note=60, seconds=seconds, **lyric)])
    assert symbols(p) == expected


def test_phone_seconds():
    p, _ = frames([{"note": 60, "seconds": 0.5, "pinyin": "shuo", "phone_seconds": [0.2, 0.3]}])
    assert symbols(p) == [("sh", 10), ("uo", 15)]
    p, _ = frames([{"note": 60, "pinyin": "shuo", "phone_seconds": [0.2, 0.3]}])  # the note lasts their sum
    assert symbols(p) == [("sh", 10), ("uo", 15)]
    # within 1 ms of the note's duration: the last phone takes up the difference (2/3 s = 33.3 frames in all)
    score = ss.load_score({"bpm": 90, "notes": [{"note": 60, "beats": 1, "pinyin": "shuo",
                                                 "phone_seconds": [0.1, 0.5667]}]})
    assert score.notes[0].durations == (Fraction(1, 10), Fraction(2, 3) - Fraction(1, 10))
    assert symbols(frames(score)[0]) == [("sh", 5), ("uo", 28)]
    p, _ = frames([{"note": 60, "seconds": 0.3, "breath": False, "phones": ["a"], "phone_seconds": [0.3]},
                   {"breath": True, "phone_seconds": [0.1]}, {"note": "rest", "phone_seconds": [0.1]}])
    assert symbols(p) == [("a", 15), ("AP", 5), ("SP", 5)]


# --------------------------------------------------------------------------------------------------------- frames

def test_cumulative_rounding_does_not_drift():
    # 72 bpm: a beat is 5/6 s = 41.67 frames; rounding each note would give 42 * 60 = 2520 frames, not 2500
    score = {"bpm": 72, "notes": [{"note": 60 + i % 12, "beats": 1, "phones": ["a"]} for i in range(60)]}
    p, m = frames(score)
    assert len(p) == 2500
    counts = [n for _, n in runs(m)]
    assert counts == [math.floor(Fraction(250, 6) * (i + 1) + Fraction(1, 2)) -
                      math.floor(Fraction(250, 6) * i + Fraction(1, 2)) for i in range(60)]
    assert set(counts) == {41, 42}


def test_decimal_times_are_exact():
    # 0.03 s = 1.5 frames: boundaries at exactly k * 1.5 frames, halves rounded up (2, 3, 5, 6, 8, ...)
    score = [{"note": 60 + i % 2, "seconds": 0.03, "phones": ["a"]} for i in range(1000)]
    _, m = frames(score)
    assert len(m) == 1500
    assert [n for _, n in runs(m)][:6] == [2, 1, 2, 1, 2, 1]
    # 0.1 summed 30 times is 3 s exactly (in floats it is 3.0000000000000013)
    _, m = frames([{"note": 60 + i % 2, "seconds": 0.1, "phones": ["a"]} for i in range(30)])
    assert [n for _, n in runs(m)] == [5] * 30


def test_every_phone_gets_a_frame_and_the_next_take_it_back():
    p, _ = frames([{"note": 60, "phones": ["n", "i"], "phone_seconds": [0.005, 0.195]},
                   {"note": 60, "phones": ["h", "a"], "phone_seconds": [0.001, 0.003]},
                   {"note": 60, "seconds": 0.396, "phones": ["o"]}])
    # boundaries: 0.25 -> 1 (pushed from 0), 10, 10.05 -> 11, 10.2 -> 12, 30
    assert symbols(p) == [("n", 1), ("i", 9), ("h", 1), ("a", 1), ("o", 18)]
    assert len(p) == 30


def test_other_frame_rate():
    p, _ = frames([{"note": 60, "seconds": 1, "pinyin": "ba"}], frame_rate=75)
    assert symbols(p) == [("b", 6), ("a", 69)]


def test_max_seconds():
    score = [{"note": 60, "seconds": 20, "phones": ["a"]}] * 3
    assert len(frames(score)[0]) == 3000  # exactly 60 s is allowed
    with pytest.raises(InvalidInput, match=r"notes\[3\]: the score runs past max_seconds \(60 s\)"):
        frames(score + [{"note": "rest", "seconds": 0.01}])
    with pytest.raises(InvalidInput, match=r"notes\[1\]: .*max_seconds \(30 s\)"):
        frames(score, max_seconds=30)
    assert len(frames(score + score, max_seconds=120)[0]) == 6000
    # frames past the limit through the one-frame minimum
    tiny = [{"note": 60, "phones": ["a", "o", "e"], "phone_seconds": [0.001, 0.001, 0.001]}]
    with pytest.raises(InvalidInput, match=r"notes\[0\]: the score's frames .* run past max_seconds"):
        frames(tiny, max_seconds=0.04)


@pytest.mark.parametrize("kwargs, message", [
    ({"frame_rate": 0}, "frame_rate must be positive"), ({"frame_rate": -50.0}, "frame_rate must be positive"),
    ({"frame_rate": float("inf")}, "frame_rate must be finite"), ({"frame_rate": "50"}, "frame_rate must be a num"),
    ({"max_seconds": 0}, "max_seconds must be positive"), ({"max_seconds": float("nan")}, "must be finite"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        frames([{"note": 60, "seconds": 1, "pinyin": "a"}], **kwargs)


# --------------------------------------------------------------------------------------------------- error paths

OK = {"note": 60, "seconds": 0.5, "pinyin": "a"}


@pytest.mark.parametrize("note, message", [
    ({"note": 60, "seconds": 0.5, "phones": ["q", "ia2"]}, "phone 'ia2' is not in the sing phone table"),
    ({"note": 60, "seconds": 0.5, "phones": ["SIL"]}, "phone 'SIL' is not"),
    ({"note": 128, "seconds": 0.5, "pinyin": "a"}, "MIDI note 128 is outside 0-127"),
    ({"note": "C10", "seconds": 0.5, "pinyin": "a"}, "'C10' is MIDI 132, outside 0-127"),
    ({"note": "X4", "seconds": 0.5, "pinyin": "a"}, "unreadable note name"),
    ({"note": True, "seconds": 0.5, "pinyin": "a"}, "got bool"),
    ({"note": 60, "seconds": 0.5, "pinyin": "gia"}, "unknown pinyin 'gia'"),
    ({"note": 60, "seconds": 0.5, "pinyin": ["ni"]}, "pinyin must be a string"),
    ({"note": 60, "seconds": 0, "pinyin": "a"}, "seconds must be positive, got 0"),
    ({"note": 60, "seconds": -0.5, "pinyin": "a"}, "seconds must be positive"),
    ({"note": 60, "seconds": "0.5", "pinyin": "a"}, "seconds must be a number, got str"),
    ({"note": 60, "seconds": True, "pinyin": "a"}, "seconds must be a number, got bool"),
    ({"note": 60, "seconds": float("inf"), "pinyin": "a"}, "seconds must be finite"),
    ({"note": 60, "beats": 0, "pinyin": "a"}, "beats must be positive"),
    ({"note": 60, "beats": 1, "pinyin": "a"}, "beats need a top-level \"bpm\""),
    ({"note": 60, "seconds": 0.5, "beats": 1, "pinyin": "a"}, "both seconds and beats"),
    ({"note": 60, "pinyin": "a"}, "no duration"),
    ({"note": 60, "second": 0.5, "pinyin": "a"}, "unknown key(s) 'second'"),
    ({"seconds": 0.5, "pinyin": "a"}, "no pitch"),
    ({"note": 60, "seconds": 0.5}, "no lyric"),
    ({"note": 60, "seconds": 0.5, "pinyin": "a", "phones": ["a"]}, "more than one lyric (phones, pinyin)"),
    ({"note": 60, "seconds": 0.5, "pinyin": "a", "breath": True}, "more than one lyric (pinyin, breath)"),
    ({"note": "rest", "seconds": 0.5, "pinyin": "a"}, "a rest takes no lyric, got pinyin"),
    ({"note": None, "seconds": 0.5, "phones": ["a"]}, "a rest takes no lyric"),
    ({"note": 60, "seconds": 0.5, "breath": True}, "a breath takes no pitch"),
    ({"seconds": 0.5, "breath": "yes"}, "'breath' must be true or false"),
    ({"note": 60, "seconds": 0.5, "slur": 1}, "'slur' must be true or false"),
    ({"note": 60, "seconds": 0.5, "phones": []}, "non-empty list"),
    ({"note": 60, "seconds": 0.5, "phones": "n i"}, "non-empty list"),
    ({"note": 60, "seconds": 0.5, "phones": ["n i"]}, "without spaces"),
    ({"note": 60, "seconds": 0.5, "phones": [""]}, "without spaces"),
    ({"note": 60, "seconds": 0.5, "pinyin": "ni", "phone_seconds": [0.5]}, "1 phone_seconds for 2 phone(s) (n i)"),
    ({"note": 60, "seconds": 0.5, "pinyin": "ni", "phone_seconds": "0.1 0.4"}, "must be a list"),
    ({"note": 60, "seconds": 0.5, "pinyin": "ni", "phone_seconds": [0.1, 0.3]}, "add up to 0.4 s, the note lasts"),
    ({"note": 60, "seconds": 0.5, "pinyin": "ni", "phone_seconds": [0.1, 0]}, "phone_seconds[1] must be pos"),
    ({"note": 60, "seconds": 0.5, "pinyin": "ni", "phone_seconds": [0.5005, 0.0001]}, "last phone's duration"),
    ({"note": 60, "seconds": 0.5, "slur": True}, "a slur continues the previous sung note, and there is a rest"),
    ("C4", "a note is an object"),
])
def test_note_errors_name_the_note(note, message):
    score = [OK, {"note": "rest", "seconds": 0.5}, note]
    with pytest.raises(InvalidInput) as e:
        frames(score)
    assert str(e.value).startswith("notes[2]: ") and message in str(e.value), str(e.value)


def test_more_note_errors():
    with pytest.raises(InvalidInput, match=r"notes\[0\]: a slur continues the previous sung note, and there is none"):
        frames([{"note": 60, "seconds": 0.5, "slur": True}])
    with pytest.raises(InvalidInput, match=r"notes\[1\]: .* there is a breath before it"):
        frames([{"breath": True, "seconds": 0.5}, {"note": 60, "seconds": 0.5, "slur": True}])
    with pytest.raises(InvalidInput, match=r"notes\[1\]: MIDI note 40 is not in the midi table"):
        ss.score_to_frames([OK, {"note": 40, "seconds": 0.5, "pinyin": "a"}], PHONES, (0,) + tuple(range(48, 84)))
    with pytest.raises(InvalidInput, match=r"notes\[0\]: beats must be positive"):
        frames({"bpm": 100, "notes": [{"note": 60, "beats": -1, "pinyin": "a"}]})


@pytest.mark.parametrize("score, message", [
    ([], "the score is empty: no notes"),
    ({"notes": []}, "the score is empty"),
    ({"bpm": 100}, "no \"notes\""),
    ({"notes": [OK], "tempo": 100}, "unknown key(s) 'tempo'"),
    ({"notes": "C4"}, "the notes must be a list, got str"),
    ({"notes": [OK], "bpm": 0}, "bpm must be positive"),
    ({"notes": [OK], "bpm": "fast"}, "bpm must be a number"),
    (3, "load_score takes a JSON file's path, a dict or a list of notes, got int"),
])
def test_score_errors(score, message):
    with pytest.raises(InvalidInput) as e:
        ss.load_score(score)
    assert message in str(e.value)


@pytest.mark.parametrize("text, message", [
    ("{\"notes\": [", "is not valid JSON"),
    ("", "is not valid JSON"),
    ("{\"notes\": [{\"note\": 60, \"seconds\": NaN, \"pinyin\": \"a\"}]}", "NaN is not a number JSON allows"),
    ("{\"notes\": [], \"notes\": []}", "duplicate key(s) 'notes'"),
    ("[{\"note\": 60, \"note\": 61, \"seconds\": 1, \"pinyin\": \"a\"}]", "duplicate key(s) 'note'"),
    ("\"C4\"", "the notes must be a list"),
])
def test_score_file_errors(tmp_path, text, message):
    path = tmp_path / "score.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as e:
        ss.load_score(path)
    assert f"score {path}" in str(e.value) and message in str(e.value)


def test_unreadable_score(tmp_path):
    with pytest.raises(InvalidInput, match="unreadable score"):
        ss.load_score(tmp_path / "missing.json")
    (tmp_path / "latin1.json").write_bytes(b"[\xe9]")
    with pytest.raises(InvalidInput, match="unreadable score"):
        ss.load_score(tmp_path / "latin1.json")


def test_module_is_torch_free():
    code = "import sys, voxlite.text.singing_score; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
