"""HiFi-GAN: ours vs transformers' SpeechT5HifiGan (AudioLDM 2's vocoder class) with shared random weights."""
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig  # noqa: E402

from voxlite.convert.hifigan import convert_state_dict, load_official  # noqa: E402
from voxlite.models.hifigan import HiFiGAN, HiFiGANConfig  # noqa: E402


def _official_config(cfg: HiFiGANConfig) -> SpeechT5HifiGanConfig:
    return SpeechT5HifiGanConfig(
        model_in_dim=cfg.n_mels, sampling_rate=cfg.sample_rate, upsample_initial_channel=cfg.upsample_initial_channel,
        upsample_rates=list(cfg.upsample_rates), upsample_kernel_sizes=list(cfg.upsample_kernel_sizes),
        resblock_kernel_sizes=list(cfg.resblock_kernel_sizes),
        resblock_dilation_sizes=[list(d) for d in cfg.resblock_dilation_sizes],
        leaky_relu_slope=cfg.leaky_relu_slope, normalize_before=cfg.normalize_before)


def _official(cfg: HiFiGANConfig, seed: int = 0) -> SpeechT5HifiGan:
    torch.manual_seed(seed)
    model = SpeechT5HifiGan(_official_config(cfg)).eval()
    with torch.no_grad():  # biases start at zero, mean / scale at 0 / 1: perturb so a wrong mapping shows
        for name, p in model.named_parameters():
            p.add_(0.05 * torch.randn_like(p))
        model.mean.copy_(torch.randn(cfg.n_mels))
        model.scale.copy_(0.5 + torch.rand(cfg.n_mels))
    return model


@pytest.mark.parametrize("normalize_before", [True, False])
@pytest.mark.parametrize("weight_norm", [False, True])
def test_hifigan_matches_speecht5_hifigan(normalize_before, weight_norm):
    cfg = HiFiGANConfig.tiny(normalize_before=normalize_before)
    official = _official(cfg)
    if weight_norm:  # a training-time checkpoint: parametrized weights, folded by the converter
        official.apply_weight_norm()
        assert any("parametrizations" in k for k in official.state_dict())
    ours = load_official(official.state_dict(), cfg)

    torch.manual_seed(1)
    mel = torch.randn(2, cfg.n_mels, 17)  # ours: (B, n_mels, T); SpeechT5HifiGan: (B, T, n_mels)
    with torch.no_grad():
        ref = official(mel.transpose(1, 2))
        wav = ours(mel)
    assert wav.shape == ref.shape == (2, 17 * cfg.hop_length)
    assert ref.abs().max() > 1e-2
    torch.testing.assert_close(wav, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # the old weight_norm spelling, on purpose
def test_original_hifigan_keys_convert():
    # original generator checkpoints say ups.{i} and keep weight_g / weight_v
    cfg = HiFiGANConfig.tiny(normalize_before=False)
    official = _official(cfg, seed=2)
    ups = official.upsampler[0]
    torch.nn.utils.weight_norm(ups)  # old-style spelling on one layer
    state = {k.replace("upsampler.", "ups."): v for k, v in official.state_dict().items()}
    assert "ups.0.weight_g" in state
    ours = HiFiGAN(cfg)
    ours.load_state_dict(convert_state_dict(state, normalize_before=False))
    mel = torch.randn(1, cfg.n_mels, 9)
    with torch.no_grad():
        torch.testing.assert_close(ours(mel), official(mel.transpose(1, 2)), atol=1e-5, rtol=1e-5)


def test_converter_is_strict():
    cfg = HiFiGANConfig.tiny()
    state = _official(cfg).state_dict()
    with pytest.raises(ValueError, match="missing"):
        load_official({k: v for k, v in state.items() if k != "conv_post.bias"}, cfg)
    with pytest.raises(ValueError, match="missing"):  # normalize_before needs the mean / scale buffers
        load_official({k: v for k, v in state.items() if k not in ("mean", "scale")}, cfg)


@pytest.mark.parametrize("preset", ["audioldm2", "speecht5"])
def test_published_configs_have_official_layout(preset):
    cfg = getattr(HiFiGANConfig, preset)()
    with torch.device("meta"):  # shapes only
        official = SpeechT5HifiGan(_official_config(cfg))
    state = {k: torch.zeros(v.shape) for k, v in official.state_dict().items()}
    converted = {k: tuple(v.shape) for k, v in convert_state_dict(state, cfg.normalize_before).items()}
    with torch.device("meta"):
        ours = {k: tuple(v.shape) for k, v in HiFiGAN(cfg).state_dict().items()}
    assert converted == ours
    assert cfg.hop_length == {"audioldm2": 160, "speecht5": 256}[preset]
    if preset == "audioldm2":  # diffusers' AudioLDM 2 vocoder config
        assert (cfg.n_mels, cfg.upsample_initial_channel, cfg.normalize_before) == (64, 1024, False)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_onnx_export_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    cfg = HiFiGANConfig.tiny()
    model = load_official(_official(cfg, seed=3).state_dict(), cfg)
    path = tmp_path / "hifigan.onnx"
    torch.onnx.export(model, (torch.randn(1, cfg.n_mels, 10),), str(path), dynamo=False, opset_version=17,
                      input_names=["mel"], output_names=["audio"],
                      dynamic_axes={"mel": {0: "batch", 2: "frames"}, "audio": {0: "batch", 1: "samples"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    mel = torch.randn(2, cfg.n_mels, 21)
    (audio,) = session.run(None, {"mel": mel.numpy()})
    with torch.no_grad():
        ref = model(mel)
    torch.testing.assert_close(torch.from_numpy(audio), ref, atol=1e-5, rtol=1e-4)


def test_export_from_official_checkpoint_file(tmp_path):
    """``python -m export codec --family hifigan --checkpoint FILE`` loads through the converter's own loader."""
    pytest.importorskip("onnx")
    from export.codec import FAMILIES

    cfg = HiFiGANConfig.tiny()
    official = _official(cfg)
    path = tmp_path / "generator.pt"
    torch.save(official.state_dict(), path)
    parts = FAMILIES["hifigan"](str(path), "tiny", seed=123)  # the seed must not matter with a checkpoint
    mel = torch.randn(1, cfg.n_mels, 9)
    with torch.no_grad():
        torch.testing.assert_close(parts.decoder(mel)[:, 0], official(mel.transpose(1, 2)), atol=1e-5, rtol=1e-5)
