"""CLAP's audio tower (HTSAT, unfused) against transformers' ClapModel: get_audio_features, logits_per_text /
logits_per_audio from the official text tower's features, ONNX export, and checkpoint folders (random weights,
no download)."""
import math

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from voxlite.convert.clap_audio import config_of, convert_state_dict, load_official, load_official_dir  # noqa: E402
from voxlite.models.clap_audio import ClapAudioConfig, ClapAudioEncoder, clap_similarity  # noqa: E402

# text_encoder/config.json of cvssp/audioldm2 (and -large): HTSAT-base audio sizes
AUDIOLDM2_CLAP = {
    "architectures": ["ClapModel"], "hidden_size": 768, "initializer_factor": 1.0,
    "logit_scale_init_value": 14.285714285714285, "model_type": "clap", "num_hidden_layers": 16,
    "projection_dim": 512, "projection_hidden_act": "relu",
    "audio_config": {"depths": [2, 2, 12, 2], "fusion_num_hidden_layers": 2, "hidden_size": 1024,
                     "model_type": "clap_audio_model", "patch_embeds_hidden_size": 128, "projection_hidden_size": 768},
    "text_config": {"classifier_dropout": None, "fusion_hidden_size": 768, "fusion_num_hidden_layers": 2,
                    "initializer_range": 0.02, "model_type": "clap_text_model", "projection_hidden_size": 768},
}
# laion/clap-htsat-unfused config.json: no audio size is set, transformers' defaults apply
UNFUSED_CLAP = {**AUDIOLDM2_CLAP, "audio_config": {"fusion_num_hidden_layers": 2, "model_type": "clap_audio_model",
                                                   "projection_hidden_size": 768}}
TINY_TEXT = dict(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24,
                 max_position_embeddings=40)


def _hf_config(cfg: ClapAudioConfig):
    audio = dict(num_mel_bins=cfg.num_mel_bins, spec_size=cfg.spec_size, window_size=cfg.window_size,
                 patch_embeds_hidden_size=cfg.patch_embeds_hidden_size, depths=list(cfg.depths),
                 num_attention_heads=list(cfg.num_attention_heads), hidden_size=cfg.hidden_size)
    return transformers.ClapConfig(text_config=TINY_TEXT, audio_config=audio, projection_dim=cfg.projection_dim)


def _official(cfg: ClapAudioConfig, seed: int = 0):
    model = transformers.ClapModel(_hf_config(cfg)).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # every parameter and BatchNorm statistic random, so a mix-up cannot hide
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
        bn = model.audio_model.audio_encoder.batch_norm
        bn.running_mean.copy_(3 * torch.randn(bn.running_mean.shape, generator=g))
        bn.running_var.copy_(0.5 + 4 * torch.rand(bn.running_var.shape, generator=g))
    return model


def _features(batch: int, frames: int, cfg: ClapAudioConfig, seed: int = 1):
    # dB-scaled like the extractor's output, so the BatchNorm and bicubic stretch see realistic magnitudes
    return -40 + 20 * torch.randn(batch, 1, frames, cfg.num_mel_bins, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def tiny():
    cfg = ClapAudioConfig.tiny()
    official = _official(cfg)
    return cfg, official, load_official(official.state_dict(), official.config.to_dict())


@pytest.mark.parametrize("frames", [250, 256, 37], ids=["stretched", "exact", "short"])
def test_audio_features_match(tiny, frames):
    cfg, official, ours = tiny
    x = _features(3, frames, cfg)
    with torch.no_grad():
        expected = official.get_audio_features(input_features=x).pooler_output
        got = ours(x)
    assert got.shape == (3, cfg.projection_dim)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.norm(dim=-1), torch.ones(3))


def test_logits_per_text_and_audio(tiny):
    cfg, official, ours = tiny
    ids = torch.randint(3, TINY_TEXT["vocab_size"], (2, 7), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    x = _features(3, 250, cfg, seed=3)
    with torch.no_grad():
        out = official(input_ids=ids, attention_mask=mask, input_features=x)
        text = official.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
        audio = ours(x)
        per_text = clap_similarity(text, audio, ours.text_logit_scale)
        per_audio = clap_similarity(text, audio, ours.audio_logit_scale).t()
    assert not math.isclose(official.logit_scale_t.item(), official.logit_scale_a.item())  # a mix-up would show
    torch.testing.assert_close(per_text, out.logits_per_text, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(per_audio, out.logits_per_audio, atol=1e-4, rtol=1e-5)
    # AudioLDM 2 keeps, per prompt, the best-scoring waveforms
    assert torch.equal(per_text.argsort(dim=1, descending=True), out.logits_per_text.argsort(dim=1, descending=True))


def test_configs():
    assert ClapAudioConfig.from_transformers(_hf_config(ClapAudioConfig.tiny())) == ClapAudioConfig.tiny()
    # transformers' ClapAudioConfig defaults are the laion/clap-htsat-unfused sizes
    assert ClapAudioConfig.from_transformers(transformers.ClapAudioConfig().to_dict()) == ClapAudioConfig()
    assert config_of(UNFUSED_CLAP) == ClapAudioConfig.htsat_unfused()
    assert config_of(AUDIOLDM2_CLAP) == ClapAudioConfig.audioldm2()
    with pytest.raises(NotImplementedError, match="enable_fusion"):
        ClapAudioConfig.from_transformers({"audio_config": {"enable_fusion": True, "fusion_type": "aff_2d"}})
    with pytest.raises(ValueError, match="hidden_size"):
        ClapAudioConfig.from_transformers({"audio_config": {"hidden_size": 1024}})


@pytest.mark.parametrize("config, n_params", [(UNFUSED_CLAP, 28_190_872), (AUDIOLDM2_CLAP, 68_611_864)],
                         ids=["clap-htsat-unfused", "audioldm2"])
def test_published_layouts(config, n_params):
    """Every audio key of the published ClapModel lands on ours with its shape (meta device: no memory)."""
    with torch.device("meta"):
        official = transformers.ClapModel(transformers.ClapConfig(**config))
        ours = ClapAudioEncoder(config_of(config))
    converted, own = convert_state_dict(official.state_dict()), ours.state_dict()
    assert sorted(converted) == sorted(own)
    assert all(converted[k].shape == own[k].shape for k in own)
    # audio_model + audio_projection; ours adds the two logit scales
    assert sum(p.numel() for p in ours.parameters()) == n_params + 2


@pytest.mark.parametrize("config", [UNFUSED_CLAP, AUDIOLDM2_CLAP], ids=["clap-htsat-unfused", "audioldm2"])
def test_published_sizes_match(config):
    """The real geometry: 1001 frames stretched to 1024, a 256x256 image, 64x64 tokens, windows of 8."""
    config = {**config, "text_config": TINY_TEXT}
    official = transformers.ClapModel(transformers.ClapConfig(**config)).eval()
    g = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for p in official.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))
        bn = official.audio_model.audio_encoder.batch_norm
        bn.running_mean.copy_(-40 + 10 * torch.randn(64, generator=g))
        bn.running_var.copy_(100 + 50 * torch.rand(64, generator=g))
    ours = load_official(official.state_dict(), config)
    x = _features(1, 1001, ours.cfg, seed=7)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), official.get_audio_features(input_features=x).pooler_output,
                                   atol=1e-5, rtol=0)


def test_fused_checkpoint_refused(tiny):
    _, official, _ = tiny
    state = dict(official.state_dict())
    state["audio_model.audio_encoder.patch_embed.mel_conv2d.weight"] = torch.zeros(8, 1, 4, 12)
    with pytest.raises(NotImplementedError, match="fused"):
        convert_state_dict(state)


def test_bad_input_shapes(tiny):
    cfg, _, ours = tiny
    for shape in [(2, 250, cfg.num_mel_bins), (2, 1, 250, cfg.num_mel_bins + 1), (2, 2, 250, cfg.num_mel_bins),
                  (2, 1, cfg.max_frames + 1, cfg.num_mel_bins)]:
        with pytest.raises(ValueError):
            ours(torch.zeros(shape))


def test_load_official_dir(tmp_path, tiny):
    cfg, official, _ = tiny
    official.save_pretrained(tmp_path)
    ours = load_official_dir(tmp_path)
    assert ours.cfg == cfg
    x = _features(2, 250, cfg, seed=4)
    with torch.no_grad():
        expected = official.get_audio_features(input_features=x).pooler_output
        torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=0)
        # the published AudioLDM 2 text encoders are stored in float64
        double = load_official({k: v.double() if v.is_floating_point() else v
                                for k, v in official.state_dict().items()}, cfg)
        torch.testing.assert_close(double(x), expected, atol=1e-5, rtol=0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning",
                            "ignore::torch.jit.TracerWarning")
def test_onnx_export_matches_torch(tmp_path, tiny):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    cfg, _, ours = tiny
    path = tmp_path / "clap_audio.onnx"
    frames = 250  # fixed per export (the extractor's frame count), the batch is dynamic
    torch.onnx.export(ours, (_features(1, frames, cfg),), str(path), dynamo=False, opset_version=17,
                      input_names=["input_features"], output_names=["audio_embeds"],
                      dynamic_axes={"input_features": {0: "batch"}, "audio_embeds": {0: "batch"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = _features(3, frames, cfg, seed=5)
    (got,) = session.run(None, {"input_features": x.numpy()})
    with torch.no_grad():
        expected = ours(x)
    torch.testing.assert_close(torch.from_numpy(got), expected, atol=1e-4, rtol=0)
