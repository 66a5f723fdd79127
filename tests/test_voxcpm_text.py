"""VoxCPM text in, audio out: the official tokenization (voxcpm 2.0.3's wrapper, in tests only) reproduced on the
``tokenizers`` library, the sentence splitter, ``VoxCPMModel.synthesize`` / ``stream`` on the tiny exported bundle
(random weights, fp32 only) and ``voxlite say``."""
import importlib.util
import os

import numpy as np
import pytest

pytest.importorskip("tokenizers")

from voxlite.text.sentences import chunk_text, split_sentences  # noqa: E402
from voxlite.text.voxcpm_tokenizer import VoxCPMTokenizer, clean_text  # noqa: E402

TEXTS = ["hello world", "你好世界。", "Hello 你好 world!", "  x  y", "世界你好 hello, 我很好？", "ζ unknown 吗",
         "The voice says hello, 世界!", ""]


@pytest.fixture(scope="module")
def tiny_json():
    pytest.importorskip("torch")
    from export.voxcpm import tiny_tokenizer_json

    return tiny_tokenizer_json(100)


def _official_wrapper(tiny_json):
    """voxcpm 2.0.3's mask_multichar_chinese_tokens around a LlamaTokenizerFast of the same tokenizer."""
    if importlib.util.find_spec("voxcpm") is None:
        pytest.skip("voxcpm not installed")
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer
    from transformers import LlamaTokenizerFast

    from tests.models.official import import_model_module

    utils = import_model_module("voxcpm.model.utils")
    hf = LlamaTokenizerFast(tokenizer_object=Tokenizer.from_str(tiny_json))
    return utils.mask_multichar_chinese_tokens(hf)


def test_tiny_tokenizer_has_multichar_cjk(tiny_json):
    tok = VoxCPMTokenizer.from_str(tiny_json)
    assert tok._multichar  # the wrapper's splitting is exercised
    assert tok.tokenize("你好世界。") == ["你", "好", "世", "界", "。"]
    assert max(tok._vocab.values()) < 100


def test_ids_match_official(tiny_json):
    official = _official_wrapper(tiny_json)
    ours = VoxCPMTokenizer.from_str(tiny_json)
    for text in TEXTS:
        assert ours.tokenize(text) == official.tokenize(text), text
        assert ours.encode(text) == official(text), text
    # with a voice prompt: transcript + target as one string; the target's whitespace cleaned first
    ids, n = ours.encode_pair("hello\n  世界!", "你好吗？")
    assert ids == official("你好吗？" + "hello 世界!") and n == len(official("hello 世界!"))


def test_clean_text():
    assert clean_text("a\n\n b\t c ") == "a b c "


def test_sentences():
    text = 'Hello there. How are you? Fine! 你好。我很好！谢谢？ ok'
    assert split_sentences(text) == ["Hello there.", "How are you?", "Fine!", "你好。", "我很好！", "谢谢？", "ok"]
    assert chunk_text(text, 1000) == ["Hello there. How are you? Fine! 你好。我很好！谢谢？ok"]
    assert chunk_text(text, 12) == ["Hello there.", "How are you?", "Fine! 你好。", "我很好！谢谢？ok"]
    long = "a very long sentence, with many words and no end at all"
    assert chunk_text(long, 10) == ["a very", "long", "sentence,", "with many", "words and", "no end at", "all"]
    assert chunk_text(long, 20) == ["a very long", "sentence, with many", "words and no end at", "all"]
    assert chunk_text("你好，世界，今天好，我们去吧。", 6) == ["你好，世界，", "今天好，", "我们去吧。"]
    assert chunk_text("我" * 25, 10) == ["我" * 10, "我" * 10, "我" * 5]
    assert chunk_text("  ", 10) == []


@pytest.mark.parametrize("text, sentences", [
    ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
    ("Use a tool, e.g. a hammer. Or i.e. this one.", ["Use a tool, e.g. a hammer.", "Or i.e. this one."]),
    ("Mrs. Brown (Prof. Lee's aide) left St. Louis. Bye!", ["Mrs. Brown (Prof. Lee's aide) left St. Louis.", "Bye!"]),
    ("J. R. R. Tolkien wrote it. Read it.", ["J. R. R. Tolkien wrote it.", "Read it."]),
    ("Apples, pears, etc. are fruit. Buy some etc. Then go.", ["Apples, pears, etc. are fruit.", "Buy some etc.",
                                                             "Then go."]),
    ("Room No. 5 at 9 a.m. sharp. It is in the U.S. Really.", ["Room No. 5 at 9 a.m. sharp.",
                                                               "It is in the U.S.", "Really."]),
    ("He said no. Then he left. It was 3.5. Fine.", ["He said no.", "Then he left.", "It was 3.5.", "Fine."]),
    ('"Stop," said Mr. "Ok." Next.', ['"Stop," said Mr. "Ok."', "Next."]),
])
def test_abbreviations_do_not_end_sentences(text, sentences):
    assert split_sentences(text) == sentences
    assert chunk_text(text, 1000) == [" ".join(sentences)]


# -- the tiny bundle --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundle(tmp_path_factory, tiny_json):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from export.voxcpm import build, export_voxcpm

    torch.set_num_threads(1)
    model, vae_parts = build(None, "tiny", 0)
    out = tmp_path_factory.mktemp("voxcpm-text") / "bundle"
    export_voxcpm(model, vae_parts, out, precisions=("fp32",), log=lambda *_: None, tokenizer=tiny_json.encode())
    return out


@pytest.fixture(scope="module")
def model(bundle):
    import voxlite

    return voxlite.load(bundle, backend="cpu")


def test_synthesize_matches_tokens_and_stream(model):
    m = model
    tok = m.tokenizer
    audio = m.synthesize("hello 世界!", steps=2, seed=3)
    ids = tok.encode("hello 世界!")
    ref = m.synthesize_tokens(ids, steps=2, seed=3, max_patches=min(len(ids) * 6 + 10, 2000))
    np.testing.assert_allclose(audio.samples, ref.samples, atol=1e-6)
    assert audio.sample_rate == m.sample_rate
    chunks = list(m.stream("hello 世界!", steps=2, seed=3))
    assert all(len(c) == m.patch_size * m.hop_length for c in chunks)
    np.testing.assert_allclose(np.concatenate(chunks), audio.samples, atol=1e-4)


def test_multi_sentence_and_prompt(model, tmp_path):
    from voxlite.audio import Audio

    m = model
    seen = []
    text = "hello world. 你好世界。this is a test! " * 3  # 51 tokens; the tiny model's chunks hold 21
    audio = m.synthesize(text, steps=1, progress=lambda i, n, s: seen.append((i, n)))
    n = seen[0][1]
    assert n > 1 and seen == [(i, n) for i in range(n)]
    streamed = list(m.stream(text, steps=1))
    np.testing.assert_allclose(np.concatenate(streamed), audio.samples, atol=1e-4)
    # A prompt given as a file is the same prompt as the samples it holds: the same audio comes out. (The WAV is
    # 16-bit, so the array side is the file's own samples, read back.)
    from voxlite.audio import read_audio

    prompt = Audio(np.sin(np.arange(m.sample_rate // 2) * 0.05).astype(np.float32) * 0.3, m.sample_rate)
    prompt.save(tmp_path / "p.wav")
    stored = read_audio(tmp_path / "p.wav")
    assert stored.sample_rate == m.sample_rate and np.abs(stored.samples - prompt.samples).max() < 1e-4
    a = m.synthesize("hello", prompt_audio=stored, prompt_text="你好", steps=1)
    b = m.synthesize("hello", prompt_audio=str(tmp_path / "p.wav"), prompt_text="你好", steps=1)
    assert a.duration > 0
    np.testing.assert_array_equal(b.samples, a.samples)
    # and the prompt is heard: another recording (or none) changes the audio
    other = Audio(np.sin(np.arange(m.sample_rate // 2) * 0.11).astype(np.float32) * 0.3, m.sample_rate)
    c = m.synthesize("hello", prompt_audio=other, prompt_text="你好", steps=1)
    plain = m.synthesize("hello", steps=1)
    for x in (c, plain):
        assert x.samples.shape != a.samples.shape or not np.allclose(x.samples, a.samples, atol=1e-3)


def test_invalid_input(model):
    from voxlite.audio import Audio
    from voxlite.errors import InvalidInput
    from voxlite.pipelines.voxcpm import MAX_PROMPT_SECONDS, MAX_TEXT_CHARS

    prompt = Audio(np.zeros(100, np.float32), model.sample_rate)
    long_prompt = Audio(np.zeros(int(model.sample_rate * (MAX_PROMPT_SECONDS + 1)), np.float32), model.sample_rate)
    for kwargs, match in [(dict(text=""), "empty"), (dict(text=" \n "), "empty"),
                          (dict(text="a" * (MAX_TEXT_CHARS + 1)), "too long"),
                          (dict(text="hi", prompt_audio=prompt), "both"),
                          (dict(text="hi", prompt_text="hi"), "both"),
                          (dict(text="hi", prompt_audio=long_prompt, prompt_text="hi"), "limit"),
                          (dict(text="hi", steps=0), "steps")]:
        with pytest.raises(InvalidInput, match=match):
            model.synthesize(**kwargs)
        with pytest.raises(InvalidInput, match=match):
            next(model.stream(**kwargs))


def test_bundle_without_tokenizer(model, tmp_path):
    """A bundle without a text component takes token ids only; text input is a clear BundleError."""
    import json
    import shutil

    import voxlite
    from voxlite.errors import BundleError

    text = model.bundle.component("text")
    assert text.kind == "text" and text.hparams == {"type": "hf-tokenizers"} and set(text.files) == {"tokenizer"}
    bare = tmp_path / "bare"
    shutil.copytree(model.bundle.root, bare)
    manifest = json.loads((bare / "manifest.json").read_text())
    del manifest["components"]["text"]
    (bare / "manifest.json").write_text(json.dumps(manifest))
    ids_only = voxlite.load(bare, backend="cpu")
    with pytest.raises(BundleError, match="no text front end"):
        ids_only.synthesize("hello")
    assert len(ids_only.synthesize_tokens([5, 6, 7], max_patches=2).samples) > 0


# -- voxlite say --------------------------------------------------------------------------------------------------
def test_say_writes_wav(bundle, tmp_path, monkeypatch, capsys):
    import soundfile as sf

    from voxlite.cli.main import main

    monkeypatch.delenv("VOXLITE_DEFAULT_BUNDLE", raising=False)
    out = tmp_path / "out.wav"
    assert main(["say", "hello world. 你好。", "-o", str(out), "--bundle", str(bundle), "--steps", "1",
                 "--backend", "cpu"]) == 0
    data, rate = sf.read(out)
    from voxlite.bundle import open_bundle

    assert len(data) > 0 and rate == open_bundle(bundle).sample_rate
    out2 = tmp_path / "stream.wav"
    monkeypatch.setenv("VOXLITE_DEFAULT_BUNDLE", str(bundle))
    assert main(["say", "hello world. 你好。", "-o", str(out2), "--steps", "1", "--stream", "-q",
                 "--backend", "cpu"]) == 0
    data2, _ = sf.read(out2)
    np.testing.assert_allclose(data2, data, atol=2 / 32768)


def test_say_errors_leave_no_file(bundle, tmp_path, monkeypatch, capsys):
    from voxlite.cli.main import main

    monkeypatch.setenv("VOXLITE_DEFAULT_BUNDLE", str(tmp_path / "missing-bundle"))
    out = tmp_path / "out.wav"
    cases = [(["say", "hi", "-o", str(out)], "no bundle at"),
             (["say", "   ", "-o", str(out), "--bundle", str(bundle)], "empty"),
             (["say", "hi", "-o", str(out), "--bundle", str(bundle), "--voice", "x.wav"], "--voice-text"),
             (["say", "hi", "-o", str(out), "--bundle", str(bundle), "--voice", str(tmp_path / "missing.wav"),
               "--voice-text", "hi"], "no audio file"),
             (["say", "hi", "-o", str(tmp_path / "out.mp3"), "--bundle", str(bundle), "--steps", "1"], "cannot write"),
             (["say", "hi", "-o", str(out), "--bundle", str(bundle), "--flow-start", "0.5"], "no prior head"),
             (["say", "hi", "-o", str(out), "--bundle", str(bundle), "--flow-start", "2"], "flow_start"),
             (["say", "hi", "-o", str(tmp_path / "out.mp3"), "--bundle", str(bundle), "--steps", "1", "--stream"],
              "cannot write")]
    for argv, message in cases:
        assert main(argv) == 1, argv
        assert message in capsys.readouterr().err, argv
    assert os.listdir(tmp_path) == []


def test_say_subprocess_never_imports_torch(bundle, tmp_path):
    """The real entry point: text -> wav with no torch / transformers / onnx in the process; exit 1 on errors."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = tmp_path / "out.wav"
    code = ("import sys\nfrom voxlite.cli.main import main\n"
            f"rc = main(['say', '你好 hello.', '-o', {str(out)!r}, '--bundle', {str(bundle)!r}, '--steps', '1', "
            "'--backend', 'cpu', '-q'])\n"
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'onnx', 'transformers'))\n"
            "print(bad)\nsys.exit(rc or (1 if bad else 0))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.is_file()
    r = subprocess.run([sys.executable, "-m", "voxlite.cli.main", "say", "", "-o", str(tmp_path / "x.wav"),
                        "--bundle", str(bundle)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1 and "text is empty" in r.stderr and not (tmp_path / "x.wav").exists()


def test_progress_display(capsys):
    from voxlite.cli.say import _Progress

    p = _Progress(True, 100)
    p.sentence(0, 2, "a.")
    p.add(150)
    p.sentence(1, 2, "b.")
    p.done()
    err = capsys.readouterr().err
    assert "sentence 2/2, 1.5 s of audio" in err and err.endswith("\n")
    quiet = _Progress(False, 100)
    quiet.sentence(0, 2, "a.")
    quiet.add(10)
    quiet.done()
    single = _Progress(True, 100)
    single.sentence(0, 1, "a.")
    single.done()
    assert capsys.readouterr().err == ""


def test_prompt_stream_equals_synthesize(model):
    """With a voice prompt, both decode from the prompt's last patches (left context) and drop their audio."""
    from voxlite.audio import Audio

    m = model
    prompt = Audio(np.sin(np.arange(m.sample_rate) * 0.05).astype(np.float32) * 0.3, m.sample_rate)
    a = m.synthesize("hello", prompt_audio=prompt, prompt_text="你好", steps=1, seed=2)
    b = np.concatenate(list(m.stream("hello", prompt_audio=prompt, prompt_text="你好", steps=1, seed=2)))
    np.testing.assert_allclose(b, a.samples, atol=1e-4)
    assert len(a.samples) % (m.patch_size * m.hop_length) == 0
