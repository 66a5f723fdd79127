"""Shared reference blocks: padding rules, streaming (explicit state) equal to offline, KV-cached transformers."""
import pytest

torch = pytest.importorskip("torch")

from voxlite.models.blocks.activations import Snake  # noqa: E402
from voxlite.models.blocks.attention import longrope_scaling  # noqa: E402
from voxlite.models.blocks.conv import SConv1d, SConvTranspose1d, extra_padding_for_conv1d  # noqa: E402
from voxlite.models.blocks.dit import PrefixDiT  # noqa: E402
from voxlite.models.blocks.fsq import ScalarQuantizer  # noqa: E402
from voxlite.models.blocks.transformer import Transformer, TransformerConfig, append_kv  # noqa: E402


def _stream(layer, x, chunk, state):
    outs = []
    for start in range(0, x.shape[-1], chunk):
        y, state = layer.stream(x[..., start:start + chunk], state)
        outs.append(y)
    return torch.cat(outs, dim=-1)


@pytest.mark.parametrize("pad_mode", ["zeros", "reflect", "replicate"])
@pytest.mark.parametrize("kernel,stride,dilation", [(7, 1, 1), (3, 1, 3), (8, 4, 1), (4, 2, 1), (1, 1, 1)])
def test_causal_conv_streams_like_offline(pad_mode, kernel, stride, dilation):
    torch.manual_seed(0)
    layer = SConv1d(3, 5, kernel, stride=stride, dilation=dilation, causal=True, pad_mode=pad_mode)
    x = torch.randn(2, 3, 48)
    offline = layer(x)
    chunk = 4 * stride
    # reflect/replicate context comes from the stream's first padding_total + 1 frames
    head = x[..., :max(chunk, layer.state_size() + 1)]
    streamed = _stream(layer, x, chunk, layer.initial_state(head))
    assert streamed.shape == offline.shape
    torch.testing.assert_close(streamed, offline, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kernel,stride", [(16, 8), (4, 2), (3, 1), (10, 5)])
def test_causal_transposed_conv_streams_like_offline(kernel, stride):
    torch.manual_seed(1)
    layer = SConvTranspose1d(4, 3, kernel, stride, causal=True)
    x = torch.randn(2, 4, 12)
    offline = layer(x)
    assert offline.shape[-1] == 12 * stride
    for chunk in (1, 3, 4):
        streamed = _stream(layer, x, chunk, layer.initial_state(x))
        torch.testing.assert_close(streamed, offline, atol=1e-5, rtol=1e-5)


def test_padding_rules():
    # EnCodec's docstring example: total padding 4, kernel 4, stride 2 on 5 samples needs 1 extra
    assert extra_padding_for_conv1d(5, 4, 2, 2) == 1
    layer = SConv1d(1, 1, 4, stride=2, causal=False)
    assert layer(torch.randn(1, 1, 10)).shape[-1] == 5
    odd = SConvTranspose1d(1, 1, 5, 2, causal=False)
    assert odd(torch.randn(1, 1, 6)).shape[-1] == 12
    with pytest.raises(ValueError):
        SConv1d(1, 1, 3, pad_mode="circular")
    with pytest.raises(RuntimeError):
        SConv1d(1, 1, 3).stream(torch.zeros(1, 1, 3), torch.zeros(1, 1, 2))


def test_snake_matches_formula():
    torch.manual_seed(2)
    s = Snake(4)
    with torch.no_grad():
        s.alpha.copy_(torch.rand(1, 4, 1) + 0.5)
    x = torch.randn(2, 4, 9)
    a = s.alpha
    torch.testing.assert_close(s(x), x + torch.sin(a * x) ** 2 / (a + 1e-9))
    sb = Snake(4, separate_beta=True, logscale=True)
    with torch.no_grad():
        sb.alpha.fill_(0.3)
        sb.beta.fill_(-0.2)
    want = x + torch.sin(torch.exp(torch.tensor(0.3)) * x) ** 2 / (torch.exp(torch.tensor(-0.2)) + 1e-9)
    torch.testing.assert_close(sb(x), want)


def _stack(causal: bool, **kw) -> TransformerConfig:
    factors, mscale = longrope_scaling([1.0, 1.5, 2.5], [1.2, 2.0, 4.0], 64, 16)
    return TransformerConfig(dim=20, ffn_dim=33, n_layers=3, n_heads=4, n_kv_heads=2, head_dim=6, causal=causal,
                             rope_factors=factors, rope_mscale=mscale, use_mup=True, scale_depth=1.4, **kw)


@pytest.mark.parametrize("chunks", [[1] * 7, [3, 1, 3], [5, 2]])
def test_causal_transformer_with_kv_cache_equals_full_pass(chunks):
    torch.manual_seed(3)
    model = Transformer(_stack(True, vocab_size=11)).eval()
    tokens = torch.randint(0, 11, (2, sum(chunks)))
    with torch.no_grad():
        full, full_kv = model(model.embed(tokens))
        kv, outs, start = None, [], 0
        for n in chunks:
            h, new = model(model.embed(tokens[:, start:start + n]), past=kv)
            assert all(t.shape == (2, 2, n, 6) for t in new)  # only the new positions come back
            kv = append_kv(kv, new)
            outs.append(h)
            start += n
    torch.testing.assert_close(torch.cat(outs, dim=1), full, atol=1e-5, rtol=1e-5)
    for a, b in zip(kv, full_kv):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # causality: a later token does not change earlier outputs
    with torch.no_grad():
        other = tokens.clone()
        other[:, -1] = (other[:, -1] + 1) % 11
        torch.testing.assert_close(model(model.embed(other))[0][:, :-1], full[:, :-1])


def test_bidirectional_transformer_sees_the_whole_sequence():
    torch.manual_seed(4)
    model = Transformer(_stack(False)).eval()
    x = torch.randn(2, 5, 20)
    y = x.clone()
    y[:, -1] += 1
    with torch.no_grad():
        assert (model(x)[0][:, 0] - model(y)[0][:, 0]).abs().max() > 1e-4


def test_fsq_levels_and_straight_through():
    torch.manual_seed(5)
    fsq = ScalarQuantizer(6, 4, latent_dim=3, scale=2)
    h = 3 * torch.randn(10, 6)
    levels = fsq.quantize(h)
    assert levels.abs().max() <= 2 and levels.dtype == torch.int64
    torch.testing.assert_close(fsq.eval()(h), fsq.dequantize(levels))
    h.requires_grad_(True)
    fsq.train()(h).sum().backward()  # rounding has zero gradient: only the straight-through path gives one
    assert h.grad.abs().sum() > 0


def test_prefix_dit_shapes_and_zero_dt():
    torch.manual_seed(6)
    dit = PrefixDiT(5, _stack(False)).eval()
    x, cond, mu, t = torch.randn(3, 4, 5), torch.randn(3, 2, 5), torch.randn(3, 20), torch.rand(3)
    with torch.no_grad():
        v = dit(x, mu, t, cond)
        assert v.shape == (3, 4, 5)
        torch.testing.assert_close(v, dit(x, mu, t, cond, torch.zeros(3)))
    with pytest.raises(ValueError):
        PrefixDiT(5, _stack(True))
