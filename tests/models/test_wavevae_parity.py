"""WaveVAE reference model vs voxcpm 2.0.3's AudioVAE (v1) and AudioVAE V2 at tiny configs with random weights."""
import importlib.util

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pydantic")  # the AudioVAE config class
if importlib.util.find_spec("voxcpm") is None:
    pytest.skip("voxcpm not installed", allow_module_level=True)

from voxlite.convert.common import load_strict  # noqa: E402
from voxlite.convert.voxcpm_audiovae import convert_state_dict, load_official  # noqa: E402
from voxlite.models.wavevae import WaveVAE, WaveVAEConfig  # noqa: E402

from tests.models.official import import_model_module  # noqa: E402

# ``import voxcpm`` loads the whole TTS application (hub download, transformers, ...); the VAE modules import
# only torch, numpy and pydantic, so load them alone.
V1 = import_model_module("voxcpm.modules.audiovae.audio_vae")
V2 = import_model_module("voxcpm.modules.audiovae.audio_vae_v2")

TINY = dict(encoder_dim=3, encoder_rates=[2, 3, 5], latent_dim=5, decoder_dim=24, decoder_rates=[5, 3, 2],
            sample_rate=3000)
TINY_V2 = dict(TINY, decoder_rates=[5, 3, 2, 2], decoder_dim=32, out_sample_rate=6000,
               sr_bin_boundaries=[2000, 5000])


def _randomize(model, seed: int):
    """Random weights everywhere, including what is initialised to constants (Snake alphas, weight-norm gains,
    the v2 sample-rate scale/bias tables)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("alpha"):
                p.copy_(0.5 + 1.5 * torch.rand(p.shape, generator=gen))
            elif name.endswith("weight_g"):
                p.copy_(0.3 + 0.6 * torch.rand(p.shape, generator=gen))
            elif name.endswith("scale_embed.weight"):
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias") or name.endswith("bias_embed.weight"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen))


def _build(v2: bool, depthwise: bool):
    torch.manual_seed(0)
    if v2:
        cfg = dict(TINY_V2, depthwise=depthwise)
        official = V2.AudioVAE(V2.AudioVAEConfig(**cfg)).eval()
    else:
        cfg = dict(TINY, depthwise=depthwise)
        official = V1.AudioVAE(V1.AudioVAEConfig(**cfg)).eval()
    _randomize(official, seed=1)
    ours = WaveVAE(WaveVAEConfig.from_voxcpm(cfg, v2=v2)).eval()
    load_strict(ours, convert_state_dict(official.state_dict()))
    return official, ours


CASES = [(False, True), (False, False), (True, True)]
IDS = ["v1-depthwise", "v1-dense", "v2-depthwise-srcond"]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def models(request):
    return _build(*request.param)


def test_encode_matches_official_mean(models):
    official, ours = models
    torch.manual_seed(2)
    wav = 0.5 * torch.randn(2, 1, 3 * 30 + 7)  # not a whole number of hops (30): exercises the right padding
    with torch.no_grad():
        ref = official.encode(wav, official.sample_rate)
        got = ours.encode(wav)
        logvar_ref = official.encoder(official.preprocess(wav, None))["logvar"]
        _, logvar = ours.encode_moments(wav)
    assert got.shape == ref.shape == (2, 5, 4)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logvar, logvar_ref, atol=1e-5, rtol=1e-5)


def test_decode_matches_official(models):
    official, ours = models
    torch.manual_seed(3)
    z = torch.randn(2, 5, 6)
    with torch.no_grad():
        ref = official.decode(z)
        got = ours.decode(z)
    assert got.shape == ref.shape == (2, 1, 6 * ours.config.decoder_hop)
    assert 0.05 < ref.std() and ref.abs().max() < 0.999  # neither silent nor saturated by the tanh
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("chunks", [[1] * 7, [2, 3, 2], [4, 1, 2]])
def test_streaming_decode_equals_offline(models, chunks):
    _, ours = models
    torch.manual_seed(4)
    z = torch.randn(2, 5, sum(chunks))
    with torch.no_grad():
        offline = ours.decode(z)
        state = ours.initial_state(2)
        outs, start = [], 0
        for n in chunks:
            y, state = ours.stream(z[..., start:start + n], state)
            assert y.shape[-1] == n * ours.config.decoder_hop
            outs.append(y)
            start += n
    torch.testing.assert_close(torch.cat(outs, dim=-1), offline, atol=1e-5, rtol=1e-5)
    assert all(s.shape[0] == 2 for s in state)


def test_v2_sample_rate_buckets_match_official():
    official, ours = _build(v2=True, depthwise=True)
    torch.manual_seed(5)
    z = torch.randn(1, 5, 3)
    with torch.no_grad():
        for rate in (1000, 2000, 4000, 6000):
            ref = official.decode(z, torch.tensor([rate], dtype=torch.int32))
            torch.testing.assert_close(ours.decode(z, sample_rate=rate), ref, atol=1e-5, rtol=1e-5)
    assert [ours.config.sr_bucket(r) for r in (1000, 2000, 4000, 6000)] == [0, 0, 1, 2]


def test_whole_model_prefix_and_checkpoint_dir(tmp_path):
    official, ours = _build(v2=False, depthwise=True)
    prefixed = {f"audio_vae.{k}": v for k, v in official.state_dict().items()}
    prefixed["base_lm.embed_tokens.weight"] = torch.zeros(3, 2)  # the rest of a VoxCPM state dict is ignored
    converted = convert_state_dict(prefixed)
    assert converted.keys() == ours.state_dict().keys()
    torch.save(official.state_dict(), tmp_path / "audiovae.pth")
    (tmp_path / "config.json").write_text(
        '{"architecture": "voxcpm", "audio_vae_config": %s}' % str(dict(TINY, depthwise=True)).replace("'", '"')
        .replace("True", "true"))
    loaded = load_official(tmp_path)
    z = torch.randn(1, 5, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded.decode(z), ours.decode(z), atol=1e-6, rtol=1e-6)


def test_presets():
    v05 = WaveVAEConfig.preset("voxcpm-0.5b")
    assert (v05.sample_rate, v05.hop_length, v05.frame_rate, v05.decoder_hop) == (16000, 640, 25.0, 640)
    v15 = WaveVAEConfig.preset("voxcpm-1.5")
    assert (v15.sample_rate, v15.hop_length, v15.frame_rate, v15.decoder_hop) == (44100, 1764, 25.0, 1764)
    v2 = WaveVAEConfig.preset("voxcpm2")
    assert (v2.frame_rate, v2.output_sample_rate, v2.decoder_hop, v2.sr_bucket()) == (25.0, 48000, 1920, 3)
    assert WaveVAEConfig.from_voxcpm({}) == v05
    assert WaveVAEConfig.from_voxcpm({"sample_rate": 16000, "out_sample_rate": 48000}) == v2
    # package defaults agree with the presets
    assert WaveVAEConfig.from_voxcpm(V1.AudioVAEConfig().model_dump(), v2=False) == v05
    assert WaveVAEConfig.from_voxcpm(V2.AudioVAEConfig().model_dump(), v2=True) == v2
    with pytest.raises(ValueError):
        WaveVAEConfig.from_voxcpm({"use_noise_block": True})
