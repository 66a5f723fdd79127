"""Shared reference blocks: padding rules, and streaming (explicit state) equal to offline."""
import pytest

torch = pytest.importorskip("torch")

from voxlite.models.blocks.activations import Snake  # noqa: E402
from voxlite.models.blocks.conv import SConv1d, SConvTranspose1d, extra_padding_for_conv1d  # noqa: E402


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
