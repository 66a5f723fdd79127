"""VibeVoice bundle end to end: export the tiny config (random weights) -> the NumPy pipeline's generation of a
two-speaker script with voice prompts (same seed, same noise) against ``VibeVoice.generate`` (control tokens, audio)
on ONNX Runtime and OpenVINO -> streaming == offline -> int8 -> the script parser and bad input."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
from export.vibevoice import build, export_vibevoice  # noqa: E402
from export.voxcpm import tiny_tokenizer_json  # noqa: E402
from voxlite.audio import Audio  # noqa: E402
from voxlite.errors import InvalidInput  # noqa: E402
from voxlite.pipelines.vibevoice import parse_script  # noqa: E402

SCRIPT = "Speaker 1: hello world.\nSpeaker 2: this is a test!\nSpeaker 1: 你好!"
STEPS = 4
MAX_LATENTS = 12
OPENVINO_ATOL = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.set_num_threads(1)
    model = build(None, "tiny", 0)
    out = tmp_path_factory.mktemp("vibevoice") / "bundle"
    export_vibevoice(model, out, precisions=("fp32", "int8"), log=lambda *_: None,
                     provenance={"weights": "random (seed 0)"}, max_positions=512,
                     tokenizer=tiny_tokenizer_json(100).encode())
    return model, out


@pytest.fixture(scope="module")
def cpu_model(exported):
    return voxlite.load(exported[1], backend="cpu")


def _voices(sr):
    g = np.random.default_rng(5)
    return {1: Audio((g.standard_normal(sr // 2) * 0.1).astype(np.float32), sr),
            2: Audio((g.standard_normal(sr // 3) * 0.1).astype(np.float32), sr)}


def _reference(model, prompt, *, seed, steps, cfg, max_new):
    """VibeVoice.generate on the pipeline's prompt with the pipeline's noise -> (tokens, audio)."""
    from voxlite.kernels.noise import standard_normal

    ids = torch.from_numpy(prompt.ids)[None]
    latents = torch.from_numpy(prompt.latents)[None]
    mask = torch.from_numpy(prompt.speech_mask)[None]
    out = list(model.generate(ids, latents, mask, noise=lambda i, shape: torch.from_numpy(standard_normal(seed, i, shape)),
                              cfg_scale=cfg, steps=steps, max_new_tokens=max_new))
    audio = [s.audio.reshape(-1).numpy() for s in out if s.audio is not None]
    return [s.token for s in out], np.concatenate(audio) if audio else np.zeros(0, np.float32)


def _pipeline(m, *, seed=0, steps=STEPS, cfg=1.3, max_latents=MAX_LATENTS):
    prompt = m._prepare(SCRIPT, _voices(m.sample_rate), None, seed)
    steps_out = list(m.generate_steps(prompt, options=m.options(cfg=cfg, steps=steps, seed=seed,
                                                                max_latents=max_latents)))
    audio = [a for _, a in steps_out if a is not None]
    return prompt, [t for t, _ in steps_out], np.concatenate(audio) if audio else np.zeros(0, np.float32)


def test_voice_prompt_latents_match_reference(exported, cpu_model):
    """encode_voice: the codec's mean of the -25 dBFS prompt plus the sigma-VAE draw, as the reference computes it."""
    from voxlite.kernels.noise import standard_normal
    from voxlite.pipelines.vibevoice import normalize_voice

    model, _ = exported
    voice = _voices(cpu_model.sample_rate)[1]
    ours = cpu_model.encode_voice(voice, seed=3, index=1)
    with torch.no_grad():
        x = np.pad(normalize_voice(voice.samples), (0, (-voice.samples.size) % cpu_model.hop_length))
        mean = model.acoustic.encode(torch.from_numpy(x)[None, None])[0].T.numpy()
    n, d = mean.shape
    draw = standard_normal(3, 2 ** 20 + 1, (1 + n * d,))
    c = model.config.acoustic
    want = mean + draw[0] * c.fix_std / 0.8 * draw[1:].reshape(n, d)
    want = (want + float(model.latent_bias)) * float(model.latent_scale)
    np.testing.assert_allclose(ours, want, atol=1e-5)


@pytest.mark.parametrize("backend", ["cpu", "openvino"])
def test_pipeline_matches_reference(exported, backend):
    model, path = exported
    m = voxlite.load(path, backend=backend, allow_fallback=False) if backend == "cpu" else _openvino(path)
    prompt, tokens, audio = _pipeline(m, seed=2)
    assert tokens.count(m.diffusion_id) >= 3, "too few latents: the comparison would prove little"
    with torch.no_grad():
        ref_tokens, ref_audio = _reference(model, prompt, seed=2, steps=STEPS, cfg=1.3, max_new=len(tokens))
    assert tokens == ref_tokens
    np.testing.assert_allclose(audio, ref_audio, atol=1e-5 if backend == "cpu" else OPENVINO_ATOL)


def _openvino(path):
    pytest.importorskip("openvino")
    return voxlite.load(path, backend="openvino")


def test_prompt_layout(cpu_model):
    """The official processor's layout: system, voices (start, placeholders, end per speaker), text, output."""
    m = cpu_model
    prompt = m._prepare(SCRIPT, _voices(m.sample_rate), None, 0)
    ids, mask = prompt.ids.tolist(), prompt.speech_mask
    tpl = m.hparams.template
    enc = m._encode
    expect = enc(tpl.system) + enc(tpl.voice_header)
    for s, voice in ((0, _voices(m.sample_rate)[1]), (1, _voices(m.sample_rate)[2])):
        n = -(-voice.samples.size // m.hop_length)
        expect += enc(f" Speaker {s}:") + [m.start_id] + [m.diffusion_id] * n + [m.end_id] + enc("\n")
    expect += enc(tpl.text_header)
    for s, text in ((0, " hello world."), (1, " this is a test!"), (0, " 你好!")):
        expect += enc(f" Speaker {s}:{text}\n")
    expect += enc(tpl.speech_header) + [m.start_id]
    assert ids == expect
    assert mask.sum() == ids.count(m.diffusion_id)
    assert np.all(prompt.latents[~mask] == 0) and np.all(np.abs(prompt.latents[mask]).sum(-1) > 0)


def test_stream_equals_synthesize(cpu_model):
    voices = _voices(cpu_model.sample_rate)
    chunks = list(cpu_model.stream(SCRIPT, voices=voices, steps=STEPS, seed=1, max_latents=6))
    whole = cpu_model.synthesize(SCRIPT, voices=voices, steps=STEPS, seed=1, max_latents=6)
    assert chunks and all(c.size == cpu_model.hop_length for c in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks), whole.samples)
    assert whole.sample_rate == cpu_model.sample_rate


def test_plain_text_and_one_voice(cpu_model):
    """Plain text is one speaker's script; prompt_audio that speaker's voice (the voice-cloning protocol)."""
    voice = _voices(cpu_model.sample_rate)[1]
    a = cpu_model.synthesize("hello world.", prompt_audio=voice, steps=STEPS, seed=4, max_latents=5)
    b = cpu_model.synthesize("Speaker 1: hello world.", voices={1: voice}, steps=STEPS, seed=4, max_latents=5)
    np.testing.assert_array_equal(a.samples, b.samples)


def test_int8_runs(exported):
    m = voxlite.load(exported[1], backend="cpu", precision="int8")
    _, tokens, audio = _pipeline(m, seed=2, max_latents=5)
    assert np.isfinite(audio).all() and audio.size == tokens.count(m.diffusion_id) * m.hop_length


def test_parse_script():
    assert parse_script("Speaker 1: Hi.\n\n speaker 2 :  there \nSpeaker 1:again") == \
        [(0, " Hi."), (1, " there"), (0, " again")]
    assert parse_script("Speaker 0: a\nSpeaker 1: b") == [(0, " a"), (1, " b")]
    with pytest.raises(InvalidInput, match="line 2"):
        parse_script("Speaker 1: a\nnarrator says b")
    with pytest.raises(InvalidInput, match="at most 4"):
        parse_script("\n".join(f"Speaker {i}: x" for i in range(1, 6)))
    with pytest.raises(InvalidInput, match="empty"):
        parse_script("  \n ")
    with pytest.raises(InvalidInput, match="no text"):
        parse_script("Speaker 1:   ")


@pytest.mark.parametrize("call, match", [
    (lambda m, v: m.synthesize("", max_latents=2), "empty"),
    (lambda m, v: m.synthesize("Speaker 1: a\nSpeaker 2: b", voices={1: v[1]}), "no voice prompt for speaker"),
    (lambda m, v: m.synthesize("Speaker 1: a", voices={1: v[1], 2: v[2]}), "say nothing"),
    (lambda m, v: m.synthesize("Speaker 1: a", voices={"x": v[1]}), "not a speaker number"),
    (lambda m, v: m.synthesize("a", prompt_audio=v[1], voices={1: v[1]}), "not both"),
    (lambda m, v: m.synthesize("Speaker 1: a\nSpeaker 2: b", prompt_audio=v[1]), "several speakers"),
    (lambda m, v: m.synthesize("hello", cfg=-1.0), "cfg"),
    (lambda m, v: m.synthesize("hello", steps=0), "steps"),
    (lambda m, v: m.synthesize("hello", max_latents=0), "max_latents"),
    (lambda m, v: m.synthesize("Speaker 1: " + "word " * 400), "too long"),
    (lambda m, v: m.synthesize("Speaker 1: a", voices={1: np.zeros((2, 2, 2), np.float32)}, prompt_sample_rate=24000),
     "voice prompt"),
])
def test_bad_input(cpu_model, call, match):
    with pytest.raises(InvalidInput, match=match):
        call(cpu_model, _voices(cpu_model.sample_rate))


# -- voxlite say --script --------------------------------------------------------------------------------------------
@pytest.fixture()
def voice_files(tmp_path, cpu_model):
    from voxlite.audio import write_audio

    voices = _voices(cpu_model.sample_rate)
    return {n: str(write_audio(tmp_path / f"v{n}.wav", a.samples, a.sample_rate)) for n, a in voices.items()}


def test_say_script(exported, voice_files, tmp_path, monkeypatch, capsys):
    """The CLI speaks a dialogue file with a voice per speaker, and the same script from standard input."""
    import io

    from voxlite.audio import read_audio
    from voxlite.cli.main import main

    script = tmp_path / "dialogue.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    out = tmp_path / "pod.wav"
    args = ["--voice", f"1={voice_files[1]}", "--voice", f"2={voice_files[2]}", "--bundle", str(exported[1]),
            "--steps", "2", "--seed", "3", "-q"]
    assert main(["say", "--script", str(script), "-o", str(out), *args]) == 0
    audio = read_audio(out)
    assert audio.sample_rate == 3000 and audio.samples.size > 0 and audio.samples.size % 30 == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(SCRIPT))
    out2 = tmp_path / "pod2.wav"
    assert main(["say", "--script", "-", "-o", str(out2), *args]) == 0
    np.testing.assert_array_equal(read_audio(out2).samples, audio.samples)


@pytest.mark.parametrize("extra, message", [
    (["--voice", "alice.wav"], "N=FILE"),
    (["--voice", "1=a.wav", "--voice", "1=b.wav"], "two voices"),
    (["--voice-text", "hi"], "need no transcripts"),
    (["--speed", "0.8"], "--speed: a --script"),
    (["--pause", "0.3"], "--pause: a --script"),
])
def test_say_script_refusals(exported, tmp_path, capsys, extra, message):
    from voxlite.cli.main import main

    script = tmp_path / "dialogue.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    out = tmp_path / "pod.wav"
    assert main(["say", "--script", str(script), "-o", str(out), "--bundle", str(exported[1]), *extra]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_say_script_needs_a_multi_speaker_bundle(tmp_path, capsys):
    """The default voice speaks one voice: a script is refused naming what it can do."""
    from voxlite.cli.main import main

    script = tmp_path / "dialogue.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    assert main(["say", "--script", str(script), "-o", str(tmp_path / "x.wav")]) == 1
    assert "cannot do multi-speaker" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def test_say_plain_text_and_refused_options(exported, voice_files, tmp_path, capsys):
    """Plain text with one transcript-free voice; options the family cannot do are one-line refusals."""
    from voxlite.cli.main import main

    out = tmp_path / "one.wav"
    base = ["--bundle", str(exported[1]), "--steps", "2", "-q"]
    assert main(["say", "Hello there.", "-o", str(out), "--voice", voice_files[1], "--volume=-6dB", *base]) == 0
    assert out.stat().st_size > 44
    for extra, message in ((["--speed", "0.8"], "speed"), (["--flow-start", "0.5"], "flow_start"),
                           (["--temperature", "0.7"], "does not sample")):
        bad = tmp_path / "bad.wav"
        assert main(["say", "Hello.", "-o", str(bad), *base, *extra]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert not bad.exists()
