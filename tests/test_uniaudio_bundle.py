"""UniAudio bundles end to end at the tiny configuration: export (``python -m export uniaudio``, every graph verified
against the reference at export), the runtime's tokens against the reference ``UniAudioLM.generate`` and against
the official run recorded in the parity fixture, the decoded audio against the reference codec, int8, and bad
input refused with typed errors.

How sampled runs are compared (the honest form): the runtime draws with the native sampler, ``sampling.sample(
logits of codebook l's ids + <audio_end>, top_k, temperature, seed, step=3 i + l)``, which walks the kept ids in
that order (codebook ids ascending, then <audio_end>) and takes the first whose running sum of probabilities passes
``u * total`` with ``u = sampling.uniform(seed, step)``. The reference computes its own distribution (full-vocabulary
log-softmax, forbidden ids masked, top-k, softmax of values / temperature) and, through ``draw_with_ids``, picks
from it with the same ``u`` walking the same order. So what is shared is the uniform and the walk order; the
distribution, the masking, min / max length and the cut-frame rule are the reference's own. Greedy runs are
compared without any hook, and against the official greedy tokens of the parity fixture.
"""
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
from voxlite.errors import BundleError, CapabilityError, InvalidInput  # noqa: E402
from voxlite.kernels import sampling  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "uniaudio"
RNG = np.random.default_rng(0)
PHONES = np.array([1, 5, 2, 7, 3, 9, 4])
PROMPT = RNG.integers(0, 23, (3, 5))  # codes of a 5-frame voice prompt (tiny codebooks: 23 codes)
SEMANTIC = np.array([3, 3, 8, 1, 16, 0, 5, 5])
T5 = RNG.standard_normal((4, 768)).astype(np.float32)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The tiny random bundle through the command line, and the reference built by the same preset and seed."""
    from export import main
    from export.uniaudio import build_random, random_codec

    out = tmp_path_factory.mktemp("uniaudio") / "tiny"
    assert main(["uniaudio", "--config", "tiny", "--random-init", "--seed", "0", "--out", str(out),
                 "--precision", "fp32", "int8"]) == 0
    model, tokens = build_random("tiny", 0)
    return out, model, tokens, random_codec(model.config.audio_bins, "tiny", 0)


@pytest.fixture(scope="module")
def tts_only(tmp_path_factory, bundle):
    """A bundle declaring two tasks only (as a checkpoint trained for TTS would)."""
    from export.uniaudio import export_uniaudio

    _, model, tokens, codec = bundle
    out = tmp_path_factory.mktemp("uniaudio") / "tts"
    export_uniaudio(model, codec, tokens, out, tasks=("tts", "plain_tts"), log=lambda *_: None)
    return out


class Replay:
    """``draw_with_ids`` for the reference: the native sampler's uniform for the step, the runtime's walk order."""

    def __init__(self, seed, audio_end):
        self.seed, self.audio_end, self.step = seed, audio_end, 0

    def __call__(self, probs, ids):
        u = sampling.uniform(self.seed, self.step, 1)[0]
        self.step += 1
        ids = ids.numpy()
        order = np.argsort(np.where(ids == self.audio_end, np.iinfo(np.int64).max, ids), kind="stable")
        cum = np.cumsum(probs.double().numpy()[order])
        k = int(np.searchsorted(cum, u * cum[-1], side="right"))
        return int(order[min(k, len(order) - 1)])


def _reference(model, seq, *, seed=0, temperature=1.0, top_k=30, minlen=0, maxlen=None):
    from voxlite.models.uniaudio import ContinuousSegment

    segments = [ContinuousSegment(0, s.start, s.end, torch.from_numpy(s.features))
                for s in seq.continuous_segments]
    mode = "greedy" if temperature == 0 else "sampling"
    return model.generate(torch.from_numpy(seq.ids), mode=mode, topk=top_k, temperature=temperature or 1.0,
                          minlen=minlen, maxlen=maxlen, conti_segments=segments,
                          draw_with_ids=Replay(seed, model.config.audio_end))


def _same(result, g):
    assert result.frames.tolist() == g.frames.tolist()
    assert result.ended == g.ended and result.partial.tolist() == g.partial.tolist()
    official = result.tokens.tolist() + ([] if result.ended else [g.config.audio_end] * 3)
    assert official == g.tokens.tolist()


CASES = [  # task, inputs, options
    ("tts", dict(phone_seq=PHONES, prompt_seq=PROMPT), dict(seed=3, temperature=0.8, top_k=5, min_length=4)),
    ("plain_tts", dict(phone_seq=PHONES), dict(seed=1, temperature=1.0, top_k=30, min_length=2)),
    ("VC", dict(semantic_seq=SEMANTIC, prompt_seq=PROMPT), dict(seed=7, temperature=1.2, top_k=10)),
    ("TTM", dict(text_t5_seq=T5), dict(seed=5, temperature=0.9, top_k=8, min_length=3)),
    ("InstructTTS", dict(phone_seq=PHONES, text_t5_seq=T5), dict(seed=2, temperature=0.7, top_k=4)),
]


def _run_case(m, reference, task, inputs, opts):
    seq = m.prefix(task, **inputs)
    minlen = opts.get("min_length")
    result = m.run_task(task, **opts, **inputs)
    cond = seq.ids.size // 3 - 1  # the bundle's default ratios of the conditioning frames
    want = _reference(reference, seq, seed=opts["seed"], temperature=opts["temperature"], top_k=opts["top_k"],
                      minlen=int(0.5 * cond) if minlen is None else minlen, maxlen=int(7 * cond))
    _same(result, want)
    return result


@pytest.mark.parametrize("backend", ["cpu", "openvino"])
def test_sampled_tokens_equal_the_reference(bundle, backend):
    if backend == "openvino":
        pytest.importorskip("openvino")
    path, reference, _, _ = bundle
    m = voxlite.load(path, backend=backend, precision="fp32")
    cut = 0
    for task, inputs, opts in CASES:
        r = _run_case(m, reference, task, inputs, opts)
        assert r.frames.shape[0] > 0
        cut += r.ended and r.partial.size > 0
    assert cut >= 2  # <audio_end> inside a frame: the cut frame is dropped alike (frame-limit runs: the greedy test)


def test_continuous_features_reach_the_prefill(bundle):
    """The T5 rows replace their placeholder frames' embeddings (shifted one frame) as in the reference."""
    from voxlite.models.uniaudio import ContinuousSegment

    path, reference, _, _ = bundle
    m = voxlite.load(path, precision="fp32")
    seq = m.prefix("TTM", text_t5_seq=T5)
    (seg,) = seq.continuous_segments
    P = seq.ids.size // 3
    features = np.zeros((1, P, 768), np.float32)
    mask = np.zeros((1, P), np.float32)
    features[0, seg.start // 3:seg.end // 3] = T5
    mask[0, seg.start // 3:seg.end // 3] = 1
    prefill = m.sessions.get("lm/global_prefill")
    got = prefill.run({"frames": seq.ids.reshape(1, P, 3), "features": features, "feature_mask": mask})["g2l"]
    plain = prefill.run({"frames": seq.ids.reshape(1, P, 3), "features": features, "feature_mask": 0 * mask})["g2l"]
    with torch.no_grad():
        want, _ = reference.global_prefix(torch.from_numpy(seq.ids)[None], [
            ContinuousSegment(0, seg.start, seg.end, torch.from_numpy(seg.features))])
    np.testing.assert_allclose(got, want.numpy(), atol=1e-4)
    first = seg.start // 3 + 1  # the first position whose input is a placeholder frame
    assert np.abs(got - plain)[0, :first].max() < 1e-6 and np.abs(got - plain)[0, first:].max() > 1e-2


def test_greedy_tokens_equal_the_reference_and_the_official_run(bundle, tmp_path):
    """Greedy through the graphs: equal to the reference; and a bundle of the parity fixture's official weights
    (read from a training checkpoint + config.yaml, as ``--checkpoint`` does) reproduces the official greedy run."""
    import yaml
    from safetensors.torch import load_file

    from export.uniaudio import build_checkpoint, export_uniaudio, random_codec

    path, reference, _, _ = bundle
    m = voxlite.load(path, precision="fp32")
    seq = m.prefix("tts", phone_seq=PHONES, prompt_seq=PROMPT)
    result = m.search(seq, m.options(temperature=0, max_length=12), min_length=12)
    _same(result, _reference(reference, seq, temperature=0, minlen=12, maxlen=12))

    cfg = json.loads((FIXTURE / "lm_config.json").read_text())
    with np.load(FIXTURE / "lm_io.npz") as f:
        io = {k: f[k] for k in f.files}
    exp = tmp_path / "exp"
    exp.mkdir()
    kwargs = dict(cfg["constructor_kwargs"])
    kwargs["n_embd"] = kwargs.pop("n_state")  # the training config's spelling
    (exp / "config.yaml").write_text(yaml.safe_dump({**kwargs, "token_list": cfg["token_list"]}))
    torch.save({"model": load_file(str(FIXTURE / "lm_state_dict.safetensors"))}, exp / "ep1.checkpoint")
    official, tokens = build_checkpoint(str(exp / "ep1.checkpoint"), None, None)
    out = tmp_path / "official"
    export_uniaudio(official, random_codec(official.config.audio_bins, "tiny", 0), tokens, out, tasks=("tts",),
                    log=lambda *_: None)
    m = voxlite.load(out)
    n = int(io["lm/greedy/prefix_len_tokens"]) + 3
    from voxlite.pipelines.uniaudio_sequences import UniAudioSequence

    prefix = UniAudioSequence(io["lm/greedy/prompt_input_ids"][:n], np.zeros(n, bool), [])
    r = m.search(prefix, m.options(temperature=0, top_k=30, max_length=6), min_length=6)
    assert r.tokens.tolist() + [9, 9, 9] == io["lm/greedy/tokens"].tolist()
    assert r.codes.T.tolist() == io["lm/greedy/codes"].tolist()
    # without the minimum length the official logits put <audio_end> first at frame 2, codebook 1: a clean cut
    r = m.search(prefix, m.options(temperature=0, max_length=6), min_length=0)
    assert r.ended and r.frames.tolist() == io["lm/greedy/tokens_frames"][:2].tolist()
    assert r.partial.tolist() == io["lm/greedy/tokens"][6:7].tolist()


def test_decoded_audio_equals_the_reference_codec(bundle):
    path, _, _, codec = bundle
    m = voxlite.load(path, precision="fp32")
    result = m.run_task("tts", phone_seq=PHONES, prompt_seq=PROMPT, seed=4, temperature=0, max_length=10,
                        min_length=10)
    assert result.codes.shape == (3, 10)
    audio = m._audio("tts", dict(seed=4, temperature=0), frames=10, phone_seq=PHONES, prompt_seq=PROMPT)
    with torch.no_grad():
        want = codec.decoder(codec.rvq.decode(torch.from_numpy(result.codes)[None]))[0, 0].numpy()
    assert audio.sample_rate == 16000 and audio.samples.shape == want.shape == (10 * 320,)
    np.testing.assert_allclose(audio.samples, want, atol=1e-4)


def test_codec_streams_exactly(bundle):
    """The codec carries the exact streaming decoder (split at its LSTM: tests/test_soundstream_stream.py), float in
    the int8 bundle: chunk by chunk, the offline decode's samples."""
    path, _, _, _ = bundle
    m = voxlite.load(path, precision="int8")
    b = voxlite.open_bundle(path)
    assert all(set(b.graph(f"codec/{g}").precisions) == {"fp32"} for g in ("decoder_pre_lstm", "decoder_post"))
    codes = np.random.default_rng(1).integers(0, 23, (1, 3, 12))
    offline = m.codec.decode(codes).samples
    for chunk in (1, 5):
        np.testing.assert_allclose(np.concatenate(list(m.codec.decode_stream(codes, chunk_frames=chunk))), offline,
                                   rtol=0, atol=1e-5)


def test_task_methods(bundle, tmp_path):
    from voxlite.audio import Audio

    path, _, _, _ = bundle
    m = voxlite.load(path, task="speech-to-speech")
    noisy = Audio((RNG.standard_normal(8000) * 0.1).astype(np.float32), 16000)
    codes = m.encode_audio(noisy)
    assert codes.shape == (3, 25) and codes.min() >= 0 and codes.max() < 23
    # targets aligned with an input are exactly as long as it (25 frames of 20 ms)
    se = m.transform(noisy, task="SE", seed=1)
    assert se.sample_rate == 16000 and se.samples.size == 25 * 320
    np.testing.assert_array_equal(m.enhance(noisy, seed=1).samples, se.samples)
    assert m.dereverb(noisy, seed=1).samples.size == 25 * 320
    wav = tmp_path / "enrol.wav"
    noisy.save(wav)
    spex = m.transform(noisy, task="Spex", enrolment=wav, seed=1)
    np.testing.assert_array_equal(m.extract(noisy, wav, seed=1).samples, spex.samples)
    assert spex.samples.size == 25 * 320
    vc = m.convert(SEMANTIC, noisy, seed=2)
    assert vc.samples.size == SEMANTIC.size * 320
    music = m.generate(T5, task="music", seed=3, seconds=0.1)
    assert music.samples.size == 5 * 320
    np.testing.assert_array_equal(music.samples, m.generate(T5, task="TTM", seed=3, seconds=0.1).samples)
    tts = m.synthesize(phones=PHONES, prompt=noisy, seed=0, max_length=4)
    assert 0 < tts.samples.size <= 4 * 320
    with pytest.raises(CapabilityError, match="cannot keep"):
        m.enhance(noisy, keep="noise")
    with pytest.raises(InvalidInput, match="transcript"):
        m.enhance(noisy, transcript="hello")


def test_int8_bundle_runs_and_is_reproducible(bundle):
    path, _, _, _ = bundle
    m = voxlite.load(path, precision="int8")
    a = m.run_task("tts", phone_seq=PHONES, prompt_seq=PROMPT, seed=5, max_length=8, min_length=8)
    assert {m.graph_precisions[f"lm/{g}"] for g in ("global_prefill", "global_step", "local_step")} == {"int8"}
    b = m.run_task("tts", phone_seq=PHONES, prompt_seq=PROMPT, seed=5, max_length=8, min_length=8)
    assert a.frames.shape == (8, 3) and a.frames.tolist() == b.frames.tolist()
    samples = m.decode(a.codes)
    assert samples.dtype == np.float32 and np.isfinite(samples).all()


def test_bad_input_is_refused(bundle, tts_only):
    from export import ExportError
    from export.uniaudio import export_uniaudio
    from voxlite.audio import Audio

    path, model, tokens, codec = bundle
    m = voxlite.load(path)
    with pytest.raises(InvalidInput, match="unknown UniAudio task") as e:
        m.run_task("karaoke", phone_seq=PHONES)
    assert not isinstance(e.value, CapabilityError)
    with pytest.raises(InvalidInput, match="empty"):
        m.synthesize(phones=[])
    with pytest.raises(InvalidInput, match="missing prompt_seq"):
        m.run_task("tts", phone_seq=PHONES)
    with pytest.raises(InvalidInput, match="too long"):
        m.synthesize(phones=np.tile([1, 2], 60))  # 120 phone frames: the tiny context is 101
    with pytest.raises(CapabilityError, match="no text front end"):
        m.synthesize("hello")  # this bundle was exported without a phone table
    with pytest.raises(CapabilityError, match="no T5"):
        m.generate("a dog barking")
    with pytest.raises(InvalidInput, match="768 columns"):
        m.generate(np.ones((3, 16), np.float32))
    with pytest.raises(InvalidInput, match="too long"):
        m.generate(T5, seconds=3)  # 150 frames: the tiny context holds 101
    with pytest.raises(InvalidInput, match="too long"):
        m.transform(Audio((RNG.standard_normal(48000) * 0.1).astype(np.float32), 16000))
    with pytest.raises(CapabilityError, match="no semantic tokenizer"):
        m.convert("source.wav", PROMPT)
    with pytest.raises(CapabilityError, match="no singing tables"):
        m.sing({"notes": [{"note": "C4", "seconds": 0.2, "pinyin": "la"}]}, PROMPT)
    with pytest.raises(InvalidInput, match="seconds"):
        m.generate(T5, seconds=0)
    with pytest.raises(InvalidInput, match="top_k"):
        m.synthesize(phones=PHONES, top_k=-1)
    small = voxlite.load(tts_only)
    assert small.tasks == ("tts", "plain_tts") and small.bundle.capabilities == ()
    assert 0 < small.synthesize(phones=PHONES, max_length=3).samples.size <= 3 * 320
    with pytest.raises(CapabilityError, match="not trained for VC"):
        small.convert(SEMANTIC, PROMPT)
    with pytest.raises(CapabilityError, match="not trained for TSS"):
        small.generate(T5)
    with pytest.raises(CapabilityError):
        voxlite.load(tts_only, task="speech-to-speech")
    with pytest.raises(ExportError, match="asr"):
        export_uniaudio(model, codec, tokens, path.parent / "asr", tasks=("asr",), log=lambda *_: None)
    with pytest.raises(ExportError, match="token list"):
        export_uniaudio(model, codec, tokens[:-1], path.parent / "cut", log=lambda *_: None)


def test_hparams_refuse_a_bad_token_list(bundle):
    from voxlite.hparams import UniAudioLMHParams

    path, _, _, _ = bundle
    raw = json.loads((path / "manifest.json").read_text())["components"]["lm"]["hparams"]
    UniAudioLMHParams.from_json(raw)
    no_end = [t if t != "<audio_end>" else "<unused_special_token>" for t in raw["token_list"]]
    with pytest.raises(BundleError, match="audio_end"):
        UniAudioLMHParams.from_json({**raw, "token_list": no_end})
    with pytest.raises(BundleError, match="unknown"):
        UniAudioLMHParams.from_json({**raw, "tasks": ["tts", "karaoke"]})
