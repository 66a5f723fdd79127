"""BigVGAN and its anti-aliased activation against the official ``bigvgan`` package (random weights, no download)."""
import pytest

torch = pytest.importorskip("torch")
bigvgan = pytest.importorskip("bigvgan")

from bigvgan.activations import Snake as OfficialSnake  # noqa: E402
from bigvgan.activations import SnakeBeta as OfficialSnakeBeta  # noqa: E402
from bigvgan.alias_free_activation.torch.act import Activation1d  # noqa: E402
from bigvgan.alias_free_activation.torch.filter import kaiser_sinc_filter1d as official_filter  # noqa: E402
from bigvgan.env import AttrDict  # noqa: E402

from voxlite.convert.bigvgan import convert_state_dict, load_official  # noqa: E402
from voxlite.models.bigvgan import BigVGAN, BigVGANConfig  # noqa: E402
from voxlite.models.blocks.activations import Snake  # noqa: E402
from voxlite.models.blocks.antialias import AntiAliasActivation, kaiser_sinc_filter1d  # noqa: E402



def _perturb(module, seed):
    """Random weights everywhere, including the parameters initialised to constants (Snake alpha / beta,
    weight-norm magnitudes), so a wrong mapping cannot hide."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("alpha") or name.endswith("beta"):
                p.copy_(0.4 * torch.randn(p.shape, generator=g))
            elif name.endswith("weight_g"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("cutoff,half_width,kernel_size",
                         [(0.25, 0.3, 12), (0.25, 0.3, 13), (0.5 / 3, 0.2, 18), (0.25, 0.1, 12), (0.4, 0.05, 7),
                          (0.1, 0.5, 30)])  # Kaiser beta: A > 50 dB, 21..50 dB (0.1 half width), < 21 dB (box)
def test_kaiser_sinc_filter_matches_official(cutoff, half_width, kernel_size):
    ours = kaiser_sinc_filter1d(cutoff, half_width, kernel_size)
    torch.testing.assert_close(ours, official_filter(cutoff, half_width, kernel_size).view(-1), atol=2e-7, rtol=0)


@pytest.mark.parametrize("snake_beta,logscale", [(True, True), (False, False)])
@pytest.mark.parametrize("up,down,up_k,down_k", [(2, 2, 12, 12), (2, 2, 13, 11), (3, 3, 18, 18)])
def test_antialias_activation_matches_official(snake_beta, logscale, up, down, up_k, down_k):
    channels = 5
    official_act = (OfficialSnakeBeta if snake_beta else OfficialSnake)(channels, alpha_logscale=logscale)
    official = Activation1d(official_act, up, down, up_k, down_k)
    _perturb(official, seed=3)
    if not logscale:  # keep linear-scale alphas away from 0 (1 / alpha blows up, as it would in training)
        with torch.no_grad():
            official.act.alpha.abs_().add_(0.2)
    ours = AntiAliasActivation(Snake(channels, separate_beta=snake_beta, logscale=logscale), channels, up, down,
                               up_k, down_k)
    with torch.no_grad():
        ours.act.alpha.copy_(official.act.alpha.view(1, -1, 1))
        if snake_beta:
            ours.act.beta.copy_(official.act.beta.view(1, -1, 1))
    x = 2.0 * torch.randn(2, channels, 37, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected, got = official(x), ours(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


TYPE2_H = {  # an official-style h without the v2 flags: they default to True (tanh, bias), as officially
    "num_mels": 6, "upsample_rates": [2, 3], "upsample_kernel_sizes": [4, 7], "upsample_initial_channel": 26,
    "resblock": "2", "resblock_kernel_sizes": [3, 5, 7], "resblock_dilation_sizes": [[1, 3], [1, 3], [2]],
    "activation": "snake", "snake_logscale": False, "sampling_rate": 6000, "hop_size": 6, "segment_size": 64,
    "learning_rate": 1e-4,
}


def _official(h, seed):
    model = bigvgan.BigVGAN(AttrDict(dict(h)), use_cuda_kernel=False)
    _perturb(model, seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not h["snake_logscale"] and (name.endswith("alpha") or name.endswith("beta")):
                p.abs_().add_(0.2)
            if name.startswith("conv_post") and name.endswith("weight_g"):
                p.mul_(0.04)  # keep the waveform inside (-1, 1), where tanh / clamp do not hide differences
    return model.eval()


@pytest.mark.parametrize("h", [BigVGANConfig.tiny().to_h(), TYPE2_H], ids=["type1-snakebeta", "type2-snake"])
def test_bigvgan_matches_official(h):
    official = _official(h, seed=5)
    state = {k: v.clone() for k, v in official.state_dict().items()}  # with weight_g / weight_v
    assert any(k.endswith("weight_g") for k in state)
    official.remove_weight_norm()
    ours = load_official({"generator": state}, h)
    assert ours.cfg.use_tanh_at_final == h.get("use_tanh_at_final", True)
    assert (ours.conv_post.bias is not None) == h.get("use_bias_at_final", True)

    mel = torch.randn(2, h["num_mels"], 11, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        expected, got = official(mel), ours(mel)
    assert got.shape == expected.shape == (2, 1, 11 * ours.cfg.upsample_factor)
    assert expected.abs().max() < 1.0 and expected.std() > 1e-2  # not saturated, not silent
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)

    # the weight-norm-free spelling (after remove_weight_norm) converts to the same weights
    plain = convert_state_dict(official.state_dict())
    for key, value in ours.state_dict().items():
        torch.testing.assert_close(plain[key], value, atol=1e-6, rtol=1e-6)


def test_bigvgan_rejects_foreign_filters():
    h = BigVGANConfig.tiny().to_h()
    state = dict(bigvgan.BigVGAN(AttrDict(dict(h))).state_dict())
    key = next(k for k in state if k.endswith("upsample.filter"))
    state[key] = state[key].flip(-1) * 0.5
    with pytest.raises(ValueError, match="anti-aliasing filter"):
        convert_state_dict(state)


def test_v2_24khz_100band_256x_layout(monkeypatch):
    """The published config: every official key maps onto ours with the right shape (built on the meta device)."""
    import functools

    import bigvgan.alias_free_activation.torch.filter as official_filter_mod
    import bigvgan.alias_free_activation.torch.resample as official_resample_mod

    @functools.lru_cache(maxsize=None)
    def cached(cutoff, half_width, kernel_size):  # 438 filters of one design: build it once, on the CPU
        with torch.device("cpu"):
            return official_filter(cutoff, half_width, kernel_size)

    monkeypatch.setattr(official_filter_mod, "kaiser_sinc_filter1d", cached)
    monkeypatch.setattr(official_resample_mod, "kaiser_sinc_filter1d", cached)
    cfg = BigVGANConfig.v2_24khz_100band_256x()
    assert cfg.upsample_factor == cfg.hop_size == 256
    published = {  # configs/bigvgan_v2_24khz_100band_256x.json, network part plus a few training keys
        "resblock": "1", "upsample_rates": [4, 4, 2, 2, 2, 2], "upsample_kernel_sizes": [8, 8, 4, 4, 4, 4],
        "upsample_initial_channel": 1536, "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "use_tanh_at_final": False,
        "use_bias_at_final": False, "activation": "snakebeta", "snake_logscale": True, "num_mels": 100,
        "n_fft": 1024, "hop_size": 256, "win_size": 1024, "sampling_rate": 24000, "fmin": 0, "fmax": None,
        "segment_size": 65536, "use_cqtd_instead_of_mrd": True,
    }
    assert BigVGANConfig.from_h(published) == cfg
    with torch.device("meta"):
        official = bigvgan.BigVGAN(AttrDict(published))
        ours = BigVGAN(cfg)
    converted = convert_state_dict(official.state_dict())
    own = ours.state_dict()
    assert sorted(converted) == sorted(own)
    assert all(converted[k].shape == own[k].shape for k in own)
    n_params = sum(v.numel() for v in own.values())
    assert 100e6 < n_params < 125e6  # ~112M published
