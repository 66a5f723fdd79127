"""AudioLDM 2 end to end: a tiny diffusers ``AudioLDM2Pipeline`` (random weights, tokenizers trained here) saved in
the published checkpoint layout -> ``python -m export audioldm2`` -> a bundle whose runtime (ONNX Runtime and
OpenVINO, the denoising loop in voxlite's native solvers) reproduces diffusers' audio for the same initial noise.
Also: the prompt tokenizers against transformers', the options' bounds, and bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from tests.models import audioldm2_official as official  # noqa: E402

# fp32 end to end over a diffusion loop: 5 of 5,120 samples differ by 1.2-1.3e-4 on an AVX-512 / AMX CPU (Intel Xeon),
# where torch's and ONNX Runtime's kernels round differently; under 1e-4 on AVX2 (AMD EPYC). Audio peaks ~0.04.
AUDIO_ATOL = 2e-4
PROMPT, NEGATIVE = "rain on a tin roof", "low quality, noise"
SECONDS = 0.32  # 32 mel frames -> latents (4, 16, 8)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.set_num_threads(1)
    return official.save_checkpoint(tmp_path_factory.mktemp("audioldm2-ckpt") / "tiny-audioldm2")


@pytest.fixture(scope="module")
def bundle(checkpoint, tmp_path_factory):
    from export.audioldm2 import main

    out = tmp_path_factory.mktemp("audioldm2-bundle") / "bundle"
    assert main(["--checkpoint", str(checkpoint), "--out", str(out), "--precision", "fp32", "fp16", "int8",
                 "--openvino-ir", "--default-steps", "10"]) == 0
    return out


@pytest.fixture(scope="module")
def pipe(checkpoint):
    from diffusers import AudioLDM2Pipeline

    return AudioLDM2Pipeline.from_pretrained(str(checkpoint), local_files_only=True)


def _noise(model, n=1, seed=3):
    _, rows, _, width = model.latent_shape(SECONDS)
    return np.random.default_rng(seed).standard_normal((n, model.unet_hp.latent_channels, rows, width),
                                                       dtype=np.float32)


def _diffusers_audio(pipe, noise, *, steps=5, guidance=3.5, negative=NEGATIVE, solver="ddim", prompt=PROMPT):
    if solver == "dpmpp-2m":
        from diffusers import DPMSolverMultistepScheduler

        pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    else:
        from diffusers import DDIMScheduler

        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    with torch.no_grad():
        out = pipe(prompt, num_inference_steps=steps, audio_length_in_s=SECONDS, guidance_scale=guidance,
                   negative_prompt=negative, latents=torch.from_numpy(noise), output_type="np")
    return out.audios


@pytest.mark.parametrize("backend", ["cpu", "openvino"])
@pytest.mark.parametrize("solver", ["ddim", "dpmpp-2m"])
def test_audio_equals_diffusers_for_the_same_noise(bundle, pipe, backend, solver):
    import voxlite

    model = voxlite.load(bundle, backend=backend, precision="fp32")
    noise = _noise(model)
    want = _diffusers_audio(pipe, noise, solver=solver)
    got = model.generate(PROMPT, seconds=SECONDS, steps=5, guidance=3.5, negative=NEGATIVE, noise=noise,
                         solver=solver)
    assert got.sample_rate == official.SAMPLE_RATE
    assert got.samples.shape == want[0].shape
    np.testing.assert_allclose(got.samples, want[0], atol=AUDIO_ATOL, rtol=0)
    assert np.abs(want[0]).max() > 10 * AUDIO_ATOL  # not silence


def test_no_guidance_and_no_negative(bundle, pipe):
    import voxlite

    model = voxlite.load(bundle, precision="fp32")
    noise = _noise(model, seed=4)
    for guidance, negative in ((1.0, None), (2.5, None)):
        want = _diffusers_audio(pipe, noise, guidance=guidance, negative=negative)
        got = model.generate(PROMPT, seconds=SECONDS, steps=4, guidance=guidance, negative=negative, noise=noise)
        np.testing.assert_allclose(got.samples, want[0], atol=AUDIO_ATOL, rtol=0)


def test_long_negative_prompt_is_cut_to_the_prompts_length(bundle, pipe):
    """diffusers pads or cuts the negative prompt's T5 tokens to the prompt's length; so does the runtime."""
    import voxlite

    model = voxlite.load(bundle, precision="fp32")
    noise = _noise(model, seed=5)
    negative = "birds singing in the forest at dawn and thunder and heavy rain at night"
    want = _diffusers_audio(pipe, noise, negative=negative, prompt="a dog barks")
    got = model.generate("a dog barks", seconds=SECONDS, steps=5, negative=negative, noise=noise)
    np.testing.assert_allclose(got.samples, want[0], atol=AUDIO_ATOL, rtol=0)


def _snr(ref, got) -> float:
    ref = ref.astype(np.float64)
    return float(10 * np.log10(np.sum(ref ** 2) / np.sum((got - ref) ** 2)))


def test_quantized_variants_stay_close_and_seeds_reproduce(bundle):
    import voxlite

    fp32 = voxlite.load(bundle, precision="fp32")
    a = fp32.generate(PROMPT, seconds=SECONDS, steps=5, seed=11)
    b = fp32.generate(PROMPT, seconds=SECONDS, steps=5, seed=11)
    c = fp32.generate(PROMPT, seconds=SECONDS, steps=5, seed=12)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.allclose(a.samples, c.samples)
    half = voxlite.load(bundle, precision="fp16").generate(PROMPT, seconds=SECONDS, steps=5, seed=11)
    assert _snr(a.samples, half.samples) > 30  # fp16 graphs (every component)
    # the int8 UNet / LM on random tiny weights (block-wise); the README states the published-size figure
    q = voxlite.load(bundle, precision="int8").generate(PROMPT, seconds=SECONDS, steps=5, seed=11)
    assert _snr(a.samples, q.samples) > 10


def test_prompt_tokenizers_match_transformers(bundle, checkpoint):
    from transformers import AutoTokenizer

    import voxlite

    model = voxlite.load(bundle)
    clap, t5 = model.tokenizers
    ref_clap = AutoTokenizer.from_pretrained(str(checkpoint / "tokenizer"), local_files_only=True)
    ref_t5 = AutoTokenizer.from_pretrained(str(checkpoint / "tokenizer_2"), local_files_only=True)
    prompts = [PROMPT, "", "A dog!!  barks,   at 3:00 in the café", "x" * 300, "techno " * 40, "\u4e2d\u6587 text"]
    for p in prompts:
        want = ref_clap(p, truncation=True, max_length=ref_clap.model_max_length).input_ids
        assert clap.encode(p).tolist() == want, p
        want = ref_t5(p, truncation=True, max_length=ref_t5.model_max_length).input_ids
        assert t5.encode(p).tolist() == want, p


def test_manifest_declares_components_and_capability(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["model_type"] == "audioldm2"
    assert manifest["capabilities"] == ["text-to-audio"]
    kinds = {name: c["kind"] for name, c in manifest["components"].items()}
    assert kinds == {"text": "audioldm2-prompt", "lm": "audioldm2-lm", "unet": "audioldm2-unet",
                     "decoder": "audioldm2-decoder", "ranker": "clap-audio"}


def test_several_waveforms_are_ranked_by_clap(bundle):
    import voxlite

    model = voxlite.load(bundle, precision="fp32")
    ranked = model.generate_all(PROMPT, seconds=SECONDS, steps=3, seed=2, waveforms=3)
    singles = model.generate_all(PROMPT, seconds=SECONDS, steps=3, seed=2, waveforms=3, noise=_noise(model, 3, 2))
    assert len(ranked) == 3
    order, sims = model.rank(PROMPT, np.stack([a.samples for a in singles]))
    assert np.all(np.diff(sims[order]) <= 0)


@pytest.mark.parametrize("options, match", [
    (dict(prompt=""), "prompt is empty"),
    (dict(prompt="x" * 5000), "limit"),
    (dict(seconds=0), "seconds"),
    (dict(seconds=1e6), "seconds"),
    (dict(seconds=float("nan")), "seconds"),
    (dict(steps=0), "steps"),
    (dict(steps=10 ** 6), "steps"),
    (dict(steps=2.5), "steps"),
    (dict(guidance=-1.0), "guidance"),
    (dict(solver="euler"), "solver"),
    (dict(waveforms=0), "waveforms"),
    (dict(seed=-1), "seed"),
    (dict(transcription="hello"), "takes no transcription"),
    (dict(noise=np.zeros((1, 2, 3), np.float32)), "noise must have shape"),
])
def test_bad_options_are_typed_errors(bundle, options, match):
    import voxlite
    from voxlite.errors import InvalidInput

    model = voxlite.load(bundle)
    options = {"prompt": PROMPT, "seconds": SECONDS, "steps": 2, **options}
    with pytest.raises(InvalidInput, match=match):
        model.generate(options.pop("prompt"), **options)


def test_sound_bundle_is_not_a_voice(bundle):
    import voxlite
    from voxlite.errors import CapabilityError

    with pytest.raises(CapabilityError):
        voxlite.load(bundle, task="text-to-speech")


def test_cli_generate_writes_audio_and_nothing_on_error(bundle, tmp_path):
    from voxlite.audio import read_audio
    from voxlite.cli.main import main

    out = tmp_path / "rain.wav"
    assert main(["generate", PROMPT, "-o", str(out), "--bundle", str(bundle), "--seconds", "0.32", "--steps", "3",
                 "--cfg", "2.5", "--negative", "noise", "--seed", "1", "-q"]) == 0
    audio = read_audio(out)
    assert audio.sample_rate == official.SAMPLE_RATE and audio.samples.size == int(0.32 * audio.sample_rate)
    bad = tmp_path / "bad.wav"
    assert main(["generate", PROMPT, "-o", str(bad), "--bundle", str(bundle), "--seconds", "0", "-q"]) == 1
    assert not bad.exists()


def test_prompt_over_the_token_limit_is_cut_and_logged(bundle, caplog):
    import voxlite

    model = voxlite.load(bundle)
    long_prompt = "rain on a tin roof " * 30  # well past the tiny tokenizers' 24 / 32 tokens
    with caplog.at_level("WARNING", logger="voxlite"):
        model.generate(long_prompt, seconds=SECONDS, steps=1)
    assert any("prompt cut to its first" in r.getMessage() for r in caplog.records)


def test_export_refuses_what_is_not_an_audioldm2_checkpoint(checkpoint, tmp_path):
    import shutil

    from export import ExportError
    from export.audioldm2 import main

    out = tmp_path / "out"
    with pytest.raises(ExportError, match="model_index.json"):
        main(["--checkpoint", str(tmp_path), "--out", str(out)])
    other = tmp_path / "other"
    shutil.copytree(checkpoint, other)
    index = json.loads((other / "model_index.json").read_text())
    (other / "model_index.json").write_text(json.dumps({**index, "_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(ExportError, match="not AudioLDM2Pipeline"):
        main(["--checkpoint", str(other), "--out", str(out)])
    (other / "model_index.json").write_text(json.dumps(index))
    (other / "unet" / "config.json").unlink()
    with pytest.raises(ExportError, match="config.json"):
        main(["--checkpoint", str(other), "--out", str(out)])
    assert not out.exists()
