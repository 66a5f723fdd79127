"""Our English G2P's phonemes -> a UniAudio phone table (text/uniaudio_phones.py): the phone_dict parser and its
refusals, every mapping entry, the rules for symbols with no ARPAbet counterpart, stress and word positions (and their
fallbacks), a sentence end to end into joint-vocabulary ids and a UniAudio sequence, unknown symbols, and the
vocabulary check.

UniAudio's own table is its data, not ours (it comes from the user's checkout), so the tests use a synthetic table
generated here by rule, in an order of our choosing, with combinations removed on purpose to exercise each step of
the fallback order."""
import json
from pathlib import Path

import numpy as np
import pytest

from voxlite.errors import InvalidInput
from voxlite.pipelines.uniaudio_sequences import UniAudioVocabulary
from voxlite.text import uniaudio_phones as up
from voxlite.text.english_g2p import PHONEMES, EnglishG2P

# written out here, independently of the module's tables
EXPECTED_VOWELS = {"A": "EY", "I": "AY", "O": "OW", "W": "AW", "Y": "OY", "i": "IY", "u": "UW", "æ": "AE",
                   "ɑ": "AA", "ɔ": "AO", "ə": "AH", "ɛ": "EH", "ɜ": "ER", "ɪ": "IH", "ʊ": "UH", "ʌ": "AH",
                   "ᵊ": "AH", "ᵻ": "IH"}
EXPECTED_CONSONANTS = {"b": "B", "d": "D", "f": "F", "h": "HH", "j": "Y", "k": "K", "l": "L", "m": "M", "n": "N",
                       "p": "P", "s": "S", "t": "T", "v": "V", "w": "W", "z": "Z", "ð": "DH", "ŋ": "NG", "ɡ": "G",
                       "ɹ": "R", "ʃ": "SH", "ʒ": "ZH", "ʤ": "JH", "ʧ": "CH", "θ": "TH", "ɾ": "T", "ʔ": "T"}
ARPABET_VOWELS = "AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split()
ARPABET_CONSONANTS = "B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split()


# removed from the synthetic table, each removal set exercising steps of the fallback order; combination -> what it
# falls back to (module docstring: positions _S E B I, _B I S E, _E I S B, _I B E S; stresses 1: 2 0, 2: 1 0, 0: 1 2;
# then the bare symbol)
POSITION_FALLBACKS = {
    ("AY", 1, "S"): "AY1_E",                                                              # S -> E
    ("AA", 1, "S"): "AA1_B", ("AA", 1, "E"): "AA1_I",                                     # S -> B; E -> I
    ("AO", 1, "S"): "AO1_I", ("AO", 1, "E"): "AO1_I", ("AO", 1, "B"): "AO1_I",            # S -> I
    ("EH", 1, "B"): "EH1_I",                                                              # B -> I
    ("IY", 1, "B"): "IY1_S", ("IY", 1, "I"): "IY1_E",                                     # B -> S; I -> E
    ("UW", 1, "B"): "UW1_E", ("UW", 1, "I"): "UW1_E", ("UW", 1, "S"): "UW1_E",            # B -> E
    ("OW", 2, "E"): "OW2_I",                                                              # E -> I
    ("AW", 1, "E"): "AW1_S", ("AW", 1, "I"): "AW1_B",                                     # E -> S; I -> B
    ("AY", 2, "E"): "AY2_B", ("AY", 2, "I"): "AY2_B", ("AY", 2, "S"): "AY2_B",            # E -> B
    ("IH", 2, "I"): "IH2_B",                                                              # I -> B
    ("UH", 2, "I"): "UH2_E", ("UH", 2, "B"): "UH2_S",                                     # I -> E; B -> S
    ("EH", 2, "I"): "EH2_S", ("EH", 2, "B"): "EH2_S", ("EH", 2, "E"): "EH2_S",            # I -> S
    ("NG", None, "B"): "NG_I",                                                            # a consonant: B -> I
}
STRESS_FALLBACKS = {("OY", 1): "OY2", ("ER", 2): "ER1", ("IH", 0): "IH1",  # 1 -> 2; 2 -> 1; 0 -> 1
                    ("OY", 0): "OY2"}  # 0 -> 2 (OY1_* are gone too)
FALLBACKS = dict(POSITION_FALLBACKS)
FALLBACKS.update({(phone, stress, pos): f"{to}_{pos}" for (phone, stress), to in STRESS_FALLBACKS.items()
                  for pos in "BIES"})
FALLBACKS.update({("ZH", None, pos): "ZH" for pos in "BIES"})  # no positional ZH: the bare symbol


def _symbol(phone, stress, position):
    return f"{phone}{'' if stress is None else stress}_{position}"


REMOVED = {_symbol(*combination) for combination in FALLBACKS}


def synthetic_table() -> tuple[str, ...]:
    """A phone table by rule: silences, then each consonant (bare, _B _I _E _S), then each vowel with stress 0 1 2
    (bare, _B _I _E _S), alphabetically, without REMOVED."""
    table = ["SIL", "SIL_l", "SIL_m", "SIL_s", "<unk>"]
    for phone in ARPABET_CONSONANTS:
        table += [phone] + [f"{phone}_{pos}" for pos in "BIES"]
    for phone in ARPABET_VOWELS:
        for stress in "012":
            table += [phone + stress] + [f"{phone}{stress}_{pos}" for pos in "BIES"]
    return tuple(s for s in table if s not in REMOVED)


TABLE = synthetic_table()
FILE_TEXT = "".join(f"{symbol} {i}\n" for i, symbol in enumerate(TABLE))  # phone_dict: symbol and index per line
FIXTURES = Path(__file__).parent / "fixtures" / "uniaudio"


def real_vocabulary() -> UniAudioVocabulary:
    """The joint vocabulary of UniAudio's public recipe (n_vocab 4213, phones at [3201, 3507)), its token list built
    from the layout fixture as tests/test_uniaudio_sequences.py builds it."""
    layout = json.loads((FIXTURES / "vocab_layout.json").read_text())["real_runsh"]
    tokens = ["<unused_special_token>"] * layout["n_vocab"]
    for i, name in layout["specials"].items():
        tokens[int(i)] = name
    for kind, (start, end) in layout["ranges_[start,end)"].items():
        tokens[start:end] = [f"<{kind}_{i}>" for i in range(end - start)]
    vocab = UniAudioVocabulary.from_token_list(tokens)
    assert len(vocab) == 4213 and vocab.data_range("phone") == (3201, 3507)
    return vocab


def test_synthetic_table():
    assert len(REMOVED) == 45 and len(TABLE) == len(set(TABLE)) == 305  # the size of UniAudio's: 306 phone ids
    assert not hasattr(up, "PHONE_TABLE")  # the module lists no table of its own


def test_read_phone_table(tmp_path):
    path = tmp_path / "phone_dict"
    path.write_text(FILE_TEXT, encoding="utf-8")
    assert up.read_phone_table(path) == up.read_phone_table(str(path)) == up.read_phone_table(FILE_TEXT) == TABLE
    bare = "\n".join(TABLE)  # symbols only (the index is the line's position), no final newline
    assert up.read_phone_table(bare) == TABLE
    assert up.read_phone_table(FILE_TEXT.replace("\n", "\r\n") + "\n\n") == TABLE  # CRLF, trailing blank lines
    assert up.read_phone_table("SIL\nAA1_B\n") == ("SIL", "AA1_B")
    assert up.symbol_indices(["SIL", "AA0_B", "SPN_S"], TABLE).tolist() == [0, TABLE.index("AA0_B"), 305]


@pytest.mark.parametrize("text, message", [
    ("SIL 0\nAA1_B 1\nAA1_B 2\n", r"line 3 .*duplicate symbol 'AA1_B' \(also line 2\)"),
    ("SIL\nAA1_B\nAA1_B\n", r"line 3 .*duplicate symbol"),
    ("SIL 0\nAA1_B 1\nAA1_E 1\n", r"line 3 .*duplicate index 1 \(line 2 has it\)"),
    ("SIL 0\nAA1_B 0\n", r"line 2 .*duplicate index 0"),
    ("SIL 0\nAA1_B 2\n", r"line 2 .*index 2 leaves a gap"),
    ("SIL 1\n", r"line 1 .*index 1 leaves a gap"),
    ("SIL 0\nAA1_B one\n", r"line 2 .*index 'one' is not a non-negative integer"),
    ("SIL 0\nAA1_B 1.0\n", r"line 2 .*'1.0' is not"),
    ("SIL 0\nAA1_B -1\n", r"line 2 .*'-1' is not"),
    ("SIL 0\nAA1_B 0_1\n", r"line 2 .*'0_1' is not"),
    ("SIL 0\nAA1_B\n", r"line 2 .*no index, though earlier lines have one"),
    ("SIL\nAA1_B 1\n", r"line 2 .*an index, though earlier lines have none"),
    ("SIL 0\n\nAA1_B 1\n", r"line 2 .*blank line"),
    ("SIL 0\nAA1_B 1 x\n", r"line 2 .*3 fields"),
    ("SIL 0\n<UNK> 1\n", r"line 2 .*<UNK> is appended"),
    ("AA1_B 0\nAA1_E 1\n", r"no SIL"),
    ("\n\n", r"empty"),
])
def test_read_phone_table_refusals(text, message):
    with pytest.raises(InvalidInput, match=message):
        up.read_phone_table(text)


def test_read_phone_table_bad_sources(tmp_path):
    with pytest.raises(InvalidInput, match="unreadable phone table"):
        up.read_phone_table(tmp_path / "missing")
    (tmp_path / "latin1").write_bytes(b"SIL\n\xe9\n")
    with pytest.raises(InvalidInput, match="unreadable phone table"):
        up.read_phone_table(tmp_path / "latin1")
    with pytest.raises(InvalidInput, match="path or the file's text"):
        up.read_phone_table(b"SIL\n")


def test_table_checks():
    g2p = EnglishG2P(dict(LEX))
    phones = up.UniAudioPhones(g2p, list(TABLE))
    assert phones.table == TABLE and phones.unk_index == 305 and phones.n_phones == 306
    for table, message in ((TABLE + ("SIL",), "duplicate symbols in the phone table: SIL"),
                           (TABLE + (up.UNK,), "lists <UNK>"), (TABLE[1:], "no SIL"),
                           (FILE_TEXT, "read_phone_table"), (("SIL", "AA 1"), "without spaces"),
                           (("SIL", 3), "without spaces"), (None, "sequence of symbols")):
        with pytest.raises(InvalidInput, match=message):
            up.UniAudioPhones(g2p, table)


def test_mapping_covers_the_inventory():
    ours = set(PHONEMES) - set("ˈˌ")
    assert set(up.VOWELS) | set(up.CONSONANTS) == ours == set(EXPECTED_VOWELS) | set(EXPECTED_CONSONANTS)


def expected_symbol(phone, stress, position):
    """What the synthetic table gives a combination: itself, or its fallback if it was removed."""
    return FALLBACKS.get((phone, stress, position), _symbol(phone, stress, position))


@pytest.mark.parametrize("symbol", sorted(EXPECTED_VOWELS))
def test_each_vowel(symbol):
    want = EXPECTED_VOWELS[symbol]
    assert up.word_phones("ˈ" + symbol) == [(want, 1)]
    assert up.word_phones("ˌ" + symbol + "tˈA")[0] == (want, 2)
    assert up.word_phones("tˈA" + symbol)[2] == (want, 0)
    for position in "BIES":
        for stress in (0, 1, 2):
            got = up.table_symbol(want, stress, position, TABLE)
            assert got == expected_symbol(want, stress, position) and got.startswith(want) and got in TABLE


@pytest.mark.parametrize("symbol", sorted(EXPECTED_CONSONANTS))
def test_each_consonant(symbol):
    want = EXPECTED_CONSONANTS[symbol]
    assert up.word_phones(symbol) == [(want, None)]
    assert up.phones_to_symbols("ˈA" + symbol, TABLE, leading_silence=False) == [
        "EY1_B", expected_symbol(want, None, "E")]
    for position in "BIES":
        got = up.table_symbol(want, None, position, TABLE)
        assert got == expected_symbol(want, None, position) and got.split("_")[0] == want


def test_every_arpabet_phone_resolves():
    for phone in ARPABET_VOWELS:
        for stress in (0, 1, 2):
            for position in "BIES":
                assert up.table_symbol(phone, stress, position, TABLE) == expected_symbol(phone, stress, position)
    for phone in ARPABET_CONSONANTS:
        for position in "BIES":
            assert up.table_symbol(phone, None, position, TABLE) == expected_symbol(phone, None, position)
    assert up.table_symbol("ZH", None, "E", set(TABLE)) == "ZH"  # a set or a dict serves as well
    assert up.table_symbol("ZH", None, "E", {s: i for i, s in enumerate(TABLE)}) == "ZH"


@pytest.mark.parametrize("table, phone, stress, position, want", [
    # every stress of one position comes before the next stress
    ({"AA1_I", "AA2_S"}, "AA", 1, "S", "AA1_I"),
    ({"AA2_I", "AA0_S"}, "AA", 1, "S", "AA2_I"),  # 1: 2 before 0
    ({"AA0_E"}, "AA", 1, "S", "AA0_E"),  # 1: then 0
    ({"AA1_B", "AA0_B"}, "AA", 2, "B", "AA1_B"),  # 2: 1 before 0
    ({"AA0_B"}, "AA", 2, "B", "AA0_B"),
    ({"AA2_E", "AA1_E"}, "AA", 0, "E", "AA1_E"),  # 0: 1 before 2
    # positional forms before bare ones; bare ones in the stress order
    ({"AA2_B", "AA0"}, "AA", 0, "E", "AA2_B"),
    ({"AA1", "AA0", "AA2"}, "AA", 2, "I", "AA2"),
    ({"AA1", "AA0"}, "AA", 2, "I", "AA1"),
    ({"AA0"}, "AA", 1, "I", "AA0"),
    ({"T"}, "T", None, "S", "T"),
    ({"T_S"}, "T", None, "I", "T_S"),
    # nothing fits
    ({"AA1_B", "T", "SIL"}, "AE", 1, "B", "<UNK>"),
    ({"T1_B", "T0"}, "T", None, "B", "<UNK>"),  # a consonant has no stress digit
    (set(), "AA", 1, "B", "<UNK>"),
])
def test_fallback_order(table, phone, stress, position, want):
    assert up.table_symbol(phone, stress, position, table) == want


def test_rules_for_symbols_without_counterpart():
    assert up.word_phones("wˈɜɹld") == [("W", None), ("ER", 1), ("L", None), ("D", None)]  # ɹ absorbed
    assert up.word_phones("bˈʌɾəɹ") == [("B", None), ("AH", 1), ("T", None), ("ER", 0)]  # flap -> T, əɹ -> ER0
    assert up.word_phones("bˈʌʔn") == [("B", None), ("AH", 1), ("T", None), ("N", None)]  # glottal stop -> T
    assert up.word_phones("ˈæpᵊl") == [("AE", 1), ("P", None), ("AH", 0), ("L", None)]
    assert up.word_phones("bˈʌsᵻz")[3] == ("IH", 0)
    assert up.word_phones("kjˈʊɹ") == [("K", None), ("Y", None), ("UH", 1), ("R", None)]  # ʊɹ stays UH R


def test_stress_rules():
    assert [s for _, s in up.word_phones("mˈunbˌim") if s is not None] == [1, 2]  # primary word: ˈ 1, ˌ 2
    assert up.word_phones("ʌv") == [("AH", 1), ("V", None)]  # unmarked function word: first full vowel 1
    assert up.word_phones("bˌʌt")[1] == ("AH", 1)  # secondary-only word: ˌ -> 1
    assert up.word_phones("ðə") == [("DH", None), ("AH", 0)]  # reduced vowels stay 0
    assert up.word_phones("ænd")[0] == ("AE", 1)
    assert [s for _, s in up.word_phones("əbˈWt") if s is not None] == [0, 1]


LEX = {"hello": "həlˈO", "world": "wˈɜɹld", "the": "ði", "cat": "kˈæt", "a": "A", "water": "wˈɔɾəɹ",
       "of": "ʌv", "but": "bˌʌt", "I": "ˈI", "drink": "dɹˈɪŋk"}


@pytest.fixture(scope="module")
def phones():
    return up.UniAudioPhones(EnglishG2P(dict(LEX)), up.read_phone_table(FILE_TEXT))


def test_sentence_end_to_end(phones):
    vocab = real_vocabulary()
    text = "Hello world, the cats drink water. I drink a cat"
    assert phones.g2p.phonemize(text) == "həlˈO wˈɜɹld, ðə kˈæts dɹˈɪŋk wˈɔɾəɹ. ˈI dɹˈɪŋk ə kˈæt"
    symbols = phones.symbols(text)  # "I" is AY1_S, which the table lacks: AY1_E
    assert symbols == ["SIL", "HH_B", "AH0_I", "L_I", "OW1_E", "W_B", "ER1_I", "L_I", "D_E", "SIL",
                       "DH_B", "AH0_E", "K_B", "AE1_I", "T_I", "S_E", "D_B", "R_I", "IH1_I", "NG_I", "K_E",
                       "W_B", "AO1_I", "T_I", "ER0_E", "SIL", "AY1_E", "D_B", "R_I", "IH1_I", "NG_I", "K_E",
                       "AH0_S", "K_B", "AE1_I", "T_E"]
    indices = phones.indices(text)
    assert indices.dtype == np.int64 and indices.tolist() == [TABLE.index(s) for s in symbols]
    ids = phones.ids(text, vocab)
    np.testing.assert_array_equal(ids, indices + 3201)
    assert vocab.names(ids[:2]) == [f"<phone_{TABLE.index('SIL')}>", f"<phone_{TABLE.index('HH_B')}>"]
    assert up.text_to_phone_ids(text, vocab, phones.g2p, TABLE).tolist() == ids.tolist()
    # the sequence builder takes the indices for a phone key
    seq = vocab.build_sequence("plain_tts", phone_seq=indices, audio_seq=np.zeros((3, 2), np.int64))
    body = seq.ids[6:6 + 3 * len(indices) + 3]
    assert body[0] == vocab.special("<phone_start>") and set(body[3:]) <= set(ids.tolist()) | {
        vocab.special("<phone_end>")}
    without = up.UniAudioPhones(phones.g2p, TABLE, leading_silence=False).symbols(text)
    assert without == symbols[1:]


def test_pauses_only_between_words():
    assert up.phones_to_symbols("ˈA. ˈA, ˈA!", TABLE) == ["SIL", "EY1_S", "SIL", "EY1_S", "SIL", "EY1_S"]
    assert up.phones_to_symbols("ˈA,. ˈA", TABLE) == ["SIL", "EY1_S", "SIL", "EY1_S"]
    assert up.phones_to_symbols("ˈA ˈA.", TABLE, leading_silence=False) == ["EY1_S", "EY1_S"]  # none at the end


def test_unknown_symbols():
    assert up.phones_to_symbols("bˈAx kˈæt", TABLE, leading_silence=False) == ["B_B", "EY1_I", "<UNK>", "K_B",
                                                                               "AE1_I", "T_E"]
    assert up.symbol_indices(up.phones_to_symbols("x", TABLE), TABLE)[-1] == len(TABLE) == 305
    with pytest.raises(InvalidInput, match="'x'"):
        up.phones_to_symbols("bˈAx", TABLE, unknown="error")
    with pytest.raises(InvalidInput, match="unknown"):
        up.phones_to_symbols("bˈA", TABLE, unknown="skip")
    with pytest.raises(InvalidInput, match="unknown"):
        up.UniAudioPhones(EnglishG2P(dict(LEX)), TABLE, unknown="skip")
    with pytest.raises(InvalidInput, match="phonemize"):
        up.UniAudioPhones(object(), TABLE)
    g2p = EnglishG2P(dict(LEX, x="bˈAx"))
    assert up.UniAudioPhones(g2p, TABLE).indices("x").tolist()[-1] == 305
    with pytest.raises(InvalidInput, match="'x'"):
        up.UniAudioPhones(g2p, TABLE, unknown="error").indices("x")


def test_refusals(phones):
    with pytest.raises(InvalidInput, match="str"):
        phones.symbols(b"hello")
    with pytest.raises(InvalidInput):
        phones.symbols("...")
    tiny = UniAudioVocabulary(["<pad>", "<continuous_token>", "<start>", "<end>"] +
                              [f"<phone_{i}>" for i in range(13)])
    with pytest.raises(InvalidInput, match="phone range has 13 ids; the phone table has 306"):
        phones.ids("hello", tiny)
    smaller = up.UniAudioPhones(phones.g2p, TABLE[:-1])  # a table of 304: <UNK> 304, 305 ids
    assert smaller.unk_index == 304
    with pytest.raises(InvalidInput, match="phone range has 306 ids; the phone table has 305"):
        smaller.ids("hello", real_vocabulary())
