"""HuBERT reference (models/hubert.py) vs transformers' HubertModel at tiny configs with random weights (every
weight, norm gains and biases included, moved far from its init): both extractor / encoder variants (group norm +
post-norm "base", layer norm + pre-norm "large"), ``hidden_states[k]`` against ours at ``output_layer=k`` for every
k, the full output, batch items independent, the fairseq key layout and config, and the refusals."""
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from voxlite.convert.hubert import (_conv_layers, config_of, convert_state_dict, fairseq_config_of,  # noqa: E402
                                    load_fairseq, load_official, load_official_dir)
from voxlite.models.hubert import Hubert, HubertConfig  # noqa: E402

VARIANTS = {"base": dict(do_stable_layer_norm=False, feat_extract_norm="group", conv_bias=False),
            "large": dict(do_stable_layer_norm=True, feat_extract_norm="layer", conv_bias=True)}
_TINY = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37, conv_dim=(16, 16, 16),
             conv_stride=(5, 2, 2), conv_kernel=(10, 3, 3), num_conv_pos_embeddings=16,
             num_conv_pos_embedding_groups=4)


def _official(variant: str, seed: int = 0):
    torch.manual_seed(seed)
    model = transformers.HubertModel(transformers.HubertConfig(**_TINY, **VARIANTS[variant])).eval()
    with torch.no_grad():
        for p in model.parameters():  # norm gains and biases too: a swapped or missing norm cannot pass
            p.add_(0.5 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module", params=list(VARIANTS))
def official(request):
    return request.param, _official(request.param)


def _close(got, want):
    # fp32, same operations in another order; pre-norm residuals grow, so the bound scales with the output
    torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-6 * max(1.0, want.abs().max().item()))


@torch.no_grad()
def test_every_layer_matches_hidden_states(official):
    variant, model = official
    ours = load_official(model.state_dict(), model.config.to_dict())
    assert ours.config.stable_layer_norm == (variant == "large")
    wav = torch.randn(2, 1003, generator=torch.Generator().manual_seed(1))
    out = model(wav, output_hidden_states=True)
    assert len(out.hidden_states) == ours.config.n_layers + 1
    for k, want in enumerate(out.hidden_states):
        got = ours(wav, output_layer=k)
        assert got.shape == want.shape == (2, ours.config.n_frames(1003), 32)
        _close(got, want)
    _close(ours(wav, output_layer=None), out.last_hidden_state)
    # an output_layer fixed at construction is the default of forward
    fixed = load_official(model.state_dict(), model.config.to_dict(), output_layer=2)
    _close(fixed(wav), out.hidden_states[2])


@torch.no_grad()
def test_frames_and_batch_independence(official):
    _, model = official
    ours = load_official(model.state_dict(), model.config.to_dict(), output_layer=2)
    cfg = ours.config
    assert (cfg.hop_length, cfg.receptive_field) == (20, 40)
    assert [cfg.n_frames(n) for n in (39, 40, 59, 60, 1003)] == [0, 1, 1, 2, 49]
    wav = torch.randn(3, 640, generator=torch.Generator().manual_seed(2))
    both = ours(wav)
    for i in range(3):
        _close(ours(wav[i:i + 1]), both[i:i + 1])


def test_published_sizes():
    assert config_of(transformers.HubertConfig().to_dict()) == HubertConfig.base()
    base = HubertConfig.base()
    assert (base.hop_length, base.receptive_field, base.n_frames(16000)) == (320, 400, 49)
    large = HubertConfig.large()
    assert (large.dim, large.n_layers, large.stable_layer_norm, large.feat_extract_norm) == (1024, 24, True, "layer")


# -- fairseq layout ----------------------------------------------------------------------------------------------
def _to_fairseq(state: dict, stable: bool) -> dict:
    """transformers names -> fairseq's (the inverse of the converter's table, written out independently)."""
    out = {"mask_emb": torch.zeros(32), "label_embs_concat": torch.zeros(7, 8),
           "final_proj.weight": torch.zeros(8, 32), "final_proj.bias": torch.zeros(8)}
    for k, v in state.items():
        if k == "masked_spec_embed":
            continue
        k = k.replace("feature_projection.layer_norm.", "layer_norm.")
        k = k.replace("feature_projection.projection.", "post_extract_proj.")
        k = k.replace("encoder.pos_conv_embed.conv.parametrizations.weight.original0", "encoder.pos_conv.0.weight_g")
        k = k.replace("encoder.pos_conv_embed.conv.parametrizations.weight.original1", "encoder.pos_conv.0.weight_v")
        k = k.replace("encoder.pos_conv_embed.conv.", "encoder.pos_conv.0.")
        k = k.replace(".attention.", ".self_attn.").replace(".feed_forward.intermediate_dense.", ".fc1.")
        k = k.replace(".feed_forward.output_dense.", ".fc2.")
        if k.startswith("encoder.layers.") and ".layer_norm." in k:
            k = k.replace(".layer_norm.", ".self_attn_layer_norm.")
        if k.startswith("feature_extractor."):
            k = k.replace(".conv.", ".0.").replace(".layer_norm.", ".2.1." if stable else ".2.")
        out[k] = v
    return out


@torch.no_grad()
def test_fairseq_layout(official):
    variant, model = official
    stable = variant == "large"
    fs_cfg = {"encoder_layers": 3, "encoder_embed_dim": 32, "encoder_ffn_embed_dim": 37,
              "encoder_attention_heads": 4, "conv_feature_layers": "[(16, 10, 5)] + [(16, 3, 2)] * 2",
              "conv_pos": 16, "conv_pos_groups": 4, "conv_bias": stable, "layer_norm_first": stable,
              "extractor_mode": "layer_norm" if stable else "default", "activation_fn": "gelu"}
    assert fairseq_config_of(fs_cfg) == config_of(model.config.to_dict())
    ours = load_fairseq(_to_fairseq(model.state_dict(), stable), fs_cfg, output_layer=2)
    wav = torch.randn(1, 700, generator=torch.Generator().manual_seed(3))
    _close(ours(wav), model(wav, output_hidden_states=True).hidden_states[2])


def test_fairseq_config_defaults_are_hubert_base():
    assert fairseq_config_of({}) == HubertConfig.base()
    assert _conv_layers("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2") == \
        [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
    with pytest.raises(ValueError, match="conv_feature_layers"):
        _conv_layers("__import__('os').system('true')")


def test_refusals(official):
    _, model = official
    state = dict(model.state_dict())
    state["encoder.layers.0.attention.rotary.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="unexpected HuBERT key"):
        convert_state_dict(state, model.config.do_stable_layer_norm)
    with pytest.raises(ValueError, match="not supported"):
        config_of({**model.config.to_dict(), "hidden_act": "relu"})
    ours = Hubert(HubertConfig.tiny())
    for bad in (-2, 4, 1.5, True):
        with pytest.raises(ValueError, match="output_layer"):
            ours(torch.zeros(1, 100), output_layer=bad)


@torch.no_grad()
def test_load_official_dir(tmp_path):
    model = _official("base", seed=4)
    model.save_pretrained(tmp_path)
    ours = load_official_dir(tmp_path, output_layer=1)
    wav = torch.randn(1, 400, generator=torch.Generator().manual_seed(5))
    _close(ours(wav), model(wav, output_hidden_states=True).hidden_states[1])
