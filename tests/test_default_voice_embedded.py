"""The default voice embedded in the wheel (``voxlite/voices/default``): loads with no arguments, speaks, streams,
and refuses what it cannot do. Its quality is measured by benchmarks/quality.py, not here."""
import numpy as np
import pytest

import voxlite
from voxlite.errors import InvalidInput
from voxlite.voices import EMBEDDED, default_bundle

pytestmark = pytest.mark.skipif(not (EMBEDDED / "manifest.json").is_file(), reason="no embedded default voice")


@pytest.fixture(scope="module")
def voice():
    return voxlite.load(backend="cpu", threads=1)


def test_default_is_the_embedded_bundle(monkeypatch):
    monkeypatch.delenv("VOXLITE_DEFAULT_BUNDLE", raising=False)
    assert default_bundle() == EMBEDDED
    size = sum(f.stat().st_size for f in EMBEDDED.rglob("*") if f.is_file())
    assert size < 50e6, f"embedded default voice is {size / 1e6:.1f} MB"


def test_patches_come_from_the_prior_head(voice):
    """flow_start 0 (the bundle's default): each patch is the prior head's output as it is, so no noise enters and
    the seed changes nothing. A solve from noise (flow_start 1, the LocDiT) still runs, and does depend on it."""
    assert voice.has_prior and voice.defaults["flow_start"] == 0.0
    text = "Hello there."
    prior = voice.synthesize(text, seed=0).samples
    np.testing.assert_array_equal(voice.synthesize(text, seed=7).samples, prior)
    deep = voice.synthesize(text, seed=0, flow_start=1.0, steps=2).samples
    deep_other = voice.synthesize(text, seed=7, flow_start=1.0, steps=2).samples
    assert np.isfinite(deep).all() and len(deep) / voice.sample_rate > 0.3

    def same(x, y):
        return x.shape == y.shape and np.allclose(x, y, atol=1e-3)

    assert not same(deep, prior) and not same(deep, deep_other)


def test_speaks(voice):
    audio = voice.synthesize("Hello there, this is a test.", seed=0)
    assert audio.sample_rate == 24000
    x = audio.samples
    assert np.isfinite(x).all() and 0.5 < audio.duration < 8.0
    assert np.sqrt(np.mean(x ** 2)) > 1e-3  # not silence


def test_reads_its_text(voice):
    """Length follows the text (a model that ignores its text babbles for the same ~2 s whatever it is given)."""
    short = voice.synthesize("Yes.", seed=0).duration
    long = voice.synthesize("The committee will publish its final report on the third of November, after the "
                            "public hearings.", seed=0).duration
    assert long > 3 * short and long > 3.0


def test_streams_the_same_audio(voice):
    """The stream is the offline audio, chunk by chunk: the same length, the same samples up to float rounding
    (each streamed window covers the vocoder's receptive field, 28 frames left and 29 right, and the int8 decoder
    keeps its activations float, so no rounding depends on the window). Measured: max abs difference 4.4e-10
    ("Good morning.") and 2.5e-10 ("Yes."), samples peaking at 0.69 and 0.79."""
    for text, seed in (("Good morning.", 1), ("Yes.", 3)):
        chunks = list(voice.stream(text, seed=seed))
        offline = voice.synthesize(text, seed=seed).samples
        assert len(chunks) > 1 and sum(len(c) for c in chunks) == len(offline)
        np.testing.assert_allclose(np.concatenate(chunks), offline, rtol=0, atol=1e-5, err_msg=text)


def test_refusals(voice):
    with pytest.raises(InvalidInput):
        voice.synthesize("   ")
    with pytest.raises(InvalidInput):
        voice.synthesize("x" * 6000)
    with pytest.raises(InvalidInput, match="no voice prompt"):
        voice.synthesize("hello", prompt_audio=np.zeros(24000, np.float32), prompt_text="hello")


def test_reads_words_its_lexicon_lacks(voice):
    """Names the lexicon lacks go to the bundled letter-to-sound model, not letter by letter ("M O Z A R T")."""
    from voxlite.text.letter_to_sound import edit_distance

    g2p = voice.tokenizer
    assert g2p.letter_to_sound is not None
    for word, expected in (("Mozart", "mˈOzɑɹt"), ("Kasparov", "kˈæspəɹɔv"), ("Cyril", "sˈɪɹəl")):
        assert g2p._entry(word) is None  # not in the lexicon: the model reads it
        got = g2p.word(word)
        assert " " not in got and edit_distance(got, expected) <= 2, (word, got)


def test_int8_graphs_are_blockwise():
    """The acoustic graphs scale weights and activations per block; the vocoder decoder has block-wise weights and
    float activations (``accuracy_level`` 1); none is dynamic int8."""
    import json

    raw = json.loads((EMBEDDED / "manifest.json").read_text())
    assert sorted(raw["provenance"]["int8_blockwise"]) == ["locdit", "prefill", "step"]
    assert raw["provenance"]["int8_weight_only"] == ["decoder"]
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    graphs = {**raw["components"]["lm"]["graphs"], "decoder": raw["components"]["codec"]["graphs"]["decoder"]}
    for name, level in (("step", 4), ("decoder", 1)):
        graph = onnx.load(str(EMBEDDED / graphs[name]["files"]["int8"]), load_external_data=False).graph
        nbits = [n for n in graph.node if n.op_type == "MatMulNBits"]
        assert nbits and not any(n.op_type == "MatMulInteger" for n in graph.node), name
        levels = {helper.get_attribute_value(a) for n in nbits for a in n.attribute if a.name == "accuracy_level"}
        assert levels == {level}, (name, levels)
