"""The default voice's bundle path at tiny size with random weights: a small VoxCPM over normalised log-mel (rate-scaled
positions, phoneme text) + a Vocos, exported by ``export.default_voice`` and run by ``pipelines/voxcpm.py``.

Checks that the bundle reproduces the PyTorch reference generation with the same noise, that the step graph's
position input is honoured, that windowed streaming of the non-causal vocoder matches offline decoding, that text goes
through the bundled lexicon, and that voice prompts are refused."""
import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("yaml")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
from voxlite.errors import InvalidInput  # noqa: E402
from voxlite.text import lexicon  # noqa: E402
from voxlite.models.letter_to_sound import LetterToSound, LetterToSoundConfig  # noqa: E402
from voxlite.kernels.noise import standard_normal  # noqa: E402
from voxlite.text.english_g2p import PHONEMES, EnglishG2P  # noqa: E402

LEX = {"hello": "həlˈO", "world": "wˈɜɹld", "cat": "kˈæt", "the": "ði", "a": "A", "dog": "dˈɔɡ"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from export.default_voice import export_default_voice
    from recipes.default_voice import train_acoustic as ta
    from voxlite.convert.vocos import save_official
    from voxlite.models.vocos import Vocos, VocosConfig

    tmp = tmp_path_factory.mktemp("default_voice")
    g2p = EnglishG2P(LEX)
    torch.manual_seed(0)
    cfg = ta.voice_config(g2p.vocab_size + 2, 0.7, "tiny")
    model = ta.VoxCPM(cfg).eval()
    rng = np.random.default_rng(0)
    stats = {"mel_mean": rng.normal(-5, 1, 100).astype(np.float32),
             "mel_std": rng.uniform(0.5, 2, 100).astype(np.float32), "position_rate": 0.7}
    lexicon.save(tmp / "lexicon.json", LEX, {"package": "test"})
    torch.save(ta.export_payload(model, stats, {"inventory_version": 2, "lexicon_file": "lexicon.json", "step": 1}),
               tmp / "model.pt")
    voc = Vocos(dataclasses.replace(VocosConfig.mel_24khz(), dim=32, intermediate_dim=48, num_layers=2)).eval()
    save_official(voc, tmp / "generator")
    lts = LetterToSound(LetterToSoundConfig(symbols=PHONEMES, dim=32, ffn_dim=64, n_layers=1, n_heads=2))
    torch.save({"config": lts.config.to_dict(), "model": lts.state_dict(), "step": 1}, tmp / "letter_to_sound.pt")
    # random weights: fp32 (the int8 export checks that a trained model's readings survive quantization)
    out = export_default_voice(tmp / "model.pt", tmp / "generator", tmp / "bundle", precisions=("fp32", "int8"),
                               letter_to_sound_precision="fp32", log=lambda *a: None)
    return out, model, stats, tmp


@pytest.fixture(scope="module")
def cpu_model(bundle):
    return voxlite.load(bundle[0], backend="cpu", precision="fp32")


def test_manifest(cpu_model):
    hp, b = cpu_model.hparams, cpu_model.bundle
    assert hp.audio_position_rate == pytest.approx(0.7) and hp.voice_prompt is False
    assert b.capabilities == ("text-to-speech",)  # one voice: no cloning
    assert cpu_model.codec.hparams.window.to_json() == {"left": 28, "right": 29}  # export.default_voice.WINDOW
    assert b.component("text").hparams == {"type": "voxlite-g2p-en"}
    assert "codec/decoder_stream" not in b.manifest.graphs
    assert "position" in [i.name for i in b.graph("lm/step").inputs]
    lts = b.graph("text/letter_to_sound")
    (precision, path), = lts.files.items()  # as export_letter_to_sound stamped it
    assert path == f"graphs/text.letter_to_sound.{precision}.onnx"
    assert lts.metadata == {"placement": "cpu", "max_threads": 1}
    assert cpu_model.bundle.manifest.provenance["letter_to_sound_step"] == 1


def test_unknown_words_go_to_the_bundled_letter_to_sound_model(bundle, cpu_model):
    """The lexicon lacks "zorblax": the tokenizer reads it with the bundle's graph, as the torch model does."""
    from voxlite.models.letter_to_sound import encode_letters
    from voxlite.text.letter_to_sound import ctc_greedy

    g2p = cpu_model.tokenizer
    assert g2p.letter_to_sound is not None
    lts = LetterToSound(LetterToSoundConfig(**torch.load(bundle[3] / "letter_to_sound.pt")["config"]))
    lts.load_state_dict(torch.load(bundle[3] / "letter_to_sound.pt")["model"])
    with torch.no_grad():
        want = ctc_greedy(lts.eval()(torch.tensor([encode_letters("zorblax")]))[0].numpy(), PHONEMES)
    assert want and g2p.word("zorblax") == want
    assert g2p.word("hello") == LEX["hello"]  # the lexicon first


def test_generation_matches_reference(bundle, cpu_model):
    model = bundle[1]
    ids = cpu_model.tokenizer.encode("hello world, the cat.")
    n = 7
    patches = np.stack(list(cpu_model.generate_patches(ids, cfg=2.0, steps=4, seed=3, max_patches=n, flow_start=1.0)))
    P = model.config.patch_size
    noise = torch.from_numpy(np.stack([standard_normal(3, i, (1, P, 100)) for i in range(n)]))  # the pipeline's
    T = len(ids) + 1
    tokens = torch.tensor([ids + [model.config.audio_start_token]])
    ref = model.generate(tokens, torch.ones(1, T), torch.zeros(1, T, P, 100), torch.zeros(1, T), max_len=n,
                         n_steps=4, cfg_value=2.0, noise=noise, stop=True)  # the same stop rule
    assert patches.shape == ref[0].shape and patches.shape[1:] == (P, 100)
    np.testing.assert_allclose(patches, ref[0].numpy(), atol=2e-4)


@pytest.mark.parametrize("flow_start", [0.5, 0.2, 0.0])
def test_shallow_generation_matches_reference(bundle, cpu_model, flow_start):
    """Solves that start from the prior head's patch (``flow_start`` < 1; 0: the prior itself): the bundle's
    ``prior`` outputs and the pipeline's loop against ``VoxCPM.generate(flow_start=...)`` with the same noise; and
    they differ from a solve from noise."""
    model = bundle[1]
    ids = cpu_model.tokenizer.encode("hello world, the cat.")
    n, P = 6, model.config.patch_size
    patches = np.stack(list(cpu_model.generate_patches(ids, cfg=2.0, steps=3, seed=4, max_patches=n,
                                                       flow_start=flow_start)))
    noise = torch.from_numpy(np.stack([standard_normal(4, i, (1, P, 100)) for i in range(n)]))
    T = len(ids) + 1
    tokens = torch.tensor([ids + [model.config.audio_start_token]])
    ref = model.generate(tokens, torch.ones(1, T), torch.zeros(1, T, P, 100), torch.zeros(1, T), max_len=n,
                         n_steps=3, cfg_value=2.0, noise=noise, stop=True, flow_start=flow_start)
    assert patches.shape == ref[0].shape
    np.testing.assert_allclose(patches, ref[0].numpy(), atol=2e-4)
    deep = np.stack(list(cpu_model.generate_patches(ids, cfg=2.0, steps=3, seed=4, max_patches=n, flow_start=1.0)))
    assert not np.allclose(deep[:len(patches)], patches[:len(deep)], atol=1e-2)


def test_prior_outputs_match_reference(bundle, cpu_model):
    model = bundle[1]
    assert cpu_model.has_prior
    ids = cpu_model.tokenizer.encode("the dog")
    T = len(ids) + 1
    tokens = np.array([ids + [model.config.audio_start_token]], np.int64)
    out = cpu_model.run("prefill", text_tokens=tokens, text_mask=np.ones((1, T), np.float32),
                        audio_feats=np.zeros((1, T, model.config.patch_size, 100), np.float32),
                        audio_mask=np.zeros((1, T), np.float32))
    with torch.no_grad():
        ref = model.prior(torch.from_numpy(out["mu"]))
    assert out["prior"].shape == (1, model.config.patch_size, 100)
    np.testing.assert_allclose(out["prior"], ref.numpy(), atol=1e-4)


def test_windowed_stream_matches_offline(cpu_model):
    chunks = list(cpu_model.stream("hello cat", steps=2, seed=1))
    offline = cpu_model.synthesize("hello cat", steps=2, seed=1).samples
    streamed = np.concatenate(chunks)
    assert len(chunks) > 1 and streamed.shape == offline.shape
    scale = np.abs(offline).max() + 1e-9
    assert np.abs(streamed - offline).max() / scale < 0.05


def test_generation_defaults_come_from_the_bundle(cpu_model):
    hp = cpu_model.hparams.to_json()
    ids = cpu_model.tokenizer.encode("a cat")
    implicit = np.stack(list(cpu_model.generate_patches(ids, seed=5, max_patches=3)))
    assert hp["flow_start"] == 0.0  # the default voice: patches are the prior head's
    explicit = np.stack(list(cpu_model.generate_patches(ids, cfg=hp["cfg"], steps=hp["steps"], seed=5,
                                                        max_patches=3, flow_start=hp["flow_start"])))
    np.testing.assert_array_equal(implicit, explicit)
    deep = np.stack(list(cpu_model.generate_patches(ids, seed=5, max_patches=3, flow_start=1.0)))
    other = np.stack(list(cpu_model.generate_patches(ids, steps=hp["steps"] + 1, seed=5, max_patches=3,
                                                     flow_start=1.0)))
    assert not np.array_equal(implicit, deep) and not np.array_equal(deep, other)
    for bad in (dict(steps=0), dict(steps=2.5), dict(cfg=float("nan")), dict(cfg=True), dict(flow_start=-0.1),
                dict(flow_start=1.5), dict(flow_start=float("nan")), dict(flow_start="0.5"), dict(flow_start=True)):
        with pytest.raises(InvalidInput):
            cpu_model.synthesize("a cat", **bad)
        with pytest.raises(InvalidInput):
            next(cpu_model.stream("a cat", **bad))


def test_windowed_stream_chunks_grow(cpu_model):
    """First audio after the first window is ready; later chunks double up to STREAM_CHUNK_FRAMES (fewer repeated
    context frames per output frame)."""
    hop = cpu_model.hop_length
    sizes = [len(c) // hop for c in cpu_model.stream("hello world, the cat and the dog.", steps=1, seed=2)]
    P, right = cpu_model.patch_size, cpu_model.codec.hparams.window.right
    limit = cpu_model.codec.STREAM_CHUNK_FRAMES
    assert sizes[0] <= max(P - right, 0) + P
    body = sizes[:-1]
    assert all(b >= a or b == limit for a, b in zip(body, body[1:]))
    assert max(sizes) <= limit + P


def _snr_db(ref: np.ndarray, got: np.ndarray) -> float:
    ref, got = ref.astype(np.float64), got.astype(np.float64)
    return float(10 * np.log10(np.sum(ref ** 2) / np.sum((got - ref) ** 2)))


def test_int8_close_to_fp32(bundle, cpu_model):
    """The int8 graphs against the fp32 ones, same text, seed and noise. Bound: SNR 30 dB, for the acoustic
    patches (the prior head's, and a LocDiT solve from noise) and for the audio. Measured on this tiny random-weight
    bundle: patches 37-39 dB (prior) and 45 dB (solve), audio 42 dB; another text's fp32 patches score 20 dB."""
    m = voxlite.load(bundle[0], backend="cpu", precision="int8")
    for text in ("a dog", "hello world, the cat."):
        ids = cpu_model.tokenizer.encode(text)
        for flow_start in (0.0, 1.0):
            ref = np.stack(list(cpu_model.generate_patches(ids, steps=2, seed=0, max_patches=12,
                                                           flow_start=flow_start)))
            got = np.stack(list(m.generate_patches(ids, steps=2, seed=0, max_patches=12, flow_start=flow_start)))
            assert got.shape == ref.shape, (text, flow_start)
            snr = _snr_db(ref, got)
            assert snr >= 30.0, f"{text!r} flow_start={flow_start}: int8 patches SNR {snr:.1f} dB"
        audio = m.synthesize(text, steps=2, seed=0)
        ref_audio = cpu_model.synthesize(text, steps=2, seed=0).samples
        assert audio.sample_rate == 24000 and audio.samples.shape == ref_audio.shape
        snr = _snr_db(ref_audio, audio.samples)
        assert snr >= 30.0, f"{text!r}: int8 audio SNR {snr:.1f} dB"
    ran = {g.split("/")[-1]: p for g, p in m.graph_precisions.items()}  # the sessions opened above
    assert all(ran.get(g) == "int8" for g in ("prefill", "step", "locdit", "decoder")), ran


def test_voice_prompt_refused(cpu_model):
    with pytest.raises(InvalidInput, match="takes no voice prompt"):
        cpu_model.synthesize("hello", prompt_audio=np.zeros(24000, np.float32), prompt_text="hello")


def test_int8_only_bundle(bundle):
    from export.default_voice import export_default_voice

    tmp = bundle[3]
    out = export_default_voice(tmp / "model.pt", tmp / "generator", tmp / "small", precisions=("int8",),
                               keep_fp32=False, letter_to_sound_precision="fp32", log=lambda *a: None)
    m = voxlite.load(out, backend="cpu")
    files = {g: set(spec.files) for g, spec in m.bundle.manifest.graphs.items()}
    # the mel front end has no int8 variant: it stays float; the letter-to-sound graph was exported fp32
    assert files["codec/encoder"] == {"fp32"} and files["text/letter_to_sound"] == {"fp32"}
    assert all(v == {"int8"} for g, v in files.items() if g not in ("codec/encoder", "text/letter_to_sound")), files
    assert m.bundle.manifest.default_precision is None
    audio = m.synthesize("hello dog", steps=2, seed=0)
    assert np.isfinite(audio.samples).all() and audio.samples.size > 0
    # flow_start 0: the LocDiT never runs (nor loads)
    assert {g: p for g, p in m.graph_precisions.items() if g != "text/letter_to_sound"} == {
        "lm/prefill": "int8", "lm/step": "int8", "codec/decoder": "int8"}
    # asking for int8 runs the float front end (more precise); asking for fp32 never runs the int8 graphs
    int8 = voxlite.load(out, backend="cpu", precision="int8")
    int8.codec.encode(np.zeros(2400, np.float32), 24000)
    assert int8.graph_precisions["codec/encoder"] == "fp32"
    with pytest.raises(InvalidInput, match="no variant as precise as 'fp32'"):
        voxlite.load(out, backend="cpu", precision="fp32")
    with pytest.raises(InvalidInput, match="fp16"):
        voxlite.load(out, backend="cpu", precision="fp16")


def test_mixed_precision_bundle(bundle):
    """int8 vocoder, float acoustic model (``float_only``): each graph runs the one variant it has."""
    from export.default_voice import export_default_voice

    tmp = bundle[3]
    out = export_default_voice(tmp / "model.pt", tmp / "generator", tmp / "mixed", precisions=("int8",),
                               keep_fp32=False, float_only=("prefill", "step", "locdit"),
                               letter_to_sound_precision="fp32", log=lambda *a: None)
    m = voxlite.load(out, backend="cpu")
    files = {g: set(spec.files) for g, spec in m.bundle.manifest.graphs.items()}
    assert files == {"lm/prefill": {"fp32"}, "lm/step": {"fp32"}, "lm/locdit": {"fp32"}, "codec/encoder": {"fp32"},
                     "codec/decoder": {"int8"}, "text/letter_to_sound": {"fp32"}}, files
    ref = voxlite.load(bundle[0], backend="cpu", precision="fp32")
    ids = m.tokenizer.encode("hello dog")
    np.testing.assert_allclose(np.stack(list(m.generate_patches(ids, steps=2, seed=0, max_patches=3))),
                               np.stack(list(ref.generate_patches(ids, steps=2, seed=0, max_patches=3))), atol=1e-5)


def test_small_graphs_run_single_threaded(bundle, monkeypatch):
    """Each per-patch graph's ``max_threads`` caps it at 1 intra-op thread; the vocoder gets what was asked."""
    import json
    import shutil

    from voxlite.errors import BundleError

    m = voxlite.load(bundle[0], backend="cpu", precision="fp32", threads=2)
    assert {g: m.bundle.graph(f"lm/{g}").metadata["max_threads"] for g in ("prefill", "step", "locdit")} == \
        {"prefill": 1, "step": 1, "locdit": 1}
    assert [m.graph_threads(g) for g in ("prefill", "step", "locdit", "decoder")] == [1, 1, 1, 2]
    assert voxlite.load(bundle[0], backend="cpu").graph_threads("step") == 1  # threads=None: the cap
    bad = bundle[0].parent / "bad-threads"
    shutil.copytree(bundle[0], bad)
    raw = json.loads((bad / "manifest.json").read_text())
    raw["components"]["lm"]["graphs"]["step"]["metadata"]["max_threads"] = 0
    (bad / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(BundleError, match="max_threads must be a positive integer"):
        voxlite.load(bad, backend="cpu")


def _with_hparams(src, dst, **hparams):
    import json
    import shutil

    shutil.copytree(src, dst)
    raw = json.loads((dst / "manifest.json").read_text())
    raw["components"]["lm"]["hparams"].update(hparams)
    (dst / "manifest.json").write_text(json.dumps(raw))
    return dst


def test_stop_threshold_from_the_bundle(bundle, cpu_model, tmp_path):
    """hparams.stop_threshold: P(stop) needed to end. 0.5 is the official argmax (the reference tests above); near 1
    the same weights run to the length cap, near 0 they stop as soon as min_len allows; outside (0, 1) it is refused."""
    from voxlite.errors import BundleError

    ids = cpu_model.tokenizer.encode("hello world")
    n = lambda m: len(list(m.generate_patches(ids, seed=0, max_patches=40)))  # noqa: E731
    sure = voxlite.load(_with_hparams(bundle[0], tmp_path / "sure", stop_threshold=1 - 1e-12), backend="cpu",
                        precision="fp32")
    eager = voxlite.load(_with_hparams(bundle[0], tmp_path / "eager", stop_threshold=1e-12), backend="cpu",
                         precision="fp32")
    min_len = cpu_model.hparams.min_len
    assert n(sure) == 40 and n(eager) == min_len + 2 and n(eager) <= n(cpu_model) <= n(sure)
    for bad in (0.0, 1.0, "x"):
        with pytest.raises(BundleError, match="hparams"):
            voxlite.load(_with_hparams(bundle[0], tmp_path / f"bad{bad}", stop_threshold=bad), backend="cpu")
