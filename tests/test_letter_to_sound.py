"""The letter-to-sound model of the default voice's G2P: CTC decoding, the exported graph against the torch model,
and its run-time wrapper. (Its accuracy is validated on held-out lexicon words by its training recipe; the
embedded voice's model is checked in test_default_voice_embedded.py.)"""
import numpy as np
import pytest

from voxlite.errors import BundleError
from voxlite.text.english_g2p import PHONEMES
from voxlite.text.letter_to_sound import LetterToSound, ctc_greedy, edit_distance


def _logits(ids, vocab):
    out = np.full((len(ids), vocab), -5.0, np.float32)
    out[np.arange(len(ids)), ids] = 5.0
    return out


def test_ctc_greedy_merges_repeats_and_drops_blanks():
    symbols = "abc"
    assert ctc_greedy(_logits([0, 1, 1, 0, 2, 2, 2, 0, 0, 3], 4), symbols) == "abc"
    assert ctc_greedy(_logits([1, 1, 0, 1], 4), symbols) == "aa"  # a blank between two a's keeps both
    assert ctc_greedy(_logits([0, 0, 0], 4), symbols) == ""


@pytest.mark.parametrize("a,b,d", [("", "", 0), ("abc", "abc", 0), ("abc", "", 3), ("kitten", "sitting", 3),
                                   ("mˈOzɑɹt", "mˈOʦɑɹt", 1), ("ab", "ba", 2)])
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d == edit_distance(b, a)


@pytest.fixture(scope="module")
def tiny_model():
    torch = pytest.importorskip("torch")
    from voxlite.models.letter_to_sound import LetterToSound as Model
    from voxlite.models.letter_to_sound import LetterToSoundConfig

    torch.manual_seed(0)
    return Model(LetterToSoundConfig(symbols=PHONEMES, dim=32, ffn_dim=64, n_layers=2, n_heads=2)).eval()


def test_exported_graph_reads_words_as_the_torch_model(tiny_model, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from export.letter_to_sound import export_letter_to_sound
    from voxlite.backends import open_session
    from voxlite.models.letter_to_sound import encode_letters

    path = export_letter_to_sound(tiny_model, tmp_path / "lts.onnx", precision="fp32")  # verifies fp32 itself
    session = open_session(path, backend="cpu", threads=1)
    lts = LetterToSound(session)
    assert lts.letters == tiny_model.config.letters and lts.symbols == PHONEMES
    for word in ("Mozart", "a", "zzz", "o'clock", "antidisestablishmentarianism"):
        with torch.no_grad():
            logits = tiny_model(torch.tensor([encode_letters(word)]))[0].numpy()
        assert logits.shape == ((len(word) + 2) * tiny_model.config.upsample, len(PHONEMES) + 1)
        assert lts(word) == (ctc_greedy(logits, PHONEMES) or None) == tiny_model.read(word)  # read: training's G2P
    assert lts("") is None and lts("123") is None and lts("x" * 49) is None  # nothing to read / not a word


def test_graph_without_its_alphabet_is_refused(tiny_model, tmp_path):
    pytest.importorskip("onnx")
    from export.graphs import export_onnx
    from voxlite.backends import open_session
    from voxlite.models.letter_to_sound import encode_letters

    torch = pytest.importorskip("torch")
    bare = export_onnx(tiny_model, (torch.tensor([encode_letters("word")]),), tmp_path / "bare.onnx",
                       input_names=["letter_ids"], output_names=["logits"],
                       dynamic_axes={"letter_ids": {1: "letters"}, "logits": {1: "positions"}})
    with pytest.raises(BundleError, match="letters / symbols"):
        LetterToSound(open_session(bare, backend="cpu"))
