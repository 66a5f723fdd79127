"""``python -m export voxcpm --checkpoint DIR`` on an official-layout checkpoint directory written from voxcpm 2.0.3's own
model (tiny config, random weights): the exported bundle's pipeline reproduces the OFFICIAL ``inference`` (fed the
pipeline's noise) and the official AudioVAE's decode."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from tests.models.test_voxcpm_parity import TINY_VAE, _official_model  # noqa: E402  (skips without voxcpm)

import voxlite  # noqa: E402
from export.voxcpm import main as export_main  # noqa: E402
from voxlite.kernels.noise import standard_normal  # noqa: E402
from voxlite.models.voxcpm import VoxCPMConfig  # noqa: E402

STEPS = 4


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.set_num_threads(1)
    official = _official_model(VoxCPMConfig.tiny().to_official())
    ckpt = tmp_path_factory.mktemp("ckpt")
    config = {**VoxCPMConfig.tiny().to_official(), "audio_vae_config": TINY_VAE}
    (ckpt / "config.json").write_text(json.dumps(config))
    state = official.state_dict()
    torch.save({k: v for k, v in state.items() if not k.startswith("audio_vae.")}, ckpt / "pytorch_model.bin")
    torch.save(official.audio_vae.state_dict(), ckpt / "audiovae.pth")
    from export.voxcpm import tiny_tokenizer_json

    (ckpt / "tokenizer.json").write_text(tiny_tokenizer_json(100))
    out = tmp_path_factory.mktemp("voxcpm-ckpt") / "bundle"
    assert export_main(["--checkpoint", str(ckpt), "--out", str(out)]) == 0
    return official, out


def test_checkpoint_bundle_matches_official_generation(exported):
    official, bundle = exported
    model = voxlite.load(bundle, backend="cpu")
    cfg = VoxCPMConfig.tiny()
    P, D = cfg.patch_size, cfg.feat_dim
    text = [7, 21, 50, 88]
    max_len = 6
    noise = [torch.from_numpy(standard_normal(9, i, (1, P, D))).transpose(1, 2).contiguous()
             for i in range(max_len)]  # the pipeline's draws, in the official (B, D, P) layout

    ids = text + [cfg.audio_start_token]
    T = len(ids)
    tokens = torch.tensor([ids], dtype=torch.int64)
    text_mask = torch.ones(1, T, dtype=torch.int32)
    feats = torch.zeros(1, T, P, D)
    randn, draws = torch.randn, iter(noise)
    torch.randn = lambda *a, **k: next(draws).clone()
    try:
        with torch.no_grad():
            latents, _ = official.inference(tokens, text_mask, feats, 1 - text_mask, min_len=2, max_len=max_len,
                                            inference_timesteps=STEPS, cfg_value=2.0)
            ref_audio = official.audio_vae.decode(latents.to(torch.float32))[0, 0].numpy()
    finally:
        torch.randn = randn

    got = model.generate_latents(text, seed=9, steps=STEPS, max_patches=max_len)
    assert got.shape == tuple(latents.shape)
    np.testing.assert_allclose(got, latents.numpy(), atol=1e-4)
    audio = model.synthesize_tokens(text, seed=9, steps=STEPS, max_patches=max_len)
    np.testing.assert_allclose(audio.samples, ref_audio, atol=1e-4)
    # the match is not vacuous: the official outputs are not (near) zero, and other noise gives other latents
    assert np.abs(latents.numpy()).max() > 1e-2 and np.abs(ref_audio).max() > 1e-3
    other = model.generate_latents(text, seed=10, steps=STEPS, max_patches=max_len)
    assert other.shape != got.shape or not np.allclose(other, latents.numpy(), atol=1e-2)



@pytest.mark.parametrize("with_prompt", [False, True])
def test_text_matches_official_generate(exported, tmp_path, with_prompt):
    """Text in: the bundle's tokenizer (the checkpoint's tokenizer.json) + ``synthesize`` against the official
    ``_generate_with_prompt_cache`` (its tokenizer wrapper, prompt cache, max_len rule, decode and prompt-context
    trim), fed the pipeline's noise."""
    pytest.importorskip("transformers")
    import soundfile as sf
    from tokenizers import Tokenizer
    from transformers import LlamaTokenizerFast

    from tests.models.official import import_model_module

    official, bundle = exported
    model = voxlite.load(bundle, backend="cpu")
    assert model.bundle.component("text").hparams["type"] == "hf-tokenizers"
    tok_json = model.bundle.component_file("text", "tokenizer").read_text()
    utils = import_model_module("voxcpm.model.utils")
    saved = official.text_tokenizer
    official.text_tokenizer = utils.mask_multichar_chinese_tokens(
        LlamaTokenizerFast(tokenizer_object=Tokenizer.from_str(tok_json)))
    cfg = VoxCPMConfig.tiny()
    P, D = cfg.patch_size, cfg.feat_dim
    text, prompt_text = "hello 世界!", "你好。"
    cache = None
    if with_prompt:
        wav = tmp_path / "prompt.wav"
        t = np.arange(int(model.sample_rate * 0.4))
        sf.write(wav, (0.3 * np.sin(t * 0.05)).astype(np.float32), model.sample_rate, subtype="FLOAT")
        with torch.no_grad():
            cache = official.build_prompt_cache(prompt_text=prompt_text, prompt_wav_path=str(wav))
        assert cache["audio_feat"].shape[0] >= 2
    draws = iter(range(10**6))

    def draw(*a, **k):  # the pipeline's draws: patch i from standard_normal(seed, i)
        return torch.from_numpy(standard_normal(5, next(draws), (1, P, D))).transpose(1, 2).contiguous()

    randn = torch.randn
    torch.randn = draw
    try:
        with torch.no_grad():
            ref, _, _ = next(official._generate_with_prompt_cache(text, cache, min_len=2, inference_timesteps=STEPS,
                                                                  cfg_value=2.0))
    finally:
        torch.randn = randn
        official.text_tokenizer = saved
    kwargs = dict(prompt_audio=str(wav), prompt_text=prompt_text) if with_prompt else {}
    audio = model.synthesize(text, steps=STEPS, seed=5, **kwargs)
    ref = ref[0].numpy()
    assert audio.samples.shape == ref.shape
    # with a prompt the encoder's (ONNX vs torch) rounding flows through the LMs: measured 2e-4 on 1 of 126 samples
    np.testing.assert_allclose(audio.samples, ref, atol=5e-4 if with_prompt else 1e-4)
