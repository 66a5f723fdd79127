"""AudioLDM 2's mel VAE against diffusers' AutoencoderKL (random weights, no download)."""
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from voxlite.convert.mel_vae import convert_state_dict, load_official  # noqa: E402
from voxlite.models.mel_vae import MelVAE, MelVAEConfig  # noqa: E402


# cvssp/audioldm2 vae/config.json
AUDIOLDM2_VAE = {
    "_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [128, 256, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 3, "force_upcast": True, "in_channels": 1, "latent_channels": 8,
    "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 1, "sample_size": 1024,
    "scaling_factor": 0.4110932946205139, "up_block_types": ["UpDecoderBlock2D"] * 3,
}


def _diffusers_vae(cfg: MelVAEConfig, seed: int):
    vae = diffusers.AutoencoderKL(**cfg.to_diffusers())
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # every parameter random, GroupNorm affines included, so a wrong mapping cannot hide
        for name, p in vae.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
    return vae.eval()


@pytest.mark.parametrize("variant", ["tiny", "no-attention-4-blocks"])
def test_mel_vae_matches_diffusers(variant):
    cfg = MelVAEConfig.tiny()
    if variant != "tiny":  # four blocks (x8), one ResNet per block, no mid attention, no quant convs
        cfg = MelVAEConfig(latent_channels=5, block_out_channels=[4, 6, 8, 8], layers_per_block=1,
                           norm_num_groups=2, mid_block_add_attention=False, use_quant_conv=False,
                           use_post_quant_conv=False, scaling_factor=1.3)
    official = _diffusers_vae(cfg, seed=7)
    ours = load_official(official.state_dict(), official.config)
    assert ours.cfg == cfg

    f = cfg.downsample_factor
    g = torch.Generator().manual_seed(8)
    mel = torch.randn(2, 1, 5 * f, 4 * f, generator=g)  # (B, 1, frames, mel bins)
    z = torch.randn(2, cfg.latent_channels, 5, 4, generator=g)
    with torch.no_grad():
        posterior = official.encode(mel).latent_dist
        mean, logvar = ours.encode(mel)
        expected_mel, got_mel = official.decode(z).sample, ours.decode(z)
    assert mean.shape == logvar.shape == (2, cfg.latent_channels, 5, 4)
    assert got_mel.shape == expected_mel.shape == mel.shape
    torch.testing.assert_close(mean, posterior.mean, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logvar, posterior.logvar, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got_mel, expected_mel, atol=1e-4, rtol=1e-4)

    # the pipeline's scaling: latents = mean * scaling_factor; mel = decode(latents / scaling_factor)[:, 0]
    with torch.no_grad():
        latents = ours.mel_to_latents(mel[:, 0])
        torch.testing.assert_close(latents, posterior.mean * official.config.scaling_factor, atol=1e-4, rtol=1e-4)
        mel_out = ours.latents_to_mel(z)
        expected = official.decode(z / official.config.scaling_factor).sample.squeeze(1)
    torch.testing.assert_close(mel_out, expected, atol=1e-4, rtol=1e-4)


def test_mel_vae_odd_sizes_encode():
    """Mel lengths that do not divide by the downsample factor encode like diffusers (bottom / right padding)."""
    cfg = MelVAEConfig.tiny()
    official = _diffusers_vae(cfg, seed=9)
    ours = load_official(official.state_dict(), cfg)
    mel = torch.randn(1, 1, 23, 13, generator=torch.Generator().manual_seed(10))
    with torch.no_grad():
        posterior = official.encode(mel).latent_dist
        mean, logvar = ours.encode(mel)
    torch.testing.assert_close(mean, posterior.mean, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logvar, posterior.logvar, atol=1e-4, rtol=1e-4)


def test_deprecated_attention_names():
    cfg = MelVAEConfig.tiny()
    state = _diffusers_vae(cfg, seed=11).state_dict()
    old = {}
    for k, v in state.items():
        for new, dep in ((".to_q.", ".query."), (".to_k.", ".key."), (".to_v.", ".value."),
                         (".to_out.0.", ".proj_attn.")):
            k = k.replace(new, dep)
        old[k] = v[:, :, None, None] if ".proj_attn.weight" in k else v
    a, b = convert_state_dict(state), convert_state_dict(old)
    assert sorted(a) == sorted(b)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_audioldm2_preset_layout():
    """The published AudioLDM 2 VAE: config round-trip and every diffusers key on ours (meta device, no memory)."""
    cfg = MelVAEConfig.from_diffusers(AUDIOLDM2_VAE)
    assert cfg == MelVAEConfig.audioldm2()
    assert cfg.downsample_factor == 4  # (1024 frames, 64 bins) -> (256, 16) latents
    with torch.device("meta"):
        official = diffusers.AutoencoderKL(**{k: v for k, v in AUDIOLDM2_VAE.items() if not k.startswith("_")})
        ours = MelVAE(cfg)
    converted = convert_state_dict(official.state_dict())
    own = ours.state_dict()
    assert sorted(converted) == sorted(own)
    assert all(converted[k].shape == own[k].shape for k in own)
