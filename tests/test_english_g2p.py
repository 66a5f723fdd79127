"""The default voice's English front end: normalisation, lexicon lookup, suffix rules, compounds, ids, lexicon files."""
import json

import pytest

from voxlite.errors import BundleError, InvalidInput
from voxlite.text import lexicon
from voxlite.text.english_g2p import BOS, EOS, PHONEMES, PUNCTUATION, EnglishG2P, inventory
from voxlite.text.english_normalize import normalize_text

# A hand-made lexicon in misaki's symbols, so these tests pin our rules, not misaki's data.
LEX = {"hello": "həlˈO", "world": "wˈɜɹld", "cat": "kˈæt", "dog": "dˈɔɡ", "bus": "bˈʌs", "walk": "wˈɔk",
       "want": "wˈɑnt", "play": "plˈA", "make": "mˈAk", "run": "ɹˈʌn", "moon": "mˈun", "beam": "bˈim",
       "quick": "kwˈɪk", "the": "ði", "a": "A", "apple": "ˈæpᵊl", "A": "ˈA", "B": "bˈi", "C": "sˈi",
       "one": "wˈʌn", "two": "tˈu", "three": "θɹˈi", "dollars": "dˈɑləɹz", "and": "ænd", "fifty": "fˈɪfti",
       "cents": "sˈɛnts", "doctor": "dˈɑktəɹ", "Smith": "smˈɪθ", "I": "ˈI", "Bob": "bˈɑb"}


@pytest.fixture(scope="module")
def g2p():
    return EnglishG2P(dict(LEX))


def test_inventory_is_fixed_and_unique():
    inv = inventory()
    assert inv[:4] == ["<pad>", BOS, EOS, " "] and len(inv) == len(set(inv)) == 4 + len(PUNCTUATION) + len(PHONEMES)


@pytest.mark.parametrize("text,expected", [
    ("Hello world.", "həlˈO wˈɜɹld."),
    ("Cats, dogs and buses!", "kˈæts, dˈɔɡz ænd bˈʌsᵻz!"),          # -s after voiceless / voiced / sibilant
    ("walked wanted played", "wˈɔkt wˈɑntᵻd plˈAd"),                 # -ed: t / ᵻd / d
    ("making running", "mˈAkɪŋ ɹˈʌnɪŋ"),                             # -ing with dropped e and doubled consonant
    ("moonbeam", "mˈunbˌim"),                                        # compound: later primary stress -> secondary
    ("quick-walk", "kwˈɪk wˈɔk"),                                    # hyphen parts
    ("ABC", "ˈA bˈi sˈi"),                                           # acronym: letter names
    ("the cat, the apple", "ðə kˈæt, ði ˈæpᵊl"),                     # weak "the", "ði" before a vowel
    ("a cat", "ə kˈæt"),
    ("A cat", "ə kˈæt"),                                             # the article, even capitalised
    ("B A C", "bˈi ˈA sˈi"),                                         # a spelled acronym's "A" is the letter
    ("Bob's cat", "bˈɑbz kˈæt"),
])
def test_phonemize(g2p, text, expected):
    assert g2p.phonemize(text) == expected


def test_normalisation_before_lookup(g2p):
    assert normalize_text("Dr. Smith paid $3.50.") == "Doctor Smith paid three dollars and fifty cents."
    assert g2p.phonemize("Dr. Smith") == "dˈɑktəɹ smˈɪθ"


def test_ids_round_trip(g2p):
    ids = g2p.encode("Hello world.")
    inv = inventory()
    assert ids[0] == inv.index(BOS) and ids[-1] == inv.index(EOS)
    assert "".join(inv[i] for i in ids[1:-1]) == "həlˈO wˈɜɹld."
    assert g2p.count("Hello world.") == len(ids) - 2
    both, n_target = g2p.encode_pair("world", "hello")
    assert both == g2p.encode("hello world") and n_target == g2p.count("world")


@pytest.mark.parametrize("text", ["", "   ", "...", "!?"])
def test_nothing_speakable_is_refused(g2p, text):
    with pytest.raises(InvalidInput):
        g2p.encode(text)


def test_unknown_word_still_gets_phonemes():
    """No entry, no suffix rule, no lexicon pieces and no letter-to-sound model: the word is spelled out, one letter
    name each, not dropped."""
    g = EnglishG2P({**LEX, "X": "ˈɛks", "Y": "wˈI", "Z": "zˈi"})
    assert g.phonemize("Xyzzy") == "ˈɛks wˈI zˈi zˈi wˈI"
    assert g.phonemize("the Xyzzy cat") == "ði ˈɛks wˈI zˈi zˈi wˈI kˈæt"  # a vowel follows "the"
    assert g.count("Xyzzy") == len("ˈɛks wˈI zˈi zˈi wˈI")  # one id per symbol, all in the inventory


def test_lexicon_file_round_trip_and_refusals(tmp_path):
    path = tmp_path / "lexicon.json"
    lexicon.save(path, LEX, {"package": "test"})
    assert lexicon.load(path) == LEX
    doc = json.loads(path.read_text())
    for broken in ({**doc, "format": "x"}, {**doc, "version": 99}, {**doc, "entries": {"a": 1}}):
        path.write_text(json.dumps(broken))
        with pytest.raises(BundleError):
            lexicon.load(path)
    path.write_text("{not json")
    with pytest.raises(BundleError):
        lexicon.load(path)


def test_misaki_lexicon_if_installed():
    pytest.importorskip("misaki")
    entries, source = lexicon.from_misaki("us")
    assert len(entries) > 150_000 and source["license"] == "Apache-2.0"
    g = EnglishG2P(entries)
    assert g.phonemize("Hello, cats.") == "həlˈO, kˈæts."
    # every symbol the lexicon uses is in the inventory
    used = set("".join(entries.values()))
    assert used <= set(PHONEMES), sorted(used - set(PHONEMES))


class _Recorder:
    """A letter-to-sound stand-in that records its calls (the dispatch under test is EnglishG2P's; the real model
    is tested in tests/test_letter_to_sound.py and through the embedded voice)."""

    def __init__(self, answer):
        self.answer, self.words = answer, []

    def __call__(self, word):
        self.words.append(word)
        return self.answer


def test_letter_to_sound_reads_only_what_lexicon_and_rules_cannot():
    lts = _Recorder("zˈiɡOt")
    g = EnglishG2P(dict(LEX), letter_to_sound=lts)
    assert g.phonemize("Hello cats quick-walk ABC") == "həlˈO kˈæts kwˈɪk wˈɔk ˈA bˈi sˈi"
    assert lts.words == []  # lexicon, -s, hyphen parts, an acronym: no model
    assert g.phonemize("Zygote's") == "zˈiɡOts"  # possessive of an unknown word: the model reads the stem
    assert g.phonemize("moonbeam") == "zˈiɡOt"  # lexicon pieces are a guess the model beats, even two of them
    assert lts.words == ["Zygote", "moonbeam"]
    spelled = EnglishG2P(dict(LEX), letter_to_sound=_Recorder(None))
    assert spelled.phonemize("Abcab") == "ˈA bˈi sˈi ˈA bˈi"  # the model declines: letter names
    assert EnglishG2P(dict(LEX)).phonemize("catdogbus") == "kˈætdˌɔɡbˌʌs"  # no model: three pieces
