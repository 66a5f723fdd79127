"""SEANet convolutional encoder / decoder of SoundStream and EnCodec, with a streaming decoder.

Encoder: conv -> [residual blocks, ELU, strided conv (ratio r: kernel 2r, stride r, channels x2)] per ratio
-> skip-LSTM -> ELU -> conv to ``dimension``. The decoder mirrors it with transposed convs (channels / 2).
Layers sit in one ``nn.Sequential`` called ``model`` with the official indices, so a converter only renames
the inside of each layer.

Norms: ``weight_norm`` (24 kHz) is folded into plain conv weights by the converter; ``time_group_norm``
(48 kHz, non-causal only) is a ``GroupNorm(1, C)`` after every conv, kept as a module.

Streaming (causal decoders only): ``SEANetDecoder.stream(z, state) -> (y, state)`` takes latent chunks of any
length >= 1 and gives exactly the offline output for those frames. ``state`` is a flat tuple, in layer order:
the input history (padding_total frames) of every causal conv that has any, the overlap (k - s samples) of
every transposed conv, and (h, c) of the LSTM. ``state_names()`` names them for exported graphs.

Reflect padding and the first chunk: offline, a causal conv with reflect padding fills its left context with
the mirror image of its own first ``padding_total + 1`` input frames. So the initial state of every conv
depends on the start of the stream, and ``initial_state(batch, first_chunk)`` computes it by running the
first chunk once through the layers (the chunk is not consumed: stream it afterwards as usual). The first chunk
must have at least ``min_first_chunk()`` latent frames (7 for EnCodec 24 kHz: the first kernel-7 conv reads
its 7 first frames), or be the whole stream. With ``pad_mode="zeros"`` no first chunk is needed.

Streaming a NON-causal decoder with a bottleneck LSTM (UniAudio's SoundStream, non-causal EnCodec without group
norm): neither form above fits. Its convs are centred (a causal stream is wrong) and its unidirectional LSTM reads
every frame before (a finite window is wrong). ``SEANetDecoder.lstm_split()`` cuts it at the LSTM into three parts
that stream exactly, each its own way:

- the first conv (kernel k, stride 1): output frame t reads input frames t - pad_left .. t + pad_right, padded
  (reflect) at the stream's true start and end. A stream feeds it those frames already padded (``LSTMSplit.pre``
  runs the conv unpadded) and holds ``pad_right`` frames of look-ahead;
- the skip-LSTM, run statefully: (h, c) carried from chunk to chunk, as offline (the LSTM is causal);
- everything after it (ELU, transposed convs, residual units, last conv): a finite receptive field, hop k of the
  output reads the LSTM's frames k - left .. k + right (``post_receptive_field``, from the layers' kernels, strides,
  dilations and trims). A stream decodes it in windows over the LSTM's outputs with that context, as a windowed
  non-causal decoder, the windows clipped to the stream so its true edges get the offline reflect padding.

So the audio of frame k is final once frame k + pad_right + right has arrived (the look-ahead; UniAudio's codec:
3 + 1 frames, 80 ms), and the last frames' audio at the end of the stream. The pipeline side is
``voxlite.pipelines.streaming.LSTMSplitStreamDecoder``; the graphs are ``export.codec``'s ``decoder_pre_lstm`` and
``decoder_post``.

The encoder has no streaming form: offline, its strided convs pad the end of the input (reflect, to fill the
last window), so the last frame of an offline encode depends on samples a stream has not seen yet.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from voxlite.models.blocks.conv import SConv1d, SConvTranspose1d, pad1d
from voxlite.models.blocks.lstm import SLSTM

NORMS = ("weight_norm", "time_group_norm", "none")


@dataclass
class SEANetConfig:
    channels: int = 1  # audio channels (2 for EnCodec 48 kHz)
    dimension: int = 128  # latent width (= codebook dimension, EnCodec has no projection)
    n_filters: int = 32  # width after the first conv; doubles at every downsampling
    n_residual_layers: int = 1  # residual blocks per resolution, dilation dilation_base ** j
    ratios: tuple[int, ...] = (8, 5, 4, 2)  # decoder (upsampling) order; the encoder runs them reversed
    kernel_size: int = 7  # first conv
    last_kernel_size: int = 7  # last conv
    residual_kernel_size: int = 3
    dilation_base: int = 2
    compress: int = 2  # residual branch width = dim // compress (from Demucs v3)
    true_skip: bool = False  # False: a 1x1 conv on the residual skip path (official default and checkpoints)
    lstm: int = 2  # skip-LSTM layers at the bottleneck of encoder and decoder (0: none)
    causal: bool = True  # 24 kHz: causal; 48 kHz: non-causal
    pad_mode: str = "reflect"
    norm: str = "weight_norm"  # weight_norm (folded: plain convs) | time_group_norm | none
    trim_right_ratio: float = 1.0  # causal transposed convs: share of the k - s trim taken on the right
    elu_alpha: float = 1.0
    final_activation: str | None = None  # torch.nn class name after the decoder's last conv, e.g. "Tanh"

    def __post_init__(self):
        self.ratios = tuple(self.ratios)
        if self.pad_mode == "constant":  # the official spelling of zero padding
            self.pad_mode = "zeros"
        if self.norm not in NORMS:  # spectral_norm is not folded; encodec 0.1.1's layer_norm returns None
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.causal and self.norm == "time_group_norm":
            raise ValueError("time_group_norm normalises over the whole time axis: not causal")

    @property
    def hop_length(self) -> int:
        return math.prod(self.ratios)


def _norm(cfg: SEANetConfig, channels: int) -> nn.Module:
    return nn.GroupNorm(1, channels) if cfg.norm == "time_group_norm" else nn.Identity()


class NormConv1d(SConv1d):
    """SConv1d followed by the config's norm (Identity unless time_group_norm)."""

    def __init__(self, cfg: SEANetConfig, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1):
        super().__init__(in_ch, out_ch, kernel_size, stride, dilation, causal=cfg.causal, pad_mode=cfg.pad_mode)
        self.norm = _norm(cfg, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(super().forward(x))

    def stream(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, state = super().stream(x, state)
        return self.norm(y), state


class NormConvTranspose1d(SConvTranspose1d):
    def __init__(self, cfg: SEANetConfig, in_ch: int, out_ch: int, kernel_size: int, stride: int):
        super().__init__(in_ch, out_ch, kernel_size, stride, causal=cfg.causal,
                         trim_right_ratio=cfg.trim_right_ratio)
        self.norm = _norm(cfg, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.convtr(x))  # as the official: normalised over the untrimmed output, then trimmed
        left, right = self._trims()
        return y[..., left: y.shape[-1] - right]

    def stream(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, state = super().stream(x, state)
        return self.norm(y), state  # norm is Identity here: group norm is refused for causal configs


class SEANetResBlock(nn.Module):
    """x -> shortcut(x) + conv1x1(ELU(conv_k,dilated(ELU(x)))), bottleneck width dim // compress."""

    def __init__(self, cfg: SEANetConfig, dim: int, dilation: int):
        super().__init__()
        hidden = dim // cfg.compress
        self.block = nn.Sequential(
            nn.ELU(cfg.elu_alpha), NormConv1d(cfg, dim, hidden, cfg.residual_kernel_size, dilation=dilation),
            nn.ELU(cfg.elu_alpha), NormConv1d(cfg, hidden, dim, 1),
        )
        self.shortcut = nn.Identity() if cfg.true_skip else NormConv1d(cfg, dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, T)
        return self.shortcut(x) + self.block(x)


# -- streaming over a stack of layers: a flat state tuple, each layer taking its own slice -------------------
def _n_states(layer: nn.Module) -> int:
    if isinstance(layer, SLSTM):
        return 2
    if isinstance(layer, (SConv1d, SConvTranspose1d)):
        return int(layer.state_size() > 0)  # a 1x1 conv (or k == s transposed conv) carries nothing
    if isinstance(layer, SEANetResBlock):
        return sum(_n_states(m) for m in (*layer.block, layer.shortcut))
    return 0


def _state_names(layer: nn.Module, name: str) -> list[str]:
    if isinstance(layer, SLSTM):
        return [f"{name}.h", f"{name}.c"]
    if isinstance(layer, SEANetResBlock):
        return [n for i, m in enumerate(layer.block) for n in _state_names(m, f"{name}.block.{i}")] + \
            _state_names(layer.shortcut, f"{name}.shortcut")
    return [name] * _n_states(layer)


def _init_layer(layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Initial state of one layer from the first chunk of its input."""
    if _n_states(layer) == 0:
        return ()
    if isinstance(layer, SLSTM):
        return layer.initial_state(x.shape[0], x)
    if isinstance(layer, SEANetResBlock):
        return _init_stack([*layer.block], x) + _init_stack([layer.shortcut], x)
    return (layer.initial_state(x),)


def _step_layer(layer: nn.Module, x: torch.Tensor, state: tuple[torch.Tensor, ...]
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    if _n_states(layer) == 0:
        return layer(x), ()  # stateless, or a conv with no history: the offline forward is the same
    if isinstance(layer, SLSTM):
        y, (h, c) = layer.stream(x, (state[0], state[1]))
        return y, (h, c)
    if isinstance(layer, SEANetResBlock):
        n = _n_states(layer) - _n_states(layer.shortcut)
        y, s_block = _step_stack([*layer.block], x, state[:n])
        skip, s_skip = _step_stack([layer.shortcut], x, state[n:])
        return skip + y, s_block + s_skip
    y, s = layer.stream(x, state[0])
    return y, (s,)


def _init_stack(layers: list[nn.Module], x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Initial states of a causal stack: each layer's from its own input, the first chunk run through the stack."""
    states: tuple[torch.Tensor, ...] = ()
    for layer in layers:
        s = _init_layer(layer, x)
        x, _ = _step_layer(layer, x, s)
        states += s
    return states


def _step_stack(layers: list[nn.Module], x: torch.Tensor, state: tuple[torch.Tensor, ...]
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    new: tuple[torch.Tensor, ...] = ()
    i = 0
    for layer in layers:
        n = _n_states(layer)
        x, s = _step_layer(layer, x, tuple(state[i:i + n]))
        new += s
        i += n
    return x, new


class SEANetEncoder(nn.Module):
    def __init__(self, cfg: SEANetConfig):
        super().__init__()
        self.cfg = cfg
        nf, mult = cfg.n_filters, 1
        layers: list[nn.Module] = [NormConv1d(cfg, cfg.channels, nf, cfg.kernel_size)]
        for ratio in reversed(cfg.ratios):
            layers += [SEANetResBlock(cfg, mult * nf, cfg.dilation_base ** j) for j in range(cfg.n_residual_layers)]
            layers += [nn.ELU(cfg.elu_alpha), NormConv1d(cfg, mult * nf, 2 * mult * nf, 2 * ratio, stride=ratio)]
            mult *= 2
        if cfg.lstm:
            layers.append(SLSTM(mult * nf, cfg.lstm))
        layers += [nn.ELU(cfg.elu_alpha), NormConv1d(cfg, mult * nf, cfg.dimension, cfg.last_kernel_size)]
        self.model = nn.Sequential(*layers)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:  # (B, channels, T) -> (B, dimension, ceil(T / hop))
        return self.model(wav)


class SEANetDecoder(nn.Module):
    def __init__(self, cfg: SEANetConfig):
        super().__init__()
        self.cfg = cfg
        nf, mult = cfg.n_filters, 2 ** len(cfg.ratios)
        layers: list[nn.Module] = [NormConv1d(cfg, cfg.dimension, mult * nf, cfg.kernel_size)]
        if cfg.lstm:
            layers.append(SLSTM(mult * nf, cfg.lstm))
        for ratio in cfg.ratios:
            layers += [nn.ELU(cfg.elu_alpha), NormConvTranspose1d(cfg, mult * nf, mult * nf // 2, 2 * ratio, ratio)]
            layers += [SEANetResBlock(cfg, mult * nf // 2, cfg.dilation_base ** j)
                       for j in range(cfg.n_residual_layers)]
            mult //= 2
        layers += [nn.ELU(cfg.elu_alpha), NormConv1d(cfg, nf, cfg.channels, cfg.last_kernel_size)]
        if cfg.final_activation is not None:
            layers.append(getattr(nn, cfg.final_activation)())
        self.model = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, dimension, T) -> (B, channels, T * hop)
        return self.model(z)

    # -- streaming ----------------------------------------------------------------------------------------
    def _check_streamable(self) -> None:
        if not self.cfg.causal:
            raise RuntimeError("only causal SEANet decoders stream")

    def n_states(self) -> int:
        return sum(_n_states(m) for m in self.model)

    def state_names(self) -> list[str]:
        """One name per state tensor, in order (``model.<i>...``; LSTMs give ``.h`` and ``.c``)."""
        return [n for i, m in enumerate(self.model) for n in _state_names(m, f"model.{i}")]

    def min_first_chunk(self) -> int:
        """Fewest latent frames ``initial_state`` needs to reproduce the offline reflect/replicate padding."""
        need, up = 1, 1  # up: samples per latent frame at the current layer's input
        convs: list[tuple[nn.Module, int]] = []
        for layer in self.model:
            if isinstance(layer, SConvTranspose1d):
                up *= layer.convtr.stride[0]
            subs = [*layer.block, layer.shortcut] if isinstance(layer, SEANetResBlock) else [layer]
            convs += [(m, up) for m in subs if isinstance(m, SConv1d)]
        for conv, up in convs:
            p = conv.padding_total
            if p and self.cfg.pad_mode == "reflect":
                need = max(need, math.ceil((p + 1) / up))
        return need

    def initial_state(self, batch: int, first_chunk: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """States before the first frame. ``first_chunk`` (B, dimension, T0 >= min_first_chunk(), or the whole
        stream) gives the reflect/replicate left contexts; it is not consumed. Zero padding needs none."""
        self._check_streamable()
        if first_chunk is None:
            if self.cfg.pad_mode != "zeros":
                raise ValueError(f"pad_mode={self.cfg.pad_mode!r}: the initial state depends on the stream's "
                                 f"first {self.min_first_chunk()} latent frames; pass first_chunk")
            p = next(self.parameters())
            first_chunk = torch.zeros(batch, self.cfg.dimension, 1, dtype=p.dtype, device=p.device)
        if first_chunk.shape[0] != batch:
            raise ValueError(f"first_chunk has batch {first_chunk.shape[0]}, expected {batch}")
        return _init_stack([*self.model], first_chunk)

    def stream(self, z: torch.Tensor, state: tuple[torch.Tensor, ...]
               ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Latent chunk (B, dimension, T >= 1) -> (audio (B, channels, T * hop), new state)."""
        self._check_streamable()
        if len(state) != self.n_states():
            raise ValueError(f"expected {self.n_states()} state tensors, got {len(state)}")
        return _step_stack([*self.model], z, tuple(state))

    # -- streaming a non-causal decoder at its bottleneck LSTM ------------------------------------------------
    def lstm_split(self) -> "LSTMSplit":
        """The decoder cut at its LSTM for exact streaming (see the module docstring). Refuses decoders that do
        not have the layout (first conv, LSTM, ...) or have a layer that is not local in time (group norm)."""
        if not self.cfg.lstm:
            raise RuntimeError("the decoder has no bottleneck LSTM to split at")
        if self.cfg.norm == "time_group_norm":
            raise RuntimeError("time_group_norm normalises over the whole time axis: the decoder does not stream")
        first, lstm = self.model[0], self.model[1]
        if not isinstance(first, SConv1d) or not isinstance(lstm, SLSTM) or first.conv.stride[0] != 1:
            raise RuntimeError("expected the layout: stride-1 conv, skip-LSTM, the rest")
        return LSTMSplit(first, lstm, nn.Sequential(*list(self.model)[2:]), self.cfg.hop_length)


def _input_interval(layer: nn.Module, lo: int, hi: int) -> tuple[int, int]:
    """Input indices [lo', hi'] (inclusive) a layer reads for its output indices [lo, hi] (its padding aside)."""
    if isinstance(layer, nn.Sequential):
        for m in reversed(layer):
            lo, hi = _input_interval(m, lo, hi)
        return lo, hi
    if isinstance(layer, SEANetResBlock):
        a, b = _input_interval(layer.block, lo, hi)
        c, d = _input_interval(layer.shortcut, lo, hi)
        return min(a, c), max(b, d)
    if isinstance(layer, SConv1d):
        k, s, d = layer.conv.kernel_size[0], layer.conv.stride[0], layer.conv.dilation[0]
        total = layer.padding_total
        left = total if layer.causal else total - total // 2
        return lo * s - left, hi * s - left + (k - 1) * d
    if isinstance(layer, SConvTranspose1d):
        k, s = layer.convtr.kernel_size[0], layer.convtr.stride[0]
        trim = layer._trims()[0]
        # untrimmed output u = m + trim reads the inputs i with i * s <= u <= i * s + k - 1
        return -((k - 1 - lo - trim) // s), (hi + trim) // s
    if isinstance(layer, nn.GroupNorm):
        raise RuntimeError("group norm reads the whole time axis: no finite receptive field")
    if isinstance(layer, (nn.ELU, nn.Identity, nn.Tanh, nn.Sigmoid, nn.ReLU, nn.LeakyReLU, nn.Hardtanh)):
        return lo, hi
    raise RuntimeError(f"receptive field of {type(layer).__name__} unknown")


class LSTMSplit(nn.Module):
    """A non-causal SEANet decoder as (first conv, skip-LSTM, post): what streams it exactly.

    ``pre(latents, h, c)``: the first conv WITHOUT its padding (latents (B, D, T + pad_left + pad_right), already
    padded or holding real context) then the LSTM from state (h, c): -> (hidden (B, C, T), h, c).
    ``post(hidden)``: the rest of the decoder, as offline (reflect padding at the ends of what it is given).
    ``forward(z)`` is the offline decode through the three parts (equal to the decoder's)."""

    def __init__(self, first: SConv1d, lstm: SLSTM, post: nn.Sequential, hop_length: int):
        super().__init__()
        self.first, self.lstm, self.post, self.hop_length = first, lstm, post, hop_length
        total = first.padding_total
        self.pad_right = total // 2
        self.pad_left = total - self.pad_right
        self.pad_mode = first.pad_mode

    def pre(self, latents: torch.Tensor, h: torch.Tensor, c: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.first.conv(latents)
        norm = getattr(self.first, "norm", None)
        if norm is not None:
            x = norm(x)
        y, (h, c) = self.lstm.stream(x, (h, c))
        return y, h, c

    def initial_state(self, batch: int, like: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.lstm.initial_state(batch, like)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = pad1d(z, self.pad_left, self.pad_right, self.pad_mode)
        y, _, _ = self.pre(x, *self.initial_state(z.shape[0], z))
        return self.post(y)

    def post_receptive_field(self) -> tuple[int, int]:
        """(left, right): output hop k (samples k * hop .. (k + 1) * hop - 1) reads the LSTM's output frames
        k - left .. k + right, away from the stream's ends. Exact: propagated through every layer's kernel, stride,
        dilation, padding split and transposed-conv trim (the same for every k: the post upsamples by hop)."""
        k = 1000  # any hop far from the edges
        lo, hi = _input_interval(self.post, k * self.hop_length, (k + 1) * self.hop_length - 1)
        return k - lo, hi - k

    def early_samples(self) -> int:
        """How many samples at the start of every hop read one frame less on the right (up to k + right - 1): the
        post's right edge moves by less than a frame inside a hop, so the rest read up to k + right."""
        k, hop = 1000, self.hop_length
        right = self.post_receptive_field()[1]
        ends = [_input_interval(self.post, k * hop + j, k * hop + j)[1] - k for j in range(hop)]
        if set(ends) - {right - 1, right} or ends != sorted(ends):
            raise RuntimeError(f"unexpected per-sample receptive field ends {sorted(set(ends))}")
        return ends.count(right - 1)

    def lookahead(self) -> int:
        """Frames after frame k that must have arrived before all of its audio is final."""
        return self.pad_right + self.post_receptive_field()[1]
