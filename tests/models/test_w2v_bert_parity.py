"""w2v-BERT reference (models/w2v_bert.py) vs transformers' Wav2Vec2BertModel at a tiny config with random weights
(every weight, norm gains and biases included, moved far from its init): ``hidden_states[k]`` against ours at
``output_layer=k`` for every k, sequences longer than the relative-position clip (both sides clamp), batch items
independent, head models' key layout (adapter and heads dropped), the dropped odd frame equal to transformers' masked
one, the published config, and the refusals."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from voxlite.convert.w2v_bert import config_of, convert_state_dict, load_official  # noqa: E402
from voxlite.models.w2v_bert import W2VBert, W2VBertConfig, normalize_frames  # noqa: E402

_TINY = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=48,
             conv_depthwise_kernel_size=5, left_max_position_embeddings=6, right_max_position_embeddings=3)


def _perturb(model, seed: int):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():  # norm gains and biases too: a swapped or missing norm cannot pass
            p.add_(0.5 * torch.randn_like(p))
    return model.eval()


@pytest.fixture(scope="module")
def official():
    torch.manual_seed(0)
    return _perturb(transformers.Wav2Vec2BertModel(transformers.Wav2Vec2BertConfig(**_TINY)), 0)


def _close(got, want):
    # fp32, the same operations in another order (attention via SDPA, the position term gathered)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-6 * max(1.0, want.abs().max().item()))


@torch.no_grad()
def test_every_layer_matches_hidden_states(official):
    ours = load_official(official.state_dict(), official.config.to_dict())
    assert ours.config == W2VBertConfig.tiny()
    x = torch.randn(2, 23, 160, generator=torch.Generator().manual_seed(1))  # 23 frames > 6 + 3 + 1: clamped
    out = official(x, output_hidden_states=True)
    assert len(out.hidden_states) == ours.config.n_layers + 1
    for k, want in enumerate(out.hidden_states):
        got = ours(x, output_layer=k)
        assert got.shape == want.shape == (2, 23, 32)
        _close(got, want)
    _close(ours(x, output_layer=None), out.last_hidden_state)
    fixed = load_official(official.state_dict(), official.config.to_dict(), output_layer=2)
    _close(fixed(x), out.hidden_states[2])


@torch.no_grad()
def test_one_frame_and_batch_independence(official):
    ours = load_official(official.state_dict(), official.config.to_dict(), output_layer=3)
    x = torch.randn(3, 17, 160, generator=torch.Generator().manual_seed(2))
    both = ours(x)
    for i in range(3):
        _close(ours(x[i:i + 1]), both[i:i + 1])
    one = x[:1, :1]
    _close(ours(one), official(one, output_hidden_states=True).hidden_states[3])


@torch.no_grad()
def test_head_model_layout_and_adapter_are_dropped():
    """A ForCTC checkpoint with an adapter and the intermediate FFN: its ``wav2vec2_bert.`` weights convert, the
    adapter / intermediate FFN / LM head are dropped, and every layer still matches (they act after the encoder)."""
    cfg = transformers.Wav2Vec2BertConfig(**_TINY, vocab_size=11, add_adapter=True,
                                          use_intermediate_ffn_before_adapter=True)
    torch.manual_seed(3)
    ctc = _perturb(transformers.Wav2Vec2BertForCTC(cfg), 3)
    state = ctc.state_dict()
    assert any(k.startswith("wav2vec2_bert.adapter.") for k in state)
    ours = load_official(state, cfg.to_dict())
    x = torch.randn(1, 12, 160, generator=torch.Generator().manual_seed(4))
    out = ctc.wav2vec2_bert(x, output_hidden_states=True)
    for k in range(cfg.num_hidden_layers + 1):
        _close(ours(x, output_layer=k), out.hidden_states[k])


@torch.no_grad()
def test_dropping_the_odd_frame_equals_transformers_masking(official):
    """The front end drops an incomplete last frame pair; transformers' extractor pads it and masks it. With the
    mask, transformers' hidden states of the other frames equal ours without that frame (causal depthwise convs,
    the masked frame is no key)."""
    ours = load_official(official.state_dict(), official.config.to_dict())
    x = torch.randn(1, 14, 160, generator=torch.Generator().manual_seed(5))
    mask = torch.ones(1, 14, dtype=torch.long)
    mask[0, -1] = 0
    out = official(x, attention_mask=mask, output_hidden_states=True)
    for k in range(4):
        want = out.hidden_states[k][:, :13]
        # a looser bound: transformers' own masked and truncated runs differ by up to ~1.5e-5 here (its masked
        # attention adds a large negative bias and softmaxes over one more key)
        torch.testing.assert_close(ours(x[:, :13], output_layer=k), want, rtol=0,
                                   atol=1e-5 * max(1.0, want.abs().max().item()))


def test_published_config_and_refusals():
    assert config_of(transformers.Wav2Vec2BertConfig().to_dict()) == W2VBertConfig.w2v_bert_2()
    big = W2VBertConfig.w2v_bert_2()
    assert (big.dim, big.n_layers, big.n_heads, big.ffn, big.conv_kernel, big.position,
            big.left_max_position, big.right_max_position) == (1024, 24, 16, 4096, 31, "relative_key", 64, 8)
    for kind in ("rotary", "relative"):
        with pytest.raises(ValueError, match="position_embeddings_type.*only 'relative_key'"):
            config_of({**_TINY, "position_embeddings_type": kind})
        with pytest.raises(ValueError, match="not supported"):
            W2VBertConfig.tiny(position=kind)
    with pytest.raises(ValueError, match="hidden_act"):
        config_of({**_TINY, "hidden_act": "gelu"})
    with pytest.raises(ValueError, match="odd"):
        W2VBertConfig.tiny(conv_kernel=4)
    with pytest.raises(ValueError, match="output_layer"):
        W2VBert(W2VBertConfig.tiny(), output_layer=4)
    with pytest.raises(ValueError, match="features must be"):
        W2VBert(W2VBertConfig.tiny())(torch.zeros(1, 5, 80))
    with pytest.raises(ValueError, match="unexpected w2v-BERT key"):
        convert_state_dict({"encoder.layers.0.self_attn.linear_pos.weight": torch.zeros(32, 32)})


@torch.no_grad()
def test_no_positions_variant():
    cfg = transformers.Wav2Vec2BertConfig(**_TINY, position_embeddings_type=None)
    torch.manual_seed(6)
    model = _perturb(transformers.Wav2Vec2BertModel(cfg), 6)
    ours = load_official(model.state_dict(), cfg.to_dict())
    assert ours.config.position is None
    x = torch.randn(2, 9, 160, generator=torch.Generator().manual_seed(7))
    _close(ours(x, output_layer=3), model(x, output_hidden_states=True).hidden_states[3])


def test_normalize_frames():
    h = torch.randn(2, 30, 8, generator=torch.Generator().manual_seed(8)) * 3 + 1
    n = normalize_frames(h).numpy().astype(np.float64)
    a = h.numpy().astype(np.float64)
    want = (a - a.mean(1, keepdims=True)) / np.sqrt(a.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(n, want, atol=1e-5)
