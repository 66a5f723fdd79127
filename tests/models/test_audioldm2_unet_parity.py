"""AudioLDM 2's UNet against diffusers' AudioLDM2UNet2DConditionModel (random weights, no download), its published
configs, and its ONNX export."""
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from voxlite.convert.audioldm2_unet import config_of, convert_state_dict, load_official, load_official_dir  # noqa: E402
from voxlite.models.audioldm2_unet import AudioLDM2UNet, AudioLDM2UNetConfig  # noqa: E402

ATOL = 1e-5

# cvssp/audioldm2 unet/config.json (huggingface.co/cvssp/audioldm2/raw/main/unet/config.json)
AUDIOLDM2_UNET = {
    "_class_name": "AudioLDM2UNet2DConditionModel", "_diffusers_version": "0.20.0.dev0", "act_fn": "silu",
    "attention_head_dim": 8, "block_out_channels": [128, 256, 384, 640], "class_embed_type": None,
    "class_embeddings_concat": False, "conv_in_kernel": 3, "conv_out_kernel": 3,
    "cross_attention_dim": [[None, 768, 1024]] * 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 8, "layers_per_block": 2,
    "mid_block_scale_factor": 1, "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05,
    "norm_num_groups": 32, "num_attention_heads": None, "num_class_embeds": None, "only_cross_attention": False,
    "out_channels": 8, "projection_class_embeddings_input_dim": None, "resnet_time_scale_shift": "default",
    "sample_size": 256, "time_cond_proj_dim": None, "time_embedding_act_fn": None, "time_embedding_dim": None,
    "time_embedding_type": "positional", "timestep_post_act": None, "transformer_layers_per_block": 1,
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "upcast_attention": False, "use_linear_projection": False,
}

# the large checkpoint's structure at test size: two transformer layers, a second self-attention entry, linear
# projections, per-block heads, one ResNet per block
LARGE_LIKE = AudioLDM2UNetConfig(
    in_channels=3, out_channels=5, block_out_channels=(16, 24, 32), layers_per_block=1,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), transformer_layers_per_block=2,
    attention_heads=(2, 4, 8), cross_attention_dim=((None, 12, 20, None),) * 3, norm_num_groups=8,
    use_linear_projection=True, sample_size=None)


def _official(cfg: AudioLDM2UNetConfig, seed: int):
    torch.manual_seed(seed)  # diffusers' own init draws from the global generator
    model = diffusers.AudioLDM2UNet2DConditionModel(**cfg.to_dict())
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # every parameter moved off its init (norm affines, zero biases) so a mix-up cannot hide
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


def _inputs(cfg: AudioLDM2UNetConfig, seed: int, batch=2, height=8, width=8, s0=5, s1=7):
    """Noisy latents, per-item timesteps, GPT-2-like and T5-like states, a T5 mask with padding in item 1."""
    g = torch.Generator().manual_seed(seed)
    d0, d1 = cfg.cross_attention_dim[-1][1:3]  # entry 1 reads the first sequence, entry 2 the second
    sample = torch.randn(batch, cfg.in_channels, height, width, generator=g)
    timestep = torch.tensor([981.0, 1.5, 500.0, 37.0][:batch])
    mask_1 = torch.ones(batch, s1, dtype=torch.long)
    mask_1[1, s1 - 3:] = 0
    return sample, timestep, torch.randn(batch, s0, d0, generator=g), torch.randn(batch, s1, d1, generator=g), mask_1


@pytest.mark.parametrize("variant", ["base-like", "large-like"])
def test_unet_matches_diffusers(variant):
    cfg = AudioLDM2UNetConfig.tiny() if variant == "base-like" else LARGE_LIKE
    official = _official(cfg, seed=1)
    ours = load_official(official.state_dict(), official.config)
    assert ours.cfg == cfg

    height, width = (8, 8) if variant == "base-like" else (13, 6)  # 13 x 6: not a multiple of the x4 down path
    sample, timestep, hidden, hidden_1, mask_1 = _inputs(cfg, seed=2, height=height, width=width)
    mask = None
    if variant == "large-like":  # the first sequence's mask too (the pipeline passes none)
        mask = torch.ones(hidden.shape[:2], dtype=torch.long)
        mask[0, -2:] = 0
    with torch.no_grad():
        expected = official(sample, timestep, encoder_hidden_states=hidden, encoder_attention_mask=mask,
                            encoder_hidden_states_1=hidden_1, encoder_attention_mask_1=mask_1).sample
        got = ours(sample, timestep, hidden, hidden_1, mask_1, encoder_attention_mask=mask)
    assert got.shape == (2, cfg.out_channels, height, width)
    print(f"{variant}: max |ours - diffusers| = {(got - expected).abs().max().item():.2e} "
          f"(output max {expected.abs().max().item():.2f})")
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_padded_text_tokens_are_ignored():
    cfg = AudioLDM2UNetConfig.tiny()
    ours = load_official(_official(cfg, seed=3).state_dict(), cfg)
    sample, timestep, hidden, hidden_1, mask_1 = _inputs(cfg, seed=4)
    changed = hidden_1.clone()
    changed[1, -3:] += 5.0  # only item 1's padded positions
    with torch.no_grad():
        a = ours(sample, timestep, hidden, hidden_1, mask_1)
        b = ours(sample, timestep, hidden, changed, mask_1)
        c = ours(sample, timestep, hidden, changed, torch.ones_like(mask_1))
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert (c[1] - a[1]).abs().max() > 1e-3  # unmasked, the same change shows


def test_load_official_dir(tmp_path):
    cfg = AudioLDM2UNetConfig.tiny()
    official = _official(cfg, seed=5)
    official.save_pretrained(tmp_path)  # config.json + diffusion_pytorch_model.safetensors
    ours = load_official_dir(tmp_path)
    assert ours.cfg == cfg and not ours.training
    sample, timestep, hidden, hidden_1, mask_1 = _inputs(cfg, seed=6)
    with torch.no_grad():
        expected = official(sample, timestep, encoder_hidden_states=hidden, encoder_hidden_states_1=hidden_1,
                            encoder_attention_mask_1=mask_1).sample
        torch.testing.assert_close(ours(sample, timestep, hidden, hidden_1, mask_1), expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("preset", ["base", "large", "music"])
def test_published_preset_layout(preset):
    """Each published size: config round trip and every diffusers key on ours (meta device, no memory)."""
    cfg = getattr(AudioLDM2UNetConfig, preset)()
    assert config_of(cfg.to_dict()) == cfg
    if preset == "base":
        assert config_of(AUDIOLDM2_UNET) == cfg
    with torch.device("meta"):
        official = diffusers.AudioLDM2UNet2DConditionModel(**cfg.to_dict())
        ours = AudioLDM2UNet(cfg)
    converted = {k: tuple(v.shape) for k, v in convert_state_dict(official.state_dict()).items()}
    assert converted == {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    count = sum(p.numel() for p in ours.parameters())
    # diffusers' docs: a 350M UNet (base, music), 750M (large; 2.87 GB of float32 weights)
    assert round(count / 1e6, 1) == {"base": 346.9, "music": 346.9, "large": 718.0}[preset]


@pytest.mark.parametrize("key, value", [
    ("class_embed_type", "timestep"), ("num_class_embeds", 10), ("time_embedding_type", "fourier"),
    ("time_cond_proj_dim", 32), ("only_cross_attention", [False, True, True, True]),
    ("resnet_time_scale_shift", "scale_shift"), ("mid_block_scale_factor", 2.0), ("act_fn", "gelu"),
    ("conv_in_kernel", 5), ("addition_embed_type", "text"), ("down_block_types", ["SimpleCrossAttnDownBlock2D"] * 4),
])
def test_unsupported_configs_are_refused(key, value):
    with pytest.raises(ValueError):
        config_of({**AUDIOLDM2_UNET, key: value})


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning", "ignore::torch.jit.TracerWarning")
def test_onnx_export_matches_torch(tmp_path):
    """Opset 17, TorchScript exporter; batch, latent height and both sequence lengths dynamic."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from export.graphs import export_onnx

    cfg = AudioLDM2UNetConfig.tiny()
    ours = load_official(_official(cfg, seed=7).state_dict(), cfg)
    names = ["sample", "timestep", "encoder_hidden_states", "encoder_hidden_states_1", "encoder_attention_mask_1"]
    path = export_onnx(ours, _inputs(cfg, seed=8), tmp_path / "unet.onnx", input_names=names, output_names=["noise"],
                       dynamic_axes={"sample": {0: "batch", 2: "frames"}, "timestep": {0: "batch"},
                                     "encoder_hidden_states": {0: "batch", 1: "loa"},
                                     "encoder_hidden_states_1": {0: "batch", 1: "tokens"},
                                     "encoder_attention_mask_1": {0: "batch", 1: "tokens"},
                                     "noise": {0: "batch", 2: "frames"}})
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for batch, height, s0, s1 in ((2, 8, 5, 7), (4, 12, 8, 4), (2, 5, 3, 11)):
        inputs = _inputs(cfg, seed=9, batch=batch, height=height, s0=s0, s1=s1)
        (noise,) = session.run(None, {n: x.numpy() for n, x in zip(names, inputs)})
        with torch.no_grad():
            expected = ours(*inputs)
        print(f"onnx (B={batch}, h={height}, S={s0}/{s1}): max |ort - torch| = "
              f"{(torch.from_numpy(noise) - expected).abs().max().item():.2e}")
        torch.testing.assert_close(torch.from_numpy(noise), expected, atol=ATOL, rtol=0)
