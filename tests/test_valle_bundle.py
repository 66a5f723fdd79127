"""VALL-E bundles end to end at the tiny random config: export (every graph verified against the reference at export),
the runtime's codes against the reference model's ``generate`` with the same native sampler, backends agreeing on
the codes for a seed, SpeechX task sequences run through the graphs, and bad input refused with typed errors."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
from voxlite.audio import Audio, read_audio  # noqa: E402
from voxlite.errors import AudioError, CapabilityError, InvalidInput  # noqa: E402
from voxlite.kernels import sampling  # noqa: E402
from voxlite.pipelines import speechx  # noqa: E402


def _export(out, *, speechx_tasks: bool, seed: int = 0, precisions=("fp32", "int8")):
    from export.codec import encodec_parts
    from export.valle import LM_GRAPHS, build, export_valle
    from export.vallex_text import tiny_vocab_json
    from voxlite.hparams import SPEECHX_TASKS

    model = build(None, "tiny", seed, speechx=speechx_tasks)
    codec = encodec_parts(None, "tiny", seed)
    export_valle(model, codec, out, precisions=precisions, vocab=tiny_vocab_json().encode(),
                 tasks=SPEECHX_TASKS if speechx_tasks else (), log=lambda *_: None,
                 int8_blockwise=LM_GRAPHS)  # dynamic int8 is too coarse at width 32 (see export.valle)
    return model


@pytest.fixture(scope="module")
def speechx_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("valle") / "speechx"
    return out, _export(out, speechx_tasks=True)


@pytest.fixture(scope="module")
def tts_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("valle") / "tts"
    return out, _export(out, speechx_tasks=False, seed=1, precisions=("fp32",))


def _inputs(seed=0, n_text=6, n_prompt_text=3, n_prompt=10):
    g = np.random.default_rng(seed)
    return g.integers(0, 80, n_text), g.integers(0, 80, n_prompt_text), g.integers(0, 32, (n_prompt, 4))


class NativeSampler:
    """The runtime's draw for step i, for the reference model's ``generate``."""

    def __init__(self, seed, **options):
        self.seed, self.options, self.step = seed, options, 0

    def __call__(self, logits):
        token = sampling.sample(logits[None].numpy().astype(np.float32), seed=self.seed, step=self.step,
                                **self.options)
        self.step += 1
        return int(token[0])


@pytest.mark.parametrize("seed,top_k", [(3, 20), (7, 0)])
def test_runtime_codes_equal_the_reference(speechx_bundle, seed, top_k):
    path, reference = speechx_bundle
    model = voxlite.load(path, precision="fp32")
    text, prompt_text, prompt = _inputs(seed)
    codes = model.generate_codes(text, prompt_text, prompt, options=model.options(seed=seed, top_k=top_k))
    full = torch.tensor(np.concatenate((prompt_text, text)))[None]
    want = reference.generate(full, torch.zeros_like(full), torch.tensor(prompt)[None],
                              NativeSampler(seed, temperature=1.0, top_k=top_k, top_p=1.0))[0].numpy()
    assert codes.shape == want.shape and codes.shape[0] > 0
    np.testing.assert_array_equal(codes, want)


def test_without_a_prompt_and_the_frame_cap(speechx_bundle):
    path, reference = speechx_bundle
    model = voxlite.load(path, precision="fp32")
    text = np.array([5, 6])
    codes = model.generate_codes(text, options=model.options(seed=11, max_length=9))
    want = reference.generate(torch.tensor(text)[None], torch.zeros(1, 2, dtype=torch.long),
                              torch.zeros(1, 0, 4, dtype=torch.long), NativeSampler(11), max_frames=9)[0].numpy()
    np.testing.assert_array_equal(codes, want)
    assert codes.shape[0] <= 9


def test_same_seed_same_codes_on_onnxruntime_and_openvino(speechx_bundle):
    pytest.importorskip("openvino")
    path, _ = speechx_bundle
    text, prompt_text, prompt = _inputs(4)
    runs = {}
    for backend in ("cpu", "openvino"):  # cpu: ONNX Runtime
        model = voxlite.load(path, backend=backend, precision="fp32")
        runs[backend] = model.generate_codes(text, prompt_text, prompt, options=model.options(seed=4))
    np.testing.assert_array_equal(runs["cpu"], runs["openvino"])


def test_int8_is_reproducible_and_close(speechx_bundle):
    path, _ = speechx_bundle
    model = voxlite.load(path, precision="int8")
    text, prompt_text, prompt = _inputs(5)
    a = model.generate_codes(text, prompt_text, prompt, options=model.options(seed=5))
    assert {model.graph_precisions[f"lm/{g}"] for g in ("ar_prefill", "ar_step", "nar")} == {"int8"}
    b = model.generate_codes(text, prompt_text, prompt, options=model.options(seed=5))
    np.testing.assert_array_equal(a, b)
    assert model.decode(a).dtype == np.float32


def _run_reference_task(reference, sequence, max_frames, seed):
    text = torch.tensor(sequence.text_ids)[None]
    forced = torch.tensor(sequence.forced) if sequence.forced.shape[0] else None
    sampler = NativeSampler(seed)
    sampler.step = sequence.forced.shape[0]  # the runtime's draw for frame i is step i, forced frames included
    return reference.generate(text, torch.zeros_like(text), torch.tensor(sequence.prompt)[None],
                              sampler, max_frames=max_frames, forced=forced)[0].numpy()


def test_speechx_task_sequences_run_through_the_graphs(speechx_bundle):
    path, reference = speechx_bundle
    model = voxlite.load(path, precision="fp32", task="speech-to-speech")
    g = np.random.default_rng(9)
    noisy, enrolment = g.integers(0, 32, (14, 4)), g.integers(0, 32, (6, 4))
    kw = dict(n_q=4, n_audio_tokens=32)
    sequences = [speechx.noise_suppression(noisy, None, **kw), speechx.speech_removal(noisy, [1, 2], **kw),
                 speechx.target_speaker_extraction(enrolment, noisy, [3], **kw)]
    for seq in sequences:
        got = model.run_task(seq, max_frames=20, options=model.options(seed=2))
        want = _run_reference_task(reference, seq, 20, seed=2)
        # the reference forces nothing here; the NAR stages see the same task-token prompt
        np.testing.assert_array_equal(got, want)


def test_speech_editing_keeps_the_forced_frames(speechx_bundle):
    path, reference = speechx_bundle
    model = voxlite.load(path, precision="fp32")
    source = np.random.default_rng(1).integers(0, 32, (16, 4))
    seq = speechx.speech_editing(source, 5, 9, [4, 5, 6, 7], n_q=4, n_audio_tokens=32)
    got = model.run_task(seq, max_frames=30, options=model.options(seed=6))
    assert got.shape[0] >= 5
    np.testing.assert_array_equal(got[:5], source[:5])  # every codebook of the frames before the edit
    want = _run_reference_task(reference, seq, 30, seed=6)
    np.testing.assert_array_equal(got[:, 0], want[:, 0])  # the AR: forced, then sampled alike


def test_text_to_speech_and_cloning_through_the_front_end(tts_bundle, tmp_path):
    path, _ = tts_bundle
    model = voxlite.load(path, task="voice-cloning")
    prompt = tmp_path / "prompt.wav"
    Audio(np.random.default_rng(0).standard_normal(2400).astype(np.float32) * 0.1, 2400).save(prompt)
    a = model.synthesize("Hello there. How are you?", prompt_audio=prompt, prompt_text="A short prompt.", seed=1)
    b = model.synthesize("Hello there. How are you?", prompt_audio=prompt, prompt_text="A short prompt.", seed=1)
    assert a.sample_rate == 2400 and a.samples.size > 0
    np.testing.assert_array_equal(a.samples, b.samples)
    chunks = list(model.stream("Hello there. How are you?", prompt_audio=prompt, prompt_text="A short prompt.",
                               seed=1))
    assert len(chunks) == 2  # one per sentence
    np.testing.assert_array_equal(np.concatenate(chunks), a.samples)


def test_bad_input_is_refused(tts_bundle, speechx_bundle, tmp_path):
    path, _ = tts_bundle
    model = voxlite.load(path)
    prompt = tmp_path / "prompt.wav"
    Audio(np.zeros(2400, np.float32) + 0.01, 2400).save(prompt)
    with pytest.raises(InvalidInput, match="transcript"):
        model.synthesize("Hello.", prompt_audio=prompt)
    with pytest.raises(InvalidInput, match="empty"):
        model.synthesize("   ")
    long = tmp_path / "long.wav"
    Audio(np.zeros(2400 * 31, np.float32) + 0.01, 2400).save(long)
    with pytest.raises(InvalidInput, match="too long|limit"):
        model.synthesize("Hello.", prompt_audio=long, prompt_text="Hi.")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wav")
    with pytest.raises(AudioError):
        model.synthesize("Hello.", prompt_audio=broken, prompt_text="Hi.")
    with pytest.raises(InvalidInput, match="cfg"):
        model.synthesize("Hello.", cfg=2.0)
    with pytest.raises(CapabilityError):
        voxlite.load(path, task="speech-to-speech")
    with pytest.raises(CapabilityError, match="not trained for noise-suppression"):
        model.enhance(prompt)
    sx = voxlite.load(speechx_bundle[0])
    two_seconds = tmp_path / "two.wav"
    Audio(np.zeros(4800, np.float32) + 0.01, 2400).save(two_seconds)
    with pytest.raises(InvalidInput, match="shorter than"):
        sx.extract(prompt, two_seconds)
    with pytest.raises(InvalidInput, match="not in the transcript"):
        sx.edit(prompt, "hello world", replace="goodbye", with_="hi")
    with pytest.raises(InvalidInput, match="not trained for karaoke"):
        sx.transform(prompt, task="karaoke")


def test_cli_commands_leave_no_partial_output(speechx_bundle, tmp_path):
    from voxlite.cli.main import main

    path, _ = speechx_bundle
    noisy = tmp_path / "noisy.wav"
    Audio(np.random.default_rng(3).standard_normal(4800).astype(np.float32) * 0.1, 2400).save(noisy)
    short = tmp_path / "short.wav"
    Audio(np.random.default_rng(4).standard_normal(1200).astype(np.float32) * 0.1, 2400).save(short)
    out = tmp_path / "clean.wav"
    assert main(["enhance", str(noisy), "-o", str(out), "--bundle", str(path)]) == 0
    assert read_audio(out).samples.size > 0
    bad = tmp_path / "extracted.wav"
    assert main(["extract", str(short), "--speaker", str(noisy), "-o", str(bad), "--bundle", str(path)]) == 1
    assert not bad.exists() and not list(tmp_path.glob("*.tmp*"))
    edited = tmp_path / "edited.wav"
    assert main(["edit", str(noisy), "--transcript", "the cat sat on the mat", "--replace", "cat", "--with", "dog",
                 "-o", str(edited), "--bundle", str(path)]) == 0
    assert edited.exists()


def test_export_from_official_checkpoint_files(tmp_path):
    """``python -m export valle --checkpoint``: a VALL-E X checkpoint file (tiny, random) and an EnCodec 24 kHz .th
    (the official package's architecture, random weights) -> a bundle whose lm equals the official model's."""
    import importlib.util

    if importlib.util.find_spec("vallex") is None:  # importing the package itself pulls lhotse
        pytest.skip("VALL-E-X not installed")
    pytest.importorskip("encodec")
    from encodec import EncodecModel

    from export.vallex_text import tiny_vocab_json
    from tests.models.official import import_vallex_model
    from voxlite.models.valle import VallE  # noqa: F401

    official = import_vallex_model()
    torch.manual_seed(0)
    vallex = official.VALLE(32, 2, 1, norm_first=True, add_prenet=False, prefix_mode=1, num_quantizers=8)
    with torch.no_grad():
        for p in vallex.parameters():
            p.add_(0.05 * torch.randn_like(p))
    torch.save({"model": vallex.state_dict()}, tmp_path / "vallex-checkpoint.pt")
    torch.save(EncodecModel.encodec_model_24khz(pretrained=False).state_dict(), tmp_path / "encodec_24khz.th")
    (tmp_path / "bpe_69.json").write_text(tiny_vocab_json(), encoding="utf-8")
    from export import main

    out = tmp_path / "bundle"
    assert main(["valle", "--checkpoint", str(tmp_path / "vallex-checkpoint.pt"), "--heads", "2",
                 "--codec-checkpoint", str(tmp_path / "encodec_24khz.th"), "--vocab", str(tmp_path / "bpe_69.json"),
                 "--out", str(out)]) == 0
    model = voxlite.load(out, task="text-to-speech")
    assert model.sample_rate == 24000 and model.hparams.n_quantizers == 8 and model.hparams.languages == ("en", "zh", "ja")
    text = np.array([3, 9, 27, 4])
    vallex.eval()
    logits = model.sessions.get("lm/ar_prefill").run({"text": text[None], "language": np.zeros((1, 4), np.int64),
                                                       "audio": np.array([[1025]])})["logits"]
    with torch.no_grad():
        x = vallex.ar_text_position(vallex.ar_text_embedding(torch.tensor(text)[None])
                                    + vallex.ar_language_embedding(torch.zeros(1, 4, dtype=torch.long)))
        y = vallex.ar_audio_position(vallex.ar_audio_embedding(torch.tensor([[1025]])))
        mask = torch.zeros(5, 5, dtype=torch.bool)
        mask[:4, 4] = True
        h, _ = vallex.ar_decoder.infer(torch.cat((x, y), 1), mask=mask, past_kv=None, use_cache=True)
        want = vallex.ar_predict_layer(h[:, -1]).numpy()
    np.testing.assert_allclose(logits, want, atol=1e-4)
