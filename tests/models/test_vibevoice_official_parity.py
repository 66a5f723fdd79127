"""VibeVoice vs Microsoft's ``vibevoice`` 0.0.1, through a committed fixture (``tests/fixtures/vibevoice_lm_tiny.npz``,
written by ``tests/fixtures/make_vibevoice_lm_fixture.py`` in an environment holding the official package: it pins
transformers 4.51.3, which cannot live beside this environment's transformers 5). Every weight random; the official
run's random draws are recorded and replayed here. Covered: the converter from the official layout, the LM
teacher-forced, the diffusion head and connectors, the CFG DPM-Solver++ sampler, the processor's prompt layout and
loudness step (token by token, the same stand-in tokenizer), the voice prompts' sigma-VAE draw, and one whole
generation with speech-end and speech-start tokens between latents (tokens, conditions of both branches, latents,
audio)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from voxlite.convert.vibevoice import from_official  # noqa: E402
from voxlite.hparams import ScriptTemplate  # noqa: E402
from voxlite.pipelines.vibevoice import build_prompt, normalize_voice, parse_script  # noqa: E402

FIXTURE = Path(__file__).parents[1] / "fixtures" / "vibevoice_lm_tiny.npz"
ATOL = 2e-5


@pytest.fixture(scope="module")
def fx():
    return dict(np.load(FIXTURE))


@pytest.fixture(scope="module")
def model(fx):
    ids = json.loads(str(fx["tokenizer/special_ids"]))
    control = (ids["speech_start_id"], ids["speech_end_id"], ids["speech_diffusion_id"], ids["eos_token_id"])
    state = {k[len("state/"):]: torch.from_numpy(v) for k, v in fx.items() if k.startswith("state/")}
    return from_official(state, json.loads(str(fx["config"])), control_ids=control)


def _t(a):
    return torch.from_numpy(np.asarray(a))


def test_lm_teacher_forced(fx, model):
    ids = _t(fx["tf/input_ids"])
    with torch.no_grad():
        h, _ = model.lm(model.lm.embed(ids))
        np.testing.assert_allclose(h.numpy(), fx["tf/hidden"], atol=ATOL)
        logits = fx["tf/logits"][..., list(model.config.control_ids)]
        np.testing.assert_allclose(model.control_logits(h).numpy(), logits, atol=ATOL)


def test_head_connectors_and_sampler(fx, model):
    with torch.no_grad():
        out = model.head(_t(fx["head/noisy"]), _t(fx["head/timesteps"]), _t(fx["head/condition"]))
        np.testing.assert_allclose(out.numpy(), fx["head/out"], atol=ATOL)
        np.testing.assert_allclose(model.acoustic_connector(_t(fx["connector/acoustic_in"])).numpy(),
                                   fx["connector/acoustic_out"], atol=ATOL)
        np.testing.assert_allclose(model.semantic_connector(_t(fx["connector/semantic_in"])).numpy(),
                                   fx["connector/semantic_out"], atol=ATOL)
        cond, neg = _t(fx["sampler/condition"]), _t(fx["sampler/neg_condition"])
        z = model.sample_latent(cond, neg, _t(fx["sampler/noise"][:2]), cfg_scale=1.3, steps=5)
    np.testing.assert_allclose(z.numpy(), fx["sampler/out"], atol=1e-4)
    assert model.config.schedule.steps == 5 and model.config.schedule.beta_schedule == "squaredcos_cap_v2"


def test_prompt_layout(fx):
    """Our layout of the fixture's script, with the same stand-in tokenizer, is the official processor's."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(str(fx["tokenizer/json"]))
    ids = json.loads(str(fx["tokenizer/special_ids"]))
    control = (ids["speech_start_id"], ids["speech_end_id"], ids["speech_diffusion_id"], ids["eos_token_id"])
    frames = fx["prompt/speech_masks"].sum(1)
    voices = {i: np.ones((int(n), 8), np.float32) for i, n in enumerate(frames)}
    prompt = build_prompt(parse_script(str(fx["prompt/script"])), voices,
                          lambda s: tok.encode(s, add_special_tokens=False).ids, ScriptTemplate(), control, 8)
    assert prompt.ids.tolist() == fx["prompt/input_ids"][0].tolist()
    assert prompt.speech_mask.tolist() == fx["prompt/speech_input_mask"][0].astype(bool).tolist()


def test_voice_loudness_and_sampling(fx, model):
    """The processor's -25 dBFS step, then our encoder's mean and the sigma-VAE draw with the recorded noise."""
    raw, lengths = fx["prompt/voice_wavs_raw"], fx["prompt/voice_lengths"]
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(normalize_voice(raw[i, :n]), fx["prompt/speech_tensors"][i, :n], atol=1e-6)
    wav = _t(fx["prompt/speech_tensors"])[:, None]
    with torch.no_grad():
        mean = model.acoustic.encode(wav)  # (B, D, T)
    np.testing.assert_allclose(mean.transpose(1, 2).numpy(), fx["gen/voice_mean"], atol=ATOL)
    c = model.config.acoustic
    sigma = fx["gen/draws/00_voice_std"] * c.fix_std / 0.8
    np.testing.assert_allclose(sigma, fx["gen/voice_std"], atol=1e-6)
    sampled = fx["gen/voice_mean"] + sigma[:, None, None] * fx["gen/draws/01_voice_noise"]
    np.testing.assert_allclose(sampled, fx["gen/voice_latents"], atol=ATOL)
    np.testing.assert_allclose(model.to_lm_latent(_t(sampled)).numpy(), fx["gen/voice_features"], atol=ATOL)


def test_generation(fx, model):
    settings = json.loads(str(fx["gen/settings"]))
    ids = _t(fx["prompt/input_ids"])
    mask = _t(fx["prompt/speech_input_mask"]).bool()
    voice = fx["gen/voice_features"][fx["prompt/speech_masks"]]  # (placeholders, D) LM-scale latents, in order
    latents = torch.zeros(1, ids.shape[1], model.config.acoustic_dim)
    latents[mask] = _t(voice)
    draws = [fx[k] for k in sorted(k for k in fx if k.startswith("gen/draws/") and k.endswith("_diffusion_noise"))]
    with torch.no_grad():
        np.testing.assert_allclose(model.prompt_embeds(ids, latents, mask)[0, mask[0]].numpy(),
                                   fx["gen/voice_embeds"], atol=ATOL)
        out = list(model.generate(ids, latents, mask, noise=lambda i, shape: _t(draws[i][:1]),
                                  cfg_scale=settings["cfg_scale"], steps=settings["steps"],
                                  max_new_tokens=settings["max_new_tokens"]))
    assert [s.token for s in out] == fx["gen/generated"].tolist()
    made = [s for s in out if s.latent is not None]
    assert len(made) == len(draws) == fx["gen/latents"].shape[0]
    np.testing.assert_allclose(np.concatenate([s.latent.numpy() for s in made]), fx["gen/latents"], atol=1e-4)
    np.testing.assert_allclose(np.concatenate([s.semantic.numpy() for s in made]), fx["gen/semantic_features"],
                               atol=1e-4)
    audio = np.concatenate([s.audio.reshape(-1).numpy() for s in made])
    np.testing.assert_allclose(audio, fx["gen/audio"].reshape(-1), atol=1e-4)
