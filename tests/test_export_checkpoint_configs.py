"""``python -m export ... --checkpoint`` builds the reference model from the checkpoint's own config, not a preset: per
family, a tiny random checkpoint in the official layout with a config that is no preset is exported through the
family's command line, and the bundle's graphs reproduce the OFFICIAL model. Also: the VoxCPM bundle's default CFG
is voxcpm's inference default, whatever the checkpoint's ``cfm_config.inference_cfg_rate`` says."""
import inspect
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
from export.codec import main as export_codec_main  # noqa: E402


def _export_codec(family, checkpoint, out, *extra):
    assert export_codec_main(["--family", family, "--checkpoint", str(checkpoint), "--out", str(out), *extra]) == 0
    return voxlite.load(out, backend="cpu")


def _mel(model, seconds=0.3, seed=4):
    """Mel frames the bundle's own front end makes from a random waveform (what a vocoder decodes)."""
    wav = 0.3 * np.random.default_rng(seed).standard_normal(int(model.sample_rate * seconds)).astype(np.float32)
    return model.encode(wav, model.sample_rate)


def test_hifigan_speecht5_directory(tmp_path):
    """transformers SpeechT5HifiGan.save_pretrained: config.json + weights; 16 kHz / 64 bins / hop 160 (AudioLDM 2's
    mel front end) with widths and kernels of no preset."""
    pytest.importorskip("transformers")
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    config = SpeechT5HifiGanConfig(model_in_dim=64, sampling_rate=16000, upsample_initial_channel=32,
                                   upsample_rates=[5, 4, 2, 2, 2], upsample_kernel_sizes=[10, 8, 4, 4, 4],
                                   resblock_kernel_sizes=[3, 5], resblock_dilation_sizes=[[1, 2], [1, 3]],
                                   leaky_relu_slope=0.2, normalize_before=True)
    torch.manual_seed(0)
    official = SpeechT5HifiGan(config).eval()
    with torch.no_grad():
        for p in official.parameters():
            p.add_(0.05 * torch.randn_like(p))
        official.mean.copy_(torch.randn(64))
        official.scale.copy_(0.5 + torch.rand(64))
    official.save_pretrained(tmp_path / "vocoder")
    model = _export_codec("hifigan", tmp_path / "vocoder", tmp_path / "bundle")
    hparams = model.bundle.component("codec").hparams
    assert hparams["config"]["upsample_initial_channel"] == 32 and hparams["config"]["mel"]["n_mels"] == 64
    assert model.bundle.manifest.provenance["config"] == "checkpoint config.json"
    mel = _mel(model)
    with torch.no_grad():
        want = official(torch.from_numpy(mel[0].T.copy())).numpy()
    np.testing.assert_allclose(model.decode(mel).samples, want, atol=1e-4)


def test_bigvgan_release_directory(tmp_path):
    """An official release directory (config.json + bigvgan_generator.pt): AMP type 2, plain snake, 3 upsampling
    stages and a mel front end (n_fft, window, fmin / fmax) of no preset."""
    bigvgan = pytest.importorskip("bigvgan")
    from bigvgan.env import AttrDict

    h = {"num_mels": 10, "upsample_rates": [2, 3, 2], "upsample_kernel_sizes": [4, 7, 4],
         "upsample_initial_channel": 24, "resblock": "2", "resblock_kernel_sizes": [3, 5],
         "resblock_dilation_sizes": [[1, 3], [2]], "activation": "snake", "snake_logscale": True,
         "use_tanh_at_final": False, "use_bias_at_final": True, "sampling_rate": 8000, "hop_size": 12,
         "n_fft": 64, "win_size": 48, "fmin": 20, "fmax": 3800}
    torch.manual_seed(0)
    official = bigvgan.BigVGAN(AttrDict(dict(h)), use_cuda_kernel=False).eval()
    with torch.no_grad():
        for name, p in official.named_parameters():
            p.add_(0.05 * torch.randn_like(p))
            if name.startswith("conv_post") and name.endswith("weight_g"):
                p.mul_(0.04)  # inside (-1, 1): the final clamp hides nothing
    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "config.json").write_text(json.dumps(h))
    torch.save({"generator": official.state_dict()}, tmp_path / "release" / "bigvgan_generator.pt")
    model = _export_codec("bigvgan", tmp_path / "release", tmp_path / "bundle")
    mel_cfg = model.bundle.component("codec").hparams["config"]["mel"]
    assert (mel_cfg["n_fft"], mel_cfg["win_length"], mel_cfg["fmin"], mel_cfg["fmax"]) == (64, 48, 20, 3800)
    mel = _mel(model)
    with torch.no_grad():
        want = official(torch.from_numpy(mel))[0, 0].numpy()
    np.testing.assert_allclose(model.decode(mel).samples, want, atol=1e-4)


def test_dac_pth_metadata(tmp_path):
    """DAC 1.0.0's .pth keeps the constructor kwargs in ``metadata.kwargs``: sizes of no preset."""
    from tests.models.test_dac_parity import _official_dac_class, _randomize

    kwargs = dict(encoder_dim=4, encoder_rates=[2, 3], latent_dim=12, decoder_dim=20, decoder_rates=[3, 2],
                  n_codebooks=3, codebook_size=16, codebook_dim=4, sample_rate=3000)
    torch.manual_seed(0)
    official = _official_dac_class()(**kwargs).eval()
    _randomize(official, seed=1)
    with torch.no_grad():  # keep the waveform moderate (random weights everywhere would saturate the tanh)
        for name, p in official.named_parameters():
            if name.endswith("weight_g"):
                p.mul_(0.3)
    torch.save({"state_dict": official.state_dict(), "metadata": {"kwargs": kwargs}}, tmp_path / "weights.pth")
    model = _export_codec("dac", tmp_path / "weights.pth", tmp_path / "bundle")
    assert model.hparams.n_q == 3 and model.hparams.codebook_size == 16
    wav = 0.3 * np.random.default_rng(5).standard_normal(6 * 20).astype(np.float32)
    codes = model.encode(wav, model.sample_rate)
    with torch.no_grad():
        z, want_codes, *_ = official.encode(torch.from_numpy(wav)[None, None])
        want = official.decode(z)[0, 0].numpy()
    np.testing.assert_array_equal(codes, want_codes.numpy())
    np.testing.assert_allclose(model.decode(codes).samples, want, atol=1e-4)


def test_encodec_sizes_from_shapes(tmp_path):
    """An EnCodec .th has no config: ``--config tiny`` names the preset, and the sizes the weights fix (filters,
    latent dimension, LSTM layers, codebook count and size) are read from their shapes, here none of tiny's."""
    from tests.models.test_encodec_parity import _official
    from voxlite.models.rvq_codec import RVQCodecConfig

    cfg = RVQCodecConfig.tiny(n_filters=6, dimension=9, lstm=1, n_q=3, codebook_size=16)
    official = _official(cfg, seed=0)
    torch.save(official.state_dict(), tmp_path / "my_codec.th")
    model = _export_codec("encodec", tmp_path / "my_codec.th", tmp_path / "bundle", "--config", "tiny")
    got = model.bundle.component("codec").hparams["config"]
    assert (got["n_filters"], got["dimension"], got["lstm"], got["n_q"], got["codebook_size"]) == (6, 9, 1, 3, 16)
    wav = 0.3 * np.random.default_rng(6).standard_normal(24 * 10).astype(np.float32)
    codes = model.encode(wav, model.sample_rate)
    with torch.no_grad():
        frames = official.encode(torch.from_numpy(wav)[None, None])
        want = official.decode(frames)[0, 0].numpy()
    np.testing.assert_array_equal(codes, frames[0][0].numpy())
    np.testing.assert_allclose(model.decode(codes).samples, want[:len(wav)], atol=1e-4)


@pytest.fixture(scope="module")
def voxcpm_export(tmp_path_factory):
    """An official voxcpm 2.0.3 checkpoint of no preset size (4 + 1 LM layers, a wider LocDiT), whose cfm_config
    says inference_cfg_rate 0.5, exported with ``python -m export voxcpm --checkpoint DIR``."""
    from tests.models.test_voxcpm_parity import TINY_VAE, _official_model
    from export import main
    from export.voxcpm import tiny_tokenizer_json
    from voxlite.models.voxcpm import VoxCPMConfig

    torch.set_num_threads(1)
    config = VoxCPMConfig.tiny().to_official()
    config["lm_config"]["num_hidden_layers"] = 4
    config["residual_lm_num_layers"] = 1
    config["dit_config"]["hidden_dim"] = 36
    config["dit_config"]["cfm_config"]["inference_cfg_rate"] = 0.5
    official = _official_model(config)
    ckpt = tmp_path_factory.mktemp("ckpt")
    (ckpt / "config.json").write_text(json.dumps({**config, "audio_vae_config": TINY_VAE}))
    state = official.state_dict()
    torch.save({k: v for k, v in state.items() if not k.startswith("audio_vae.")}, ckpt / "pytorch_model.bin")
    torch.save(official.audio_vae.state_dict(), ckpt / "audiovae.pth")
    (ckpt / "tokenizer.json").write_text(tiny_tokenizer_json(100))
    out = tmp_path_factory.mktemp("voxcpm") / "bundle"
    assert main(["voxcpm", "--checkpoint", str(ckpt), "--out", str(out)]) == 0  # python -m export voxcpm ...
    return official, config, voxlite.load(out, backend="cpu")


def test_voxcpm_config_from_checkpoint(voxcpm_export):
    official, config, model = voxcpm_export
    hparams = model.hparams  # VoxCPMLMHParams of the lm component
    assert hparams.kv["base"].n_layers == 4 and hparams.kv["residual"].n_layers == 1
    assert hparams.dit_dim == 36
    P, D = config["patch_size"], config["feat_dim"]
    text, max_len, steps = [7, 21, 50, 88], 5, 4
    from voxlite.kernels.noise import standard_normal

    noise = [torch.from_numpy(standard_normal(9, i, (1, P, D))).transpose(1, 2).contiguous()
             for i in range(max_len)]  # the pipeline's draws, in the official (B, D, P) layout
    ids = text + [model.hparams.audio_start_token]
    tokens = torch.tensor([ids], dtype=torch.int64)
    text_mask = torch.ones(1, len(ids), dtype=torch.int32)
    randn, draws = torch.randn, iter(noise)
    torch.randn = lambda *a, **k: next(draws).clone()
    try:
        with torch.no_grad():
            latents, _ = official.inference(tokens, text_mask, torch.zeros(1, len(ids), P, D), 1 - text_mask,
                                            min_len=2, max_len=max_len, inference_timesteps=steps, cfg_value=2.0)
    finally:
        torch.randn = randn
    got = model.generate_latents(text, seed=9, steps=steps, max_patches=max_len, cfg=2.0)
    np.testing.assert_allclose(got, latents.numpy(), atol=1e-4)


def test_voxcpm_default_cfg_is_the_official_inference_default(voxcpm_export):
    """The old exporter took the bundle's cfg from cfm_config.inference_cfg_rate (0.5 here), which voxcpm's
    inference never reads (its training forward passes it as a step count); generation uses cfg_value, 2.0."""
    from tests.models.test_voxcpm_parity import OFFICIAL

    official_default = inspect.signature(OFFICIAL.VoxCPMModel._generate).parameters["cfg_value"].default
    assert official_default == 2.0
    _, config, model = voxcpm_export
    assert config["dit_config"]["cfm_config"]["inference_cfg_rate"] == 0.5
    assert model.hparams.cfg == official_default
