"""AudioLDM 2's speech variant end to end: a tiny diffusers pipeline with a VITS text encoder in place of T5 (the
published speech checkpoints' layout; a transcription is read) -> export -> a ``text-to-speech`` bundle whose audio
equals diffusers' for the same noise; ``voxlite say`` drives it."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from tests.models import audioldm2_official as official  # noqa: E402

PROMPT, WORDS = "A female reporter is speaking", "wish you have a good day"
SECONDS = 0.32


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.set_num_threads(1)
    return official.save_checkpoint(tmp_path_factory.mktemp("audioldm2-speech") / "ckpt", speech=True)


@pytest.fixture(scope="module")
def bundle(checkpoint, tmp_path_factory):
    from export.audioldm2 import main

    out = tmp_path_factory.mktemp("audioldm2-speech-bundle") / "bundle"
    assert main(["--checkpoint", str(checkpoint), "--out", str(out), "--no-ranker", "--default-steps", "4"]) == 0
    return out


def test_speech_equals_diffusers_for_the_same_noise(bundle, checkpoint):
    from diffusers import AudioLDM2Pipeline

    import voxlite

    model = voxlite.load(bundle, task="text-to-speech", precision="fp32")
    _, rows, _, width = model.latent_shape(SECONDS)
    noise = np.random.default_rng(0).standard_normal((1, model.unet_hp.latent_channels, rows, width),
                                                     dtype=np.float32)
    pipe = AudioLDM2Pipeline.from_pretrained(str(checkpoint), local_files_only=True)
    with torch.no_grad():
        want = pipe(PROMPT, transcription=WORDS, num_inference_steps=4, audio_length_in_s=SECONDS,
                    guidance_scale=3.0, latents=torch.from_numpy(noise), output_type="np").audios[0]
    got = model.synthesize(WORDS, prompt=PROMPT, seconds=SECONDS, steps=4, cfg=3.0, noise=noise)
    np.testing.assert_allclose(got.samples, want, atol=1e-4, rtol=0)
    assert np.abs(want).max() > 1e-3


def test_speech_bundle_refuses_sound_and_missing_words(bundle):
    import voxlite
    from voxlite.errors import CapabilityError, InvalidInput

    model = voxlite.load(bundle)
    assert model.bundle.capabilities == ("text-to-speech",)
    with pytest.raises(InvalidInput, match="speech model"):
        model.generate("rain on a tin roof", seconds=SECONDS, steps=1)
    with pytest.raises(InvalidInput, match="transcription"):
        model.generate_all(PROMPT, seconds=SECONDS, steps=1)
    with pytest.raises(InvalidInput, match="does not take"):
        model.synthesize(WORDS, prompt_audio="x.wav", seconds=SECONDS, steps=1)
    with pytest.raises(InvalidInput, match="ranker"):
        model.synthesize(WORDS, seconds=SECONDS, steps=1, waveforms=2)
    with pytest.raises(CapabilityError):
        voxlite.load(bundle, task="text-to-audio")


def test_voxlite_say_speaks_with_the_speech_bundle(bundle, tmp_path):
    from voxlite.audio import read_audio
    from voxlite.cli.main import main

    out = tmp_path / "day.wav"
    assert main(["say", WORDS, "-o", str(out), "--bundle", str(bundle), "--steps", "2", "--cfg", "2", "-q"]) == 0
    audio = read_audio(out)
    assert audio.sample_rate == official.SAMPLE_RATE and audio.samples.size > 0
