"""The semantic-token cascades (Spear-TTS, Make-A-Voice, MVoice) from exported tiny bundles with random weights.

For each system the runtime's tokens are compared with the PyTorch reference run on the same weights (the stage
models of ``export.cascade.build_random`` with the same seed): S1's units and S2's codes are equal for fixed seeds,
greedy and sampled (the reference's loops call the runtime's rules and native sampler; MVoice's S2 is UniAudio's
reference search with the native sampler's draws replayed). Then the tasks (speech, cloning, conversion, singing),
streaming, the command line, a checkpoint round trip and refusals.
"""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
from voxlite.audio import Audio  # noqa: E402
from voxlite.errors import AudioError, CapabilityError, InvalidInput  # noqa: E402

LEXICON = {"hello": "həlˈO", "there": "ðˈɛɹ", "hi": "hˈI", "world": "wˈɜɹld", "cats": "kˈæts"}
SING_PHONES = ("SP", "AP", "l", "a", "n", "i")
SYSTEMS = ("spear-tts", "make-a-voice", "mvoice")
SCORE = [{"note": "C4", "seconds": 0.06, "phones": ["l", "a"]}, {"note": "rest", "seconds": 0.04},
         {"note": "E4", "seconds": 0.06, "phones": ["n", "i"]}]


def noise(seconds: float, seed: int = 0) -> Audio:
    rng = np.random.default_rng(seed)
    return Audio((0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32), 16000)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from voxlite.text import lexicon as lexicon_files

    root = tmp_path_factory.mktemp("cascade-inputs")
    lexicon_files.save(root / "lexicon.json", LEXICON, "test")
    (root / "sing_phones.txt").write_text("".join(f"{p}\n" for p in SING_PHONES))
    return root


@pytest.fixture(scope="module", params=SYSTEMS)
def system(request, inputs, tmp_path_factory):
    """(system, bundle path, reference parts) of a tiny random cascade."""
    from export import main
    from export.cascade import build_random

    name = request.param
    out = tmp_path_factory.mktemp("cascade") / name
    argv = ["cascade", "--system", name, "--random-init", "--config", "tiny", "--seed", "0", "--out", str(out),
            "--lexicon", str(inputs / "lexicon.json")]
    sing = ()
    if name == "make-a-voice":
        argv += ["--sing-phone-table", str(inputs / "sing_phones.txt")]
        sing = SING_PHONES
    assert main(argv) == 0
    return name, out, build_random(name, "tiny", 0, sing_phones=sing)


def reference(parts):
    from voxlite.models.cascade import CascadeReference

    return CascadeReference(parts.plan, parts.s1, parts.s2, parts.vocoder, parts.sing_vocoder)


@pytest.mark.parametrize("seed,temperature,top_k", [(0, 0.0, 0), (3, 1.0, 5), (11, 0.8, 0)])
def test_units_and_codes_equal_the_reference(system, seed, temperature, top_k):
    from voxlite.models.cascade import Sampling

    name, path, parts = system
    model = voxlite.load(path)
    ref = reference(parts)
    src = model.phones.encode("Hello there.")
    options = model.options(seed=seed, temperature=temperature, top_k=top_k)
    units = model.semantic(src, options)
    want = ref.semantic(src, Sampling(seed=seed, temperature=temperature, top_k=top_k))
    assert units.tolist() == want.tolist()
    prompt = model.voice(noise(0.3, seed=5))
    assert prompt.codes.shape == (3, 10)  # cut to the tiny plan's prompt_seconds (0.2 s at 50 frames/s)
    codes = model.acoustic(units, options, prompt=prompt)
    if parts.plan.spec.s2 == "unit-lm":
        expected = ref.acoustic(units, Sampling(seed=seed, temperature=temperature, top_k=top_k),
                                prompt_units=prompt.units, prompt_codes=prompt.codes)
    else:
        expected = _uniaudio_reference(model, parts, units, prompt.codes, seed, temperature, top_k)
    assert codes.tolist() == expected.tolist()
    if parts.plan.spec.aligned:
        assert codes.shape[1] == units.size  # one frame per unit


def _uniaudio_reference(model, parts, units, prompt_codes, seed, temperature, top_k):
    from tests.test_uniaudio_bundle import Replay

    s2 = model.s2
    sequence = s2.prefix("VC", semantic_seq=units, prompt_seq=prompt_codes)
    frames = units.size
    g = parts.s2.generate(torch.from_numpy(sequence.ids), mode="greedy" if temperature == 0 else "sampling",
                          topk=top_k or parts.s2.config.n_vocab, temperature=temperature or 1.0, minlen=frames + 1,
                          maxlen=frames, draw_with_ids=Replay(seed, parts.s2.config.audio_end))
    return g.codes.numpy().T


def test_the_vocoder_equals_the_reference(system):
    name, path, parts = system
    model = voxlite.load(path)
    codes = np.random.default_rng(0).integers(0, 23, (3, 12))
    audio = model.vocode(codes)
    assert audio.shape == (12 * 320,)
    if parts.vocoder is not None:
        np.testing.assert_allclose(audio, reference(parts).vocode(codes), atol=1e-4)


def test_speech_cloning_and_streaming(system):
    name, path, parts = system
    model = voxlite.load(path)
    voice = noise(0.5, seed=1)
    a = model.synthesize("Hello there. Hi world.", voice, seed=2)
    b = model.synthesize("Hello there. Hi world.", voice, seed=2)
    assert a.sample_rate == 16000 and a.samples.size > 0 and a.samples.size % 320 == 0
    np.testing.assert_array_equal(a.samples, b.samples)
    chunks = list(model.stream("Hello there. Hi world.", voice, seed=2))
    np.testing.assert_allclose(np.concatenate(chunks), a.samples, atol=1e-5)



def test_audio_streams_while_the_frames_come(system):
    """S3 releases audio after a few frames, not once S2 is done; the chunks joined are the offline decode."""
    name, path, parts = system
    model = voxlite.load(path)
    codes = np.random.default_rng(1).integers(0, 23, (3, 40))
    taken = []

    def frames():
        for i in range(codes.shape[1]):
            taken.append(i)
            yield codes[:, i]

    stream = model._stream_vocode(frames())
    first = next(stream)
    assert first.size > 0 and len(taken) < 30
    chunks = [first, *stream]
    np.testing.assert_allclose(np.concatenate(chunks), model.vocode(codes), atol=1e-5)
    if name != "mvoice":  # MVoice always speaks in a prompt's voice
        assert model.synthesize("Hi.", seed=1).samples.size > 0
    else:
        with pytest.raises(InvalidInput, match="prompt"):
            model.synthesize("Hi.")


def test_voice_conversion_keeps_the_source_length(system):
    name, path, parts = system
    model = voxlite.load(path)
    source, voice = noise(0.4, seed=2), noise(0.5, seed=1)
    units = model.semantic_units(source)
    out = model.convert(source, voice, seed=4)
    if parts.plan.spec.aligned:
        assert out.samples.size == units.size * 320
    else:
        assert 0 < out.samples.size <= np.ceil(units.size * parts.plan.frames_per_unit) * 320


def test_singing_follows_the_score(system):
    name, path, parts = system
    model = voxlite.load(path)
    if name != "make-a-voice":
        with pytest.raises(CapabilityError):
            model.sing(SCORE)
        return
    from voxlite.dsp.f0 import midi_to_hz, quantize_log_f0
    from voxlite.models.cascade import Sampling
    from voxlite.text.singing_score import score_to_frames

    out = model.sing(SCORE, noise(0.5, seed=1), seed=1)
    assert out.samples.size == 8 * 320  # 0.16 s of score: 8 frames
    # the reference on the same frame-level inputs
    phones, midi = score_to_frames(SCORE, SING_PHONES, tuple(range(128)), frame_rate=50)
    hp = parts.plan
    f0 = quantize_log_f0(np.where(midi > 0, midi_to_hz(midi.astype(float)), 0.0), bins=hp.vocabulary.f0_bins,
                         f_min=hp.f0_min, f_max=hp.f0_max)
    assert f0[3] == 0 and f0[0] > 0 and f0[-1] > f0[0]  # rests unvoiced, E4 above C4
    ref, s = reference(parts), Sampling(seed=1, temperature=hp.temperature)
    units = ref.semantic(hp.n_phones + phones, s, exact=phones.size)
    assert units.tolist() == model.semantic(hp.n_phones + phones, model.options(seed=1), exact=8).tolist()
    prompt = model.voice(noise(0.5, seed=1))
    codes = ref.acoustic(units, s, prompt_codes=prompt.codes, f0=f0)
    np.testing.assert_allclose(out.samples, ref.vocode(codes, f0), atol=1e-4)


def test_refusals(system, tmp_path):
    name, path, parts = system
    model = voxlite.load(path)
    for bad in ("", "   ", "x" * 5001):
        with pytest.raises(InvalidInput):
            model.synthesize(bad, noise(0.5))
    with pytest.raises(InvalidInput, match="limit"):
        model.synthesize("Hi.", noise(6.0))  # the tiny plan's max_prompt_seconds is 5
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    for unreadable in (tmp_path / "missing.wav", tmp_path / "broken.wav"):
        with pytest.raises(AudioError):
            model.synthesize("Hi.", unreadable)
        with pytest.raises(AudioError):
            model.convert(unreadable, noise(0.5))
    with pytest.raises(InvalidInput):
        model.semantic([10_000])
    with pytest.raises(InvalidInput):
        model.acoustic([], prompt=model.voice(noise(0.5)))
    with pytest.raises(InvalidInput):
        model.vocode(np.full((3, 4), 99))
    with pytest.raises(InvalidInput):
        model.options(temperature=-1)
    if parts.plan.spec.aligned and parts.plan.spec.s2 == "unit-lm":  # the tiny S2 holds 512 positions
        with pytest.raises(InvalidInput, match="too long"):
            model.acoustic(np.zeros(200, np.int64), prompt=model.voice(noise(0.5)))
    if name == "make-a-voice":
        with pytest.raises(InvalidInput, match="phone"):
            model.sing([{"note": "C4", "seconds": 0.1, "phones": ["zz"]}])


def test_commands(system, tmp_path, capsys):
    from voxlite.cli.main import main

    name, path, parts = system
    voice, source = tmp_path / "voice.wav", tmp_path / "source.wav"
    noise(0.5, seed=1).save(voice)
    noise(0.4, seed=2).save(source)
    score = tmp_path / "song.json"
    score.write_text(json.dumps(SCORE))
    b = str(path)
    runs = {"say": ["say", "Hello there.", "-o", str(tmp_path / "say.wav"), "--bundle", b, "--voice", str(voice),
                    "-q", "--top-k", "4"],
            "convert": ["convert", str(source), "--voice", str(voice), "-o", str(tmp_path / "convert.wav"),
                        "--bundle", b]}
    if name == "make-a-voice":
        runs["sing"] = ["sing", "--score", str(score), "--voice", str(voice), "-o", str(tmp_path / "sing.wav"),
                        "--bundle", b]
    for run, argv in runs.items():
        assert main(argv) == 0, run
        assert voxlite.audio.read_audio(tmp_path / f"{run}.wav").samples.size > 0
    capsys.readouterr()
    assert main(["say", "Hi.", "--cfg", "2", "-o", str(tmp_path / "x.wav"), "--bundle", b, "--voice",
                 str(voice)]) == 1
    assert "--cfg" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def test_a_checkpoint_exports_the_same_model(system, tmp_path):
    from export.cascade import export_cascade, load_checkpoint, save_checkpoint
    from export.uniaudio import random_codec

    name, path, parts = system
    ckpt = save_checkpoint(parts, tmp_path / "cascade.pt")
    loaded = load_checkpoint(ckpt)
    assert loaded.plan == parts.plan
    out = export_cascade(loaded, random_codec(23, "tiny", 0), tmp_path / "from-ckpt", semantic=path,
                         lexicon=None, log=lambda *_: None)
    a, b = voxlite.load(path), voxlite.load(out)
    src = a.phones.encode("Hello there.")
    o = a.options(seed=3, temperature=1.0, top_k=5)
    assert a.semantic(src, o).tolist() == b.semantic(src, o).tolist()


def test_bad_checkpoints_are_refused(tmp_path):
    from export import ExportError
    from export.cascade import load_checkpoint

    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ExportError, match="readable"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ExportError, match="voxlite-cascade"):
        load_checkpoint(tmp_path / "other.pt")


def test_int8_bundles_run_and_repeat(inputs, tmp_path):
    """int8 LMs (each graph within its exporter's SNR bound at export); the vocoders and the codec stay float."""
    from export import main

    out = tmp_path / "mav-int8"
    assert main(["cascade", "--system", "make-a-voice", "--random-init", "--config", "tiny", "--seed", "0", "--out",
                 str(out), "--lexicon", str(inputs / "lexicon.json"), "--precision", "fp32", "int8"]) == 0
    model = voxlite.load(out, precision="int8")
    a = model.synthesize("Hello there.", noise(0.5, seed=1), seed=3)
    ran = model.graph_precisions
    assert {g for g, p in ran.items() if p == "int8"} >= {"s1/encode", "s1/step", "s2/prefill", "s2/step"}, ran
    assert ran["vocoder/decode"] == "fp32" and ran["codec/encoder"] == "fp32"
    b = model.synthesize("Hello there.", noise(0.5, seed=1), seed=3)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.samples.size > 0
