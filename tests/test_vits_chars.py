"""The torch-free VITS character tokenizer vs transformers' ``VitsTokenizer`` on a small local vocab.json: identical
ids for varied strings (case, punctuation, digits, unknown characters, added tokens inside the text, empty), with
and without blanks and normalisation, padded and truncated batches, a saved folder read back, and the phonemizer /
uroman requirements raised as typed errors."""
import itertools
import json
import sys

import pytest

from voxlite.errors import BackendUnavailable, FrontendUnavailable
from voxlite.text.vits_chars import AddedToken, VitsCharTokenizer, mark_end

SYMBOLS = ["_", " ", "!", "'", ",", ".", "?", "-", "A"] + list("abcdefghijklmnopqrstuvwxyz") + ["k1", "<unk>", "ɑ", "ə"]
VOCAB = {s: i for i, s in enumerate(SYMBOLS)}
TEXTS = ["", "   ", "Hello, World!", "A man, a plan: PANAMA.", "it's 42 degrees -- or 3.5?", "Ünïcödé ɑə straße İ",
         "tab\tand\nnewline", "a_b__c", "x<unk>y <unk>", "<pad>pad", "k1k2 K1", "  leading and trailing  ",
         "ALL CAPS A", "emoji 🙂 ok", "kick the can", "\u00a0nbsp", "1234567890"]


@pytest.fixture(scope="module")
def vocab_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vits_vocab") / "vocab.json"
    path.write_text(json.dumps(VOCAB, ensure_ascii=False), encoding="utf-8")
    return str(path)


def _reference(vocab_file, **options):
    transformers = pytest.importorskip("transformers")
    return transformers.VitsTokenizer(vocab_file, phonemize=False, **options)


# pad "k" (as facebook/mms-tts-eng has) is a character of the text too: it is then cut out as an added token
@pytest.mark.parametrize("pad", ["_", "<pad>", "k"])
@pytest.mark.parametrize("add_blank,normalize", list(itertools.product([True, False], [True, False])))
def test_ids_match_transformers(vocab_file, pad, add_blank, normalize):
    options = dict(pad_token=pad, add_blank=add_blank, normalize=normalize)
    reference, ours = _reference(vocab_file, **options), VitsCharTokenizer(VOCAB, phonemize=False, **options)
    assert (ours.pad_id, ours.unk_id) == (reference.pad_token_id, reference.unk_token_id)
    for text in TEXTS:
        assert ours.encode(text) == reference(text).input_ids, text
    for padding, length in (("max_length", 20), ("longest", 12)):
        want = reference(TEXTS, padding=padding, max_length=length, truncation=True)
        got = ours(TEXTS, padding=padding, max_length=length)
        assert got == {"input_ids": want.input_ids, "attention_mask": want.attention_mask}


def test_saved_folder_with_flagged_added_tokens(vocab_file, tmp_path):
    from transformers import AddedToken as HFAddedToken

    reference = _reference(vocab_file, pad_token="_", add_blank=True, normalize=False)
    reference.add_tokens([HFAddedToken("<x>", lstrip=True, rstrip=True), HFAddedToken("zz", single_word=True)])
    reference.save_pretrained(tmp_path)
    ours = VitsCharTokenizer.from_dir(tmp_path)
    assert ours._flags["<x>"] == AddedToken("<x>", lstrip=True, rstrip=True)
    for text in TEXTS + ["a <x> b", "a<x>b", "zz top", "fizz zz", "a zzb"]:
        assert ours.encode(text) == reference(text).input_ids, text


def test_phonemize_without_phonemizer_is_a_typed_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "phonemizer", None)  # makes `import phonemizer` fail
    tokenizer = VitsCharTokenizer(VOCAB, pad_token="_")  # phonemize defaults to true, as in transformers
    with pytest.raises(FrontendUnavailable, match="phonemizer") as raised:
        tokenizer.encode("hello")
    assert isinstance(raised.value, BackendUnavailable)


def test_uroman_without_uroman_is_a_typed_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "uroman", None)
    tokenizer = VitsCharTokenizer(VOCAB, pad_token="_", phonemize=False, is_uroman=True)
    assert tokenizer.encode("plain ascii") == VitsCharTokenizer(VOCAB, pad_token="_", phonemize=False).encode(
        "plain ascii")  # romanisation only runs on non-ASCII text
    with pytest.raises(FrontendUnavailable, match="uroman"):
        tokenizer.encode("привет")


def test_mark_end_as_the_pipeline_does():
    ids, mask = mark_end([[5, 6, 0, 0], [5, 6, 7, 8], [0, 0, 0, 0]], [[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    assert ids == [[5, 6, 182, 0], [5, 6, 7, 8], [182, 0, 0, 0]]
    assert mask == [[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]]


def test_phonemized_ids_match_transformers(tmp_path):
    """The published speech checkpoints' path: espeak phonemes (phonemizer + espeak-ng, both optional), then the
    IPA symbols' ids, as transformers' VitsTokenizer gives them."""
    phonemizer = pytest.importorskip("phonemizer")
    transformers = pytest.importorskip("transformers")
    try:
        phonemizer.phonemize("test", language="en-us", backend="espeak")
    except RuntimeError:
        pytest.skip("espeak-ng is not installed")
    symbols = ["_"] + list(" ;:,.!?¡¿—…\"«»“”abcdefghijklmnopqrstuvwxyz"
                           "ɑɐɒæɓʙβɔɕçɗɖðʤəɘɚɛɜɝɞɟʄɡɠɢʛɦɧħɥʜɨɪʝɭɬɫɮʟɱɯɰŋɳɲɴøɵɸθœɶʘɹɺɾɻʀʁɽʂʃʈʧʉʊʋⱱʌɣɤʍχʎʏʑʐʒʔʡʕʢǀǁǂǃˈˌːˑʼʴʰʱʲʷˠˤ˞↓↑→↗↘'̩'ᵻ")
    vocab = {s: i for i, s in enumerate(dict.fromkeys(symbols))}
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    reference = transformers.VitsTokenizer(str(path), pad_token="_", add_blank=False, phonemize=True)
    ours = VitsCharTokenizer(vocab, pad_token="_", add_blank=False, phonemize=True)
    for text in ["Wish you have a good day.", "The quick brown fox, 42 times!", "Hello?  World", ""]:
        assert ours.encode(text) == reference(text).input_ids, text
