"""VoxCPM reference model vs voxcpm 2.0.3's ``VoxCPMModel`` (0.5B / 1.5 architecture) at a tiny config, random weights.

The official model runs its own ``_inference`` once per scenario with every random draw recorded and its modules
hooked (TSLM / RALM prefill and steps, FSQ, LocDiT calls, stop head); ours is then compared module by module against
those recordings (on the official inputs, so errors cannot compound) and as a whole generation with the same noise.
"""
import importlib.util

import pytest

torch = pytest.importorskip("torch")
for _dep in ("pydantic", "einops", "tqdm", "tokenizers", "safetensors"):
    pytest.importorskip(_dep)
pytest.importorskip("transformers")
if importlib.util.find_spec("voxcpm") is None:
    pytest.skip("voxcpm not installed", allow_module_level=True)

import safetensors.torch  # noqa: E402,F401  (imported before the official module so it is not unloaded after)
from transformers import LlamaTokenizerFast, PreTrainedTokenizer  # noqa: E402,F401

from voxlite.convert.common import load_strict  # noqa: E402
from voxlite.convert.voxcpm import convert_state_dict, split_audio_vae  # noqa: E402
from voxlite.convert.voxcpm_audiovae import convert_state_dict as convert_audio_vae  # noqa: E402
from voxlite.models.voxcpm import VoxCPM, VoxCPMConfig, append_kv  # noqa: E402
from voxlite.models.wavevae import WaveVAE, WaveVAEConfig  # noqa: E402

from tests.models.official import import_model_module  # noqa: E402

# ``import voxcpm`` loads the whole application (hub download, ASR, ...); the model module needs only torch, einops,
# tqdm, pydantic and a tokenizer class, so load it alone (torchaudio: the test stand-in, I/O only, unused here).
OFFICIAL = import_model_module("voxcpm.model.voxcpm")

TINY_VAE = dict(encoder_dim=2, encoder_rates=[2, 3], latent_dim=5, decoder_dim=8, decoder_rates=[3, 2], sample_rate=600)
ATOL = 2e-5


def _tokenizer():
    from tokenizers import Tokenizer, models

    vocab = {f"t{i}": i for i in range(119)}
    vocab["<unk>"] = 119
    return LlamaTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")))


def _official_model(config: dict):
    torch.manual_seed(0)
    cfg = OFFICIAL.VoxCPMConfig.model_validate({**config, "device": "cpu", "dtype": "float32"})
    vae = OFFICIAL.AudioVAE(OFFICIAL.AudioVAEConfig(**TINY_VAE))
    model = OFFICIAL.VoxCPMModel(cfg, _tokenizer(), vae, device="cpu").eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layernorm.weight") or name.endswith("norm.weight"):  # RMSNorm gains start at 1
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith("alpha") or name.endswith("weight_g"):  # AudioVAE Snake / weight norm (unused here)
                p.copy_(0.5 + torch.rand(p.shape, generator=gen))
    return model


@pytest.fixture(scope="module")
def models():
    config = VoxCPMConfig.tiny()
    official = _official_model(config.to_official())
    ours = VoxCPM(VoxCPMConfig.from_official(config.to_official())).eval()
    load_strict(ours, convert_state_dict(official.state_dict()))
    return official, ours


def _prompt(n_text: int, n_audio: int, seed: int, batch: int = 1):
    """Official ``_generate`` layout: text tokens + audio_start, then prompt patches (token 0, zero feats on text)."""
    cfg = VoxCPMConfig.tiny()
    gen = torch.Generator().manual_seed(seed)
    T = n_text + 1 + n_audio
    tokens = torch.zeros(batch, T, dtype=torch.int64)
    tokens[:, :n_text] = torch.randint(3, 100, (batch, n_text), generator=gen)
    tokens[:, n_text] = cfg.audio_start_token
    feats = torch.zeros(batch, T, cfg.patch_size, cfg.feat_dim)
    feats[:, n_text + 1:] = torch.randn(batch, n_audio, cfg.patch_size, cfg.feat_dim, generator=gen)
    text_mask = torch.zeros(batch, T, dtype=torch.int32)
    text_mask[:, :n_text + 1] = 1
    return tokens, text_mask, feats, 1 - text_mask


class Recorder:
    """Runs the official ``_inference`` with its random draws and module outputs recorded."""

    def __init__(self, model):
        self.model = model
        self.noise, self.dit_calls, self.stop_logits, self.fsq_outputs = [], [], [], []
        self.base_prefill = self.residual_prefill = None
        self.base_steps, self.residual_steps = [], []

    def run(self, prompt, *, max_len: int, min_len: int, n_steps: int, cfg_value: float):
        m = self.model
        hooks = [
            m.feat_decoder.estimator.register_forward_hook(
                lambda mod, args, out: self.dit_calls.append(([a.clone() for a in args], out.clone()))),
            m.stop_head.register_forward_hook(lambda mod, args, out: self.stop_logits.append(out.clone())),
            m.fsq_layer.register_forward_hook(lambda mod, args, out: self.fsq_outputs.append(out.clone())),
            m.base_lm.register_forward_hook(lambda mod, args, out: setattr(self, "base_prefill", out)),
            m.residual_lm.register_forward_hook(lambda mod, args, out: setattr(self, "residual_prefill", out)),
        ]
        steps = {}
        for lm, store in ((m.base_lm, self.base_steps), (m.residual_lm, self.residual_steps)):
            steps[lm] = lm.forward_step

            def wrapped(*args, _orig=lm.forward_step, _store=store, **kwargs):
                out = _orig(*args, **kwargs)
                _store.append(out.clone())
                return out

            lm.forward_step = wrapped
        randn = torch.randn

        def recording_randn(*args, **kwargs):
            out = randn(*args, **kwargs)
            self.noise.append(out.clone())
            return out

        torch.randn = recording_randn
        try:
            torch.manual_seed(123)
            latents, seq = m.inference(*prompt, min_len=min_len, max_len=max_len, inference_timesteps=n_steps,
                                       cfg_value=cfg_value)
        finally:
            torch.randn = randn
            for h in hooks:
                h.remove()
            for lm in steps:
                del lm.forward_step
        return latents.clone(), seq.clone()


@pytest.fixture(scope="module")
def run(models):
    """Prompted generation: 4 text tokens + audio_start + 3 prompt patches, 5 patches, 10 steps, CFG 2, no stop."""
    official, _ = models
    prompt = _prompt(4, 3, seed=5)
    rec = Recorder(official)
    latents, seq = rec.run(prompt, max_len=5, min_len=5, n_steps=10, cfg_value=2.0)
    return prompt, rec, latents, seq


def test_config_round_trips_and_presets():
    tiny = VoxCPMConfig.tiny()
    assert VoxCPMConfig.from_official(tiny.to_official()) == tiny
    assert VoxCPMConfig.from_dict(tiny.to_dict()) == tiny
    official = OFFICIAL.VoxCPMConfig.model_validate(tiny.to_official())  # our layout validates as theirs
    assert official.lm_config.rope_scaling.long_factor == list(tiny.lm.rope_long_factor)
    # local-transformer defaults agree with the package's
    enc = OFFICIAL.VoxCPMEncoderConfig().model_dump()
    assert (enc["hidden_dim"], enc["ffn_dim"], enc["num_heads"], enc["num_layers"]) == (1024, 4096, 16, 4)
    big = VoxCPMConfig.voxcpm_0_5b()
    assert (big.lm.hidden_size, big.lm.num_hidden_layers, big.residual_lm_num_layers) == (1024, 24, 6)
    assert big.patch_size == 2
    assert (big.scalar_quantization_latent_dim, big.scalar_quantization_scale, big.max_length) == (256, 9, 4096)
    with pytest.raises(ValueError, match="LongRoPE"):
        big.base_lm_config()  # the factors come from config.json only
    stacks = [tiny.base_lm_config(), tiny.residual_lm_config(), tiny.encoder_transformer_config(),
              tiny.dit_transformer_config()]
    assert [s.kv_head_dim for s in stacks] == [12] * 4 and [s.causal for s in stacks] == [True, True, False, False]
    assert stacks[0].rope_factors == tiny.lm.rope_long_factor and stacks[0].rope_mscale > 1.0


def test_converter_keys(models):
    official, ours = models
    state = official.state_dict()
    converted = convert_state_dict(state)
    assert converted.keys() == ours.state_dict().keys()
    rest, vae = split_audio_vae(state)
    assert vae and not any(k.startswith("audio_vae.") for k in rest)
    wavevae = WaveVAE(WaveVAEConfig.from_voxcpm(TINY_VAE, v2=False))
    load_strict(wavevae, convert_audio_vae(vae))  # the split-off part converts with the AudioVAE converter
    with pytest.raises(KeyError, match="unexpected"):
        convert_state_dict({**state, "feat_decoder.something_else": torch.zeros(1)})
    with pytest.raises(KeyError, match="LoRA"):
        convert_state_dict({**state, "base_lm.layers.0.self_attn.q_proj.lora_A": torch.zeros(1)})


def test_rope_matches_official_longrope(models):
    official, ours = models
    pos = torch.tensor([0, 1, 7, 30, 63])
    cos_ref, sin_ref = official.base_lm.rope_emb(pos)
    cos, sin = ours.base_lm.rope(pos)
    torch.testing.assert_close(cos, cos_ref, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(sin, sin_ref, atol=1e-6, rtol=1e-6)
    for name in ("residual_lm", "loc_enc.encoder", "loc_dit.decoder"):
        module = ours.get_submodule(name)
        torch.testing.assert_close(module.rope(pos)[0], cos_ref, atol=1e-6, rtol=1e-6)


def test_loc_enc_and_fsq(models):
    official, ours = models
    torch.manual_seed(7)
    feats = torch.randn(2, 4, 3, 5)
    h = 2 * torch.randn(2, 6, 48)
    with torch.no_grad():
        torch.testing.assert_close(ours.loc_enc(feats), official.feat_encoder(feats), atol=ATOL, rtol=1e-5)
        ref = official.fsq_layer(h)
        torch.testing.assert_close(ours.fsq(h), ref, atol=ATOL, rtol=1e-5)
        levels = ours.fsq.quantize(h)
        assert levels.abs().max() <= 9 and len(levels.unique()) > 5
        torch.testing.assert_close(ours.fsq.dequantize(levels), ref, atol=ATOL, rtol=1e-5)


def test_prefill_hidden_states_and_caches(models, run):
    official, ours = models
    (tokens, text_mask, feats, audio_mask), rec, _, _ = run
    with torch.no_grad():
        h, r, kv = ours.lm_states(tokens, text_mask, feats, audio_mask)
        mu, stop, _ = ours.prefill(tokens, text_mask, feats, audio_mask)
    base_out, base_kv = rec.base_prefill
    am = audio_mask[..., None].float()
    h_ref = rec.fsq_outputs[0] * am + base_out * (1 - am)  # the official FSQ mix of the TSLM output
    torch.testing.assert_close(h, h_ref, atol=ATOL, rtol=1e-5)
    res_out, res_kv = rec.residual_prefill
    torch.testing.assert_close(r, res_out, atol=ATOL, rtol=1e-5)
    ref_kv = [t for k, v in list(base_kv) + list(res_kv) for t in (k, v)]
    assert len(kv) == len(ref_kv) == ours.n_kv
    for got, ref in zip(kv, ref_kv):
        torch.testing.assert_close(got, ref, atol=ATOL, rtol=1e-5)
    # the first LocDiT condition and stop logits
    b = mu.shape[0]
    torch.testing.assert_close(mu, rec.dit_calls[0][0][1][:b], atol=ATOL, rtol=1e-5)
    torch.testing.assert_close(stop, rec.stop_logits[0], atol=ATOL, rtol=1e-5)


def test_locdit_velocity_matches_every_official_call(models, run):
    _, ours = models
    _, rec, _, _ = run
    assert len(rec.dit_calls) == 5 * 9  # 5 patches x (10 steps - 1 zero-velocity step), CFG batched
    with torch.no_grad():
        for (x, mu, t, cond, dt), out in rec.dit_calls:
            v = ours.velocity(x.transpose(1, 2), t, mu, cond.transpose(1, 2), dt)
            torch.testing.assert_close(v.transpose(1, 2), out, atol=ATOL, rtol=1e-5)


def test_steps_match_official_on_its_patches(models, run):
    """Teacher-forced on the official patches: TSLM / RALM step states, caches, DiT conditions, stop logits."""
    _, ours = models
    (tokens, text_mask, feats, audio_mask), rec, _, seq = run
    patches = seq[-5:][None]  # (1, 5, P, D) generated (the 2 leading ones are prompt context)
    with torch.no_grad():
        _, _, kv = ours.prefill(tokens, text_mask, feats, audio_mask)
        for i in range(5):
            past_base, past_res = ours.split_kv(kv)
            e = ours.embed_patches(patches[:, i:i + 1])
            h, _ = ours.base_lm(e, past=past_base)
            torch.testing.assert_close(h[:, 0], rec.base_steps[i], atol=ATOL, rtol=1e-5)
            r, _ = ours.residual_lm(ours.fsq(h) + e, past=past_res)
            torch.testing.assert_close(r[:, 0], rec.residual_steps[i], atol=ATOL, rtol=1e-5)
            mu, stop, new = ours.step(patches[:, i], kv)
            assert all(n.shape[2] == 1 for n in new)
            kv = append_kv(kv, new)
            assert kv[0].shape[2] == tokens.shape[1] + i + 1
            if i + 1 < 5:  # the official runs one LM step after its last patch; neither head reads it
                torch.testing.assert_close(stop, rec.stop_logits[i + 1], atol=ATOL, rtol=1e-5)
                torch.testing.assert_close(mu, rec.dit_calls[9 * (i + 1)][0][1][:1], atol=ATOL, rtol=1e-5)


def test_whole_generation_with_replayed_noise(models, run):
    _, ours = models
    prompt, rec, latents, seq = run
    assert len(rec.noise) == 5 and rec.noise[0].shape == (1, 5, 3)  # (B, D, P) per patch
    noise = torch.stack([n.transpose(1, 2) for n in rec.noise])  # (N, B, P, D)
    patches = ours.generate(*prompt, max_len=5, min_len=5, n_steps=10, cfg_value=2.0, noise=noise)
    assert patches.shape == (1, 5, 3, 5)
    assert patches.abs().max() > 0.1
    torch.testing.assert_close(patches[0], seq[-5:], atol=1e-4, rtol=1e-4)
    ours_latents = patches.flatten(1, 2).transpose(1, 2)  # (B, D, N * P)
    torch.testing.assert_close(ours_latents, latents[..., -15:], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("cfg_value,n_steps", [(1.5, 25)])
def test_text_only_generation_with_stop_head(models, cfg_value, n_steps):
    """No prompt audio (cond starts at zeros), other CFG / step count, stop head active: same patches, same length."""
    official, ours = models
    prompt = _prompt(6, 0, seed=9)
    rec = Recorder(official)
    latents, seq = rec.run(prompt, max_len=6, min_len=0, n_steps=n_steps, cfg_value=cfg_value)
    noise = torch.stack([n.transpose(1, 2) for n in rec.noise])
    patches = ours.generate(*prompt, max_len=6, min_len=0, n_steps=n_steps, cfg_value=cfg_value, noise=noise)
    assert patches.shape[1] == seq.shape[0] == len(rec.noise) < 6  # this seed's stop head fires (after patch 3)
    torch.testing.assert_close(patches[0], seq, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(patches.flatten(1, 2).transpose(1, 2), latents, atol=1e-4, rtol=1e-4)
