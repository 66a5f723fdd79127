"""T5 encoder reference (AudioLDM 2's text_encoder_2) vs transformers' T5EncoderModel at a tiny config with shared
random weights: padded batches for gated-gelu (flan-T5) and relu (T5 v1.0), the relative position buckets against
T5's own formula, a save_pretrained folder, and an ONNX export with a dynamic sequence length."""
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from voxlite.convert.t5 import config_of, convert_state_dict, load_official, load_official_dir  # noqa: E402
from voxlite.models.t5_encoder import T5Encoder, T5EncoderConfig  # noqa: E402

# few buckets and a short max distance, so a 40-token input reaches the logarithmic buckets and the clipped one
_SIZES = dict(vocab_size=99, d_model=32, d_kv=8, num_heads=4, d_ff=37, num_layers=2, relative_attention_num_buckets=8,
              relative_attention_max_distance=20)


def _official(feed_forward_proj="gated-gelu", seed=0, spread=1.0):
    torch.manual_seed(seed)
    model = transformers.T5EncoderModel(transformers.T5Config(feed_forward_proj=feed_forward_proj, **_SIZES)).eval()
    with torch.no_grad():  # every weight distinct and far from its init, so a mix-up of layers cannot pass
        for p in model.parameters():
            p.add_(spread * torch.randn_like(p))
    return model


def _batch(T=40, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 99, (2, T), generator=g)
    mask = torch.ones(2, T, dtype=torch.long)
    mask[0, T - T // 3:] = 0  # the first item padded
    ids[0, T - T // 3:] = 0
    return ids, mask


@pytest.mark.parametrize("feed_forward_proj", ["gated-gelu", "relu"])
@torch.no_grad()
def test_last_hidden_state_with_padding(feed_forward_proj):
    official = _official(feed_forward_proj)
    ours = load_official(official.state_dict(), official.config.to_dict())
    ids, mask = _batch()
    want = official(input_ids=ids, attention_mask=mask).last_hidden_state
    got = ours(ids, mask)
    # padded positions too: they still attend the real tokens, as in transformers
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours(ids), official(input_ids=ids).last_hidden_state, atol=1e-5, rtol=1e-5)


def test_buckets_match_t5_formula():
    from transformers.models.t5.modeling_t5 import T5Attention

    for buckets, distance in ((8, 20), (32, 128)):
        ours = T5Encoder(T5EncoderConfig.tiny(relative_attention_num_buckets=buckets,
                                              relative_attention_max_distance=distance))
        rel = torch.arange(-3 * distance, 3 * distance + 1)
        want = T5Attention._relative_position_bucket(rel, True, buckets, distance)
        table = ours.distance_bucket
        got = table[rel.abs().clamp(max=len(table) - 1)] + (rel > 0).long() * (buckets // 2)
        assert torch.equal(got, want)


def test_config_and_keys():
    official = _official()
    cfg = config_of(official.config.to_dict())
    assert (cfg.dim, cfg.d_kv, cfg.n_heads, cfg.ffn, cfg.n_layers, cfg.feed_forward_proj) == (32, 8, 4, 37, 2,
                                                                                             "gated-gelu")
    large = T5EncoderConfig.flan_t5_large()
    assert large == config_of({"vocab_size": 32128, "d_model": 1024, "d_kv": 64, "num_heads": 16, "d_ff": 2816,
                               "num_layers": 24, "feed_forward_proj": "gated-gelu"})
    state = dict(official.state_dict())
    only_shared = {k: v for k, v in state.items() if k != "encoder.embed_tokens.weight"}
    only_encoder = {k: v for k, v in state.items() if k != "shared.weight"}
    assert convert_state_dict(only_shared).keys() == convert_state_dict(only_encoder).keys()
    state["encoder.block.1.layer.0.SelfAttention.rotary.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="unexpected T5 key"):
        convert_state_dict(state)


@torch.no_grad()
def test_load_official_dir(tmp_path):
    official = _official("relu", seed=2)
    official.save_pretrained(tmp_path)
    ours = load_official_dir(tmp_path)
    ids, mask = _batch(seed=3)
    torch.testing.assert_close(ours(ids, mask), official(input_ids=ids, attention_mask=mask).last_hidden_state,
                               atol=1e-5, rtol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_onnx_export_dynamic_length(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    # unscaled scores with randn-sized weights reach the hundreds, where float32 itself (torch's own result against
    # float64) is off by ~3e-5 at T=40 (ONNX Runtime likewise); a tenth of that spread keeps every path within 3e-6
    official = _official(seed=4, spread=0.1)
    ours = load_official(official.state_dict(), official.config.to_dict())
    path = tmp_path / "t5.onnx"
    ids, mask = _batch(T=9, seed=5)
    torch.onnx.export(ours, (ids, mask), str(path), dynamo=False, opset_version=17,
                      input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                                    "hidden": {0: "batch", 1: "tokens"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for T in (40, 5):  # longer than the export's input (the clipped buckets) and shorter
        ids, mask = _batch(T=T, seed=T)
        (hidden,) = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        with torch.no_grad():
            want = official(input_ids=ids, attention_mask=mask).last_hidden_state
            torch.testing.assert_close(torch.from_numpy(hidden), ours(ids, mask), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(torch.from_numpy(hidden), want, atol=1e-5, rtol=1e-5)
