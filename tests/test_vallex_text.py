"""VALL-E X's English text input on voxlite's G2P (``voxlite.text.vallex_phonemes``): misaki symbols rewritten as
VALL-E X's english_to_ipa2 writes them, ids from a tokenizers-layout vocabulary, the bundle's text component
(``export.vallex_text``), and, where eng_to_ipa is installed, agreement with the official front end."""
import importlib.util
import json
import re

import pytest

from voxlite.errors import BundleError, InvalidInput
from voxlite.text import lexicon
from voxlite.text.english_g2p import EnglishG2P
from voxlite.text.vallex_phonemes import SYMBOLS, VallEXPhonemes, read_vocab

# VALL-E X's bpe_69.json: five special tokens, then one id per symbol (5..69)
SPECIAL = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
VALLEX_SYMBOLS = list("!#*,-.=?NQ^_`abdefghijklmnopstuvwxyz~æçðŋɑɔəɛɥɪɫɯɸɹɾʃʊʑʒʰˈˌθ…⁼↑→↓")

# A hand-made lexicon in misaki's symbols, so these tests pin the mapping, not misaki's data.
LEX = {"hello": "həlˈO", "world": "wˈɜɹld", "call": "kˈɔl", "will": "wˈɪl", "apple": "ˈæpᵊl", "little": "lˈɪɾᵊl",
       "tomato": "təmˈAtO", "mistake": "məstˈAk", "away": "əwˈA", "October": "ɑktˈObəɹ", "moon": "mˈun",
       "beam": "bˈim", "play": "plˈA", "boy": "bˈY", "how": "hˈW", "my": "mˈI", "go": "ɡˈO", "judge": "ʤˈʌʤ",
       "church": "ʧˈɜɹʧ", "button": "bˈʌʔn", "want": "wˈɑnt", "yes": "jˈɛs", "the": "ði", "a": "A", "I": "ˈI",
       "cat": "kˈæt", "person": "pˈɜɹsᵊn", "around": "əɹˈWnd", "fire": "fˈIəɹ", "idea": "Idˈiə", "say": "sˈA",
       "wolfl": "wˈʊlfl"}  # wolfl: made up, two l's after the last vowel


def _vocab_json(symbols) -> str:
    vocab = {s: i for i, s in enumerate(SPECIAL + list(symbols))}
    return json.dumps({"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
                       "normalizer": None, "pre_tokenizer": None, "post_processor": None, "decoder": None,
                       "model": {"type": "BPE", "dropout": None, "unk_token": "[UNK]",
                                 "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
                                 "vocab": vocab, "merges": []}},
                      ensure_ascii=False)


@pytest.fixture(scope="module")
def vocab_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("vallex") / "bpe_69.json"
    path.write_text(_vocab_json(VALLEX_SYMBOLS), encoding="utf-8")
    return path


@pytest.fixture
def front(vocab_path):
    return VallEXPhonemes(EnglishG2P(dict(LEX)), read_vocab(vocab_path))


@pytest.mark.parametrize("text,expected", [
    ("Hello world.", "həˈloʊ_wəɹɫd."),           # stress before the onset l; monosyllable unmarked; ER; dark l
    ("hello", "həˈloʊ."),                         # a final "." when the segment ends without punctuation
    ("Hello?", "həˈloʊ?"),
    ("Hello; world: yes!", "həˈloʊ,_wəɹɫd,_jɛs!"),  # ; and : are not in the vocabulary: ","
    ("I will call.", "aɪ_wɪɫ_kɔɫ."),              # dark l at a word's end
    ("apple little", "ˈæpəɫ_ˈlɪtəɫ."),            # ᵊ -> ə, flap -> t, mark at the word start
    ("wolfl", "wʊɫfl."),                          # only the first l after the last vowel (as mark_dark_l)
    ("tomato", "təˈmeɪtoʊ."),                     # a nasal onset
    ("mistake", "məˈsteɪk."),                     # the cluster st stays whole in the onset
    ("away", "əˈweɪ."),                           # w starts the onset
    ("October", "ɑkˈtoʊbəɹ."),                    # k t: the syllable starts at the stop
    ("moonbeam", "ˈmunˌbim."),                    # compound: secondary stress placed the same way
    ("Play, boy! How my go?", "pleɪ,_bɔɪ!_haʊ_maɪ_goʊ?"),  # diphthongs; ɡ -> ASCII g
    ("judge church", "dʒədʒ_tʃəɹtʃ."),             # affricates; ʌ -> ə
    ("button", "ˈbətən."),                        # ʔ before syllabic n: CMU T AH0 N
    ("wanted", "ˈwɑntɪd."),                       # ᵻ -> ɪ
    ("person", "ˈpəɹsən."),
    ("around", "əˈɹaʊnd."),                       # ə then ɹ + vowel: not ER
    ("fire", "faɪəɹ."),                           # aɪ ER: one syllable for eng_to_ipa, so no mark
    ("idea", "aɪˈdiə."),                          # i ə: two syllables (hiatus)
    ("the cat, a cat", "ðə_kæt,_ə_kæt."),
    ("I say [[təmˈAtO]].", "aɪ_seɪ_təˈmeɪtoʊ."),  # inline phonemes go through the same mapping
])
def test_phonemes(front, text, expected):
    assert front.phonemes(text) == expected


def test_ids(front):
    assert front.encode("Hello world.") == [24, 48, 62, 28, 31, 58, 16, 37, 48, 55, 52, 20, 10]
    vocab = {s: i for i, s in enumerate(SPECIAL + VALLEX_SYMBOLS)}
    for text in ("Play, boy! How my go?", "judge church", "I will call."):
        assert front.encode(text) == [vocab[c] for c in front.phonemes(text)]
    assert front.count("Hello world.") == 13 and front.count("...") == 0
    assert front.language_id == 0


def test_ids_as_the_tokenizers_library(front, vocab_path):
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(vocab_path))
    for text in ("Hello world.", "Play, boy! How my go?", "judge church", "apple little"):
        assert tok.encode(front.phonemes(text)).ids == front.encode(text)


def test_prompt_and_text_are_separate_segments(front):
    ids, n = front.encode_pair("world", "hello")
    assert ids == front.encode("hello") + front.encode("world") and n == len(front.encode("world")) == 6
    assert front.phonemes("hello") + front.phonemes("world") == "həˈloʊ.wəɹɫd."  # each segment ends in "."
    assert front.encode_pair("world") == (front.encode("world"), 6)
    assert front.encode_pair("world", None) == front.encode_pair("world", "")


def test_empty_text_is_refused(front):
    for text in ("", "   ", "!?", "..."):
        with pytest.raises(InvalidInput):
            front.phonemes(text)
        with pytest.raises(InvalidInput):
            front.encode_pair(text, "hello")
    with pytest.raises(InvalidInput):
        front.encode_pair("hello", "  ")
    with pytest.raises(InvalidInput):
        front.count(None)


def test_user_pronunciations(front):
    assert front.supports_phonemes
    assert front.add_lexicon({"voxlite": "vˈɑkslIt"}) == 1
    assert front.phonemes("voxlite") == "ˈvɑkslaɪt."


def test_vocab_missing_a_symbol_is_refused(tmp_path):
    assert SYMBOLS <= set(VALLEX_SYMBOLS)
    for missing in ("ɫ", "_", "g", "ˌ"):
        path = tmp_path / f"vocab-{ord(missing)}.json"
        path.write_text(_vocab_json([s for s in VALLEX_SYMBOLS if s != missing]), encoding="utf-8")
        with pytest.raises(BundleError, match=missing):
            VallEXPhonemes(EnglishG2P(dict(LEX)), read_vocab(path))
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "flat.json").write_text(json.dumps({"a": 1}), encoding="utf-8")
    for name in ("bad.json", "flat.json", "absent.json"):
        with pytest.raises(BundleError):
            read_vocab(tmp_path / name)


# -- the bundle's text component -------------------------------------------------------------------------------
def _write_bundle(out, vocab, lex_file, **kwargs):
    from export.vallex_text import write_vallex_text_component
    from voxlite.bundle import BundleWriter

    w = BundleWriter(out, model_type="graph", name="vallex-text", sample_rate=None)
    write_vallex_text_component(w, vocab, lexicon=lex_file, **kwargs)
    return w.finish()


def test_bundle_round_trip(tmp_path, vocab_path):
    from voxlite.bundle import open_bundle
    from voxlite.text.frontends import load_front_end

    lexicon.save(tmp_path / "lexicon.json", LEX, {"package": "test"})
    bundle = open_bundle(_write_bundle(tmp_path / "bundle", vocab_path, tmp_path / "lexicon.json"))
    assert set(bundle.component("text").files) == {"vocab", "lexicon"}
    front = load_front_end(bundle, "text", None)
    assert isinstance(front, VallEXPhonemes)
    assert front.phonemes("Hello world.") == "həˈloʊ_wəɹɫd."
    assert front.encode_pair("world", "hello") == VallEXPhonemes(EnglishG2P(dict(LEX)),
                                                                 read_vocab(vocab_path)).encode_pair("world", "hello")


def test_bundle_with_the_default_lexicon(tmp_path, vocab_path):
    """Without a lexicon the component gets the default voice's: misaki's US gold + silver."""
    from voxlite.bundle import open_bundle
    from voxlite.text.frontends import load_front_end

    if importlib.util.find_spec("misaki") is None:
        pytest.skip("misaki's data not installed")
    front = load_front_end(open_bundle(_write_bundle(tmp_path / "bundle", vocab_path, None)), "text", None)
    assert front.phonemes("Hello world.") == "həˈloʊ_wəɹɫd."
    assert front.phonemes("The weather is beautiful today.") == "ðə_ˈwɛðəɹ_ɪz_ˈbjutəfəɫ_təˈdeɪ."


def test_export_refuses_a_foreign_vocab(tmp_path):
    from export import ExportError

    lexicon.save(tmp_path / "lexicon.json", LEX, {"package": "test"})
    (tmp_path / "v.json").write_text(_vocab_json([s for s in VALLEX_SYMBOLS if s != "ɫ"]), encoding="utf-8")
    with pytest.raises(ExportError, match="ɫ"):
        _write_bundle(tmp_path / "bundle", tmp_path / "v.json", tmp_path / "lexicon.json")


def test_bundle_with_letter_to_sound(tmp_path, vocab_path):
    """Words the lexicon lacks go to the bundle's letter-to-sound graph (random weights here), as EnglishG2P's."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from export.letter_to_sound import export_letter_to_sound
    from voxlite.bundle import open_bundle
    from voxlite.models.letter_to_sound import LetterToSound, LetterToSoundConfig
    from voxlite.pipelines.sessions import GraphSessions
    from voxlite.text.english_g2p import PHONEMES
    from voxlite.text.frontends import load_front_end

    torch.manual_seed(0)
    lts = LetterToSound(LetterToSoundConfig(symbols=PHONEMES, dim=32, ffn_dim=64, n_layers=1, n_heads=2)).eval()
    graph = export_letter_to_sound(lts, tmp_path / "lts.onnx", precision="fp32")
    lexicon.save(tmp_path / "lexicon.json", LEX, {"package": "test"})
    bundle = open_bundle(_write_bundle(tmp_path / "bundle", vocab_path, tmp_path / "lexicon.json",
                                       letter_to_sound=graph))
    front = load_front_end(bundle, "text", GraphSessions(bundle, backend="cpu"))
    assert front.g2p.letter_to_sound is not None
    word = front.g2p.word("zorblax")
    assert word == front.g2p.letter_to_sound("zorblax")
    if word.strip("ˈˌ"):
        assert front.phonemes("zorblax")  # whatever a random model reads maps onto VALL-E X's symbols


# -- agreement with the official front end ---------------------------------------------------------------------
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "I would like a cup of coffee, please.",
    "The weather is beautiful today.",
    "Where did you put the keys?",
    "We are going to the market tomorrow morning.",
    "He opened the window and looked outside.",
    "Music can change the way we feel.",
    "Please call me when you arrive at the station.",
    "The children played in the garden all afternoon.",
    "Reading books is a wonderful habit.",
    "Can you help me carry these boxes?",
    "The train was late again this evening.",
    "My sister lives in a small house near the river.",
    "Thank you very much for your kind help!",
    "The teacher explained the lesson very clearly.",
    "It is important to drink enough water every day.",
    "They built a new bridge across the valley.",
    "Everyone laughed at the funny story.",
    "The little girl held her mother's hand.",
]


def _english_to_ipa2(text: str) -> str:
    """VALL-E X's english_to_ipa2 + clean_one + the space replacement, on plain sentences (no numbers or
    abbreviations, so its normaliser has nothing to do)."""
    import eng_to_ipa

    ipa = re.sub(r"\s+", " ", eng_to_ipa.convert(text.lower()))
    ipa = re.sub(r"l([^aeiouæɑɔəɛɪʊ ]*(?: |$))", lambda m: "ɫ" + m.group(1), ipa)
    ipa = ipa.replace("r", "ɹ").replace("ʤ", "dʒ").replace("ʧ", "tʃ").replace("...", "…").rstrip()
    if ipa[-1] not in ".,!?-…~":
        ipa += "."
    return ipa.replace(" ", "_")


@pytest.mark.skipif(importlib.util.find_spec("eng_to_ipa") is None, reason="eng_to_ipa (pip install eng-to-ipa)")
def test_agreement_with_english_to_ipa2(vocab_path):
    """Per-symbol similarity with the official front end on plain sentences, over misaki's real lexicon: what is
    left is the two dictionaries' differences (misaki's and CMUdict's readings and stress)."""
    from voxlite.text.letter_to_sound import edit_distance

    try:
        entries, _ = lexicon.from_misaki()
    except InvalidInput:
        pytest.skip("misaki's data not installed")
    front = VallEXPhonemes(EnglishG2P(entries), read_vocab(vocab_path))
    errors = total = exact = 0
    for text in SENTENCES:
        want, got = _english_to_ipa2(text), front.phonemes(text)
        assert "*" not in want, want  # a word CMUdict lacks: pick another sentence
        errors, total, exact = errors + edit_distance(got, want), total + len(want), exact + (got == want)
    similarity = 1 - errors / total
    print(f"\nVALL-E X symbols: {similarity:.1%} per-symbol similarity to english_to_ipa2 "
          f"({errors} edits in {total} symbols; {exact}/{len(SENTENCES)} sentences identical)")
    assert similarity >= 0.85
