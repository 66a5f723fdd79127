"""WaveVAE: a causal DAC-style conv VAE straight on the waveform, with a continuous latent (VoxCPM's AudioVAE).

    wav (B, 1, T) -> CausalEncoder -> mu (B, D, T / hop)          (the latent VoxCPM models; logvar kept, unused)
    z (B, D, T') -> CausalDecoder -> wav (B, 1, T' * decoder_hop)  (tanh output, no input/output scaling)

The blocks are DAC's (Snake residual units with dilations 1/3/9 around kernel-2s stride-s convs) made causal: every
conv pads on the left only, every transposed conv trims its overlap on the right. With ``depthwise`` the residual
units' 7-tap convs are depthwise and the decoder opens with a depthwise 7-tap conv plus a pointwise projection.

Padding conventions (VoxCPM ``audio_vae.py`` / ``audio_vae_v2.py``):
- 7-tap and 3-tap convs pad (k - 1) * dilation on the left: ``SConv1d(causal=True)``.
- decoder upsampling: ConvTranspose1d(kernel 2s, stride s) trimmed by s on the right: ``SConvTranspose1d(causal=True)``.
- encoder downsampling: Conv1d(kernel 2s, stride s) padded on the left by s (v2) or by 2 * ceil(s / 2) (v1, one
  sample more than causal for odd strides; ``odd_stride_extra_pad``). The encoder does not stream, so it uses a
  plain left-padded conv there.

The decoder is causal throughout, so ``stream(z_chunk, state)`` decodes any number of latent frames at a time with
the conv contexts passed in and returned as a flat tuple; the chunks concatenate to the offline ``decode``.
VoxCPM2's decoder adds per-block sample-rate conditioning (``scale_bias``: x * scale[bucket] + bias[bucket] before
each upsampling block), selected by ``sr_bin_boundaries``; the bucket is a constant of the exported graph.

VibeVoice's acoustic tokenizer is not this network (ConvNeXt-style depthwise-conv + FFN blocks with norms and layer
scale, no Snake residual units), so it has no preset here.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .blocks.activations import Snake
from .blocks.conv import SConv1d, SConvTranspose1d

State = tuple[torch.Tensor, ...]


@dataclass
class WaveVAEConfig:
    encoder_dim: int = 128  # channels after the input conv; doubled by every encoder block
    encoder_rates: tuple[int, ...] = (2, 5, 8, 8)  # hop 640: 16 kHz -> 25 Hz latents
    latent_dim: int = 64
    decoder_dim: int = 1536  # channels after the decoder input conv; halved by every decoder block
    decoder_rates: tuple[int, ...] = (8, 8, 5, 2)  # product = samples per latent frame at the output rate
    depthwise: bool = True  # depthwise 7-tap convs in the residual units (and the decoder's input conv)
    sample_rate: int = 16000  # of the encoder input
    out_sample_rate: int | None = None  # of the decoder output; None: sample_rate (v1). VoxCPM2 decodes to 48 kHz
    odd_stride_extra_pad: bool = True  # v1 encoder pads 2*ceil(s/2) left of each strided conv; v2 pads s
    sr_bin_boundaries: tuple[int, ...] | None = None  # v2 decoder sample-rate buckets (torch.bucketize, right=False)

    def __post_init__(self):
        self.encoder_rates = tuple(self.encoder_rates)
        self.decoder_rates = tuple(self.decoder_rates)
        if self.sr_bin_boundaries is not None:
            self.sr_bin_boundaries = tuple(self.sr_bin_boundaries)
        if self.decoder_dim % 2 ** len(self.decoder_rates):
            raise ValueError("decoder_dim must halve evenly through every decoder block")

    @property
    def hop_length(self) -> int:
        return math.prod(self.encoder_rates)

    @property
    def decoder_hop(self) -> int:
        return math.prod(self.decoder_rates)

    @property
    def output_sample_rate(self) -> int:
        return self.out_sample_rate or self.sample_rate

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def n_sr_buckets(self) -> int:
        return 0 if self.sr_bin_boundaries is None else len(self.sr_bin_boundaries) + 1

    def sr_bucket(self, sample_rate: int | None = None) -> int:
        """Bucket of an output rate, as torch.bucketize(right=False) gives it: boundaries strictly below it."""
        return bisect.bisect_left(self.sr_bin_boundaries or (), sample_rate or self.output_sample_rate)

    @classmethod
    def preset(cls, name: str, **overrides) -> "WaveVAEConfig":
        if name not in WAVEVAE_PRESETS:
            raise KeyError(f"unknown WaveVAE preset {name!r}; known: {sorted(WAVEVAE_PRESETS)}")
        return replace(WAVEVAE_PRESETS[name], **overrides)

    @classmethod
    def from_voxcpm(cls, audio_vae_config: dict | None = None, *, v2: bool | None = None) -> "WaveVAEConfig":
        """From a VoxCPM checkpoint's ``config.json["audio_vae_config"]`` (missing keys take the package defaults).

        ``v2`` (VoxCPM2's AudioVAE) is guessed from v2-only keys when not given.
        """
        given = dict(audio_vae_config or {})
        if v2 is None:
            v2 = any(k in given for k in ("out_sample_rate", "sr_bin_boundaries", "cond_type"))
        if given.pop("use_noise_block", False):
            raise ValueError("use_noise_block=True (random noise in the decoder) is not supported")
        if given.pop("cond_type", "scale_bias") != "scale_bias" or given.pop("cond_out_layer", False):
            raise ValueError("only VoxCPM2's default sample-rate conditioning (scale_bias, no out layer) is supported")
        given.pop("cond_dim", None)  # used by the 'concat' conditioning only
        unknown = set(given) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown audio_vae_config keys {sorted(unknown)}")
        base = WAVEVAE_PRESETS["voxcpm2" if v2 else "voxcpm-0.5b"]
        return replace(base, **given)


WAVEVAE_PRESETS: dict[str, WaveVAEConfig] = {
    "voxcpm-0.5b": WaveVAEConfig(),  # voxcpm 2.0.3 AudioVAEConfig defaults: 16 kHz, hop 640, 25 Hz
    "voxcpm-1.5": WaveVAEConfig(encoder_dim=64, encoder_rates=(2, 3, 6, 7, 7), decoder_dim=2048,
                                decoder_rates=(7, 7, 6, 3, 2), sample_rate=44100),  # 44.1 kHz, hop 1764, 25 Hz
    "voxcpm2": WaveVAEConfig(decoder_dim=2048, decoder_rates=(8, 6, 5, 2, 2, 2), out_sample_rate=48000,
                             odd_stride_extra_pad=False, sr_bin_boundaries=(20000, 30000, 40000)),  # 16k in, 48k out
    # tests: odd channel counts and odd strides so padding conventions and transposes cannot hide
    "tiny": WaveVAEConfig(encoder_dim=3, encoder_rates=(2, 3, 5), latent_dim=5, decoder_dim=24,
                          decoder_rates=(5, 3, 2), sample_rate=3000),
}


class CausalResidualUnit(nn.Module):
    """x + conv1x1(snake(conv7_dilated(snake(x)))), the 7-tap conv padded on the left."""

    def __init__(self, dim: int, dilation: int, groups: int):
        super().__init__()
        self.snake1 = Snake(dim)
        self.conv1 = SConv1d(dim, dim, 7, dilation=dilation, groups=groups, causal=True)
        self.snake2 = Snake(dim)
        self.conv2 = SConv1d(dim, dim, 1, causal=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        return x + self.conv2(self.snake2(self.conv1(self.snake1(x))))

    def stream(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h, s = self.conv1.stream(self.snake1(x), state[0])
        return x + self.conv2.conv(self.snake2(h)), (s,)

    def state_shapes(self) -> list[tuple[int, int]]:
        return [(self.conv1.conv.in_channels, self.conv1.state_size())]


class CausalDownsample(nn.Module):
    """Conv1d(kernel 2s, stride s) after ``left_pad`` zeros; the input length is a multiple of s."""

    def __init__(self, dim_in: int, dim_out: int, stride: int, left_pad: int):
        super().__init__()
        self.conv = nn.Conv1d(dim_in, dim_out, 2 * stride, stride=stride)
        self.left_pad = left_pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, T) -> (B, C_out, T / stride)
        return self.conv(F.pad(x, (self.left_pad, 0)))


class EncoderBlock(nn.Module):
    def __init__(self, dim_in: int, dim_out: int, stride: int, groups: int, left_pad: int):
        super().__init__()
        self.res_units = nn.ModuleList([CausalResidualUnit(dim_in, d, groups) for d in (1, 3, 9)])
        self.snake = Snake(dim_in)
        self.down = CausalDownsample(dim_in, dim_out, stride, left_pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, T) -> (B, C_out, T / stride)
        for unit in self.res_units:
            x = unit(x)
        return self.down(self.snake(x))


class CausalEncoder(nn.Module):
    def __init__(self, cfg: WaveVAEConfig):
        super().__init__()
        dim = cfg.encoder_dim
        self.conv_in = SConv1d(1, dim, 7, causal=True)
        blocks = []
        for s in cfg.encoder_rates:
            left_pad = 2 * math.ceil(s / 2) if cfg.odd_stride_extra_pad else s
            blocks.append(EncoderBlock(dim, 2 * dim, s, groups=dim if cfg.depthwise else 1, left_pad=left_pad))
            dim *= 2
        self.blocks = nn.ModuleList(blocks)
        self.fc_mu = SConv1d(dim, cfg.latent_dim, 3, causal=True)
        self.fc_logvar = SConv1d(dim, cfg.latent_dim, 3, causal=True)

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (B, 1, T) -> 2 x (B, D, T / hop)
        x = self.conv_in(wav)
        for block in self.blocks:
            x = block(x)
        return self.fc_mu(x), self.fc_logvar(x)


class DecoderBlock(nn.Module):
    """[x * scale + bias (v2 sample-rate conditioning)], Snake, causal transposed conv (x stride), residual units."""

    def __init__(self, dim_in: int, dim_out: int, stride: int, groups: int, n_sr_buckets: int = 0):
        super().__init__()
        if n_sr_buckets:
            self.sr_scale = nn.Parameter(torch.ones(n_sr_buckets, dim_in))
            self.sr_bias = nn.Parameter(torch.zeros(n_sr_buckets, dim_in))
        self.conditioned = n_sr_buckets > 0
        self.snake = Snake(dim_in)
        self.up = SConvTranspose1d(dim_in, dim_out, 2 * stride, stride, causal=True)
        self.res_units = nn.ModuleList([CausalResidualUnit(dim_out, d, groups) for d in (1, 3, 9)])

    def _condition(self, x: torch.Tensor, sr_bucket: int) -> torch.Tensor:
        if not self.conditioned:
            return x
        return x * self.sr_scale[sr_bucket][None, :, None] + self.sr_bias[sr_bucket][None, :, None]

    def forward(self, x: torch.Tensor, sr_bucket: int = 0) -> torch.Tensor:  # (B, C_in, T) -> (B, C_out, T * s)
        x = self.up(self.snake(self._condition(x, sr_bucket)))
        for unit in self.res_units:
            x = unit(x)
        return x

    def stream(self, x: torch.Tensor, state: State, sr_bucket: int = 0) -> tuple[torch.Tensor, State]:
        x, s_up = self.up.stream(self.snake(self._condition(x, sr_bucket)), state[0])
        new = [s_up]
        for i, unit in enumerate(self.res_units):
            x, (s,) = unit.stream(x, state[1 + i: 2 + i])
            new.append(s)
        return x, tuple(new)

    def state_shapes(self) -> list[tuple[int, int]]:
        shapes = [(self.up.convtr.out_channels, self.up.state_size())]
        for unit in self.res_units:
            shapes += unit.state_shapes()
        return shapes


class CausalDecoder(nn.Module):
    def __init__(self, cfg: WaveVAEConfig):
        super().__init__()
        d = cfg.latent_dim
        if cfg.depthwise:
            self.conv_in = SConv1d(d, d, 7, groups=d, causal=True)
            self.pointwise_in = SConv1d(d, cfg.decoder_dim, 1, causal=True)
        else:
            self.conv_in = SConv1d(d, cfg.decoder_dim, 7, causal=True)
            self.pointwise_in = None
        dims = [cfg.decoder_dim // 2 ** i for i in range(len(cfg.decoder_rates) + 1)]
        self.blocks = nn.ModuleList([
            DecoderBlock(dims[i], dims[i + 1], s, groups=dims[i + 1] if cfg.depthwise else 1,
                         n_sr_buckets=cfg.n_sr_buckets)
            for i, s in enumerate(cfg.decoder_rates)])
        self.snake_out = Snake(dims[-1])
        self.conv_out = SConv1d(dims[-1], 1, 7, causal=True)

    def forward(self, z: torch.Tensor, sr_bucket: int = 0) -> torch.Tensor:  # (B, D, T') -> (B, 1, T' * hop)
        x = self.conv_in(z)
        if self.pointwise_in is not None:
            x = self.pointwise_in(x)
        for block in self.blocks:
            x = block(x, sr_bucket)
        return torch.tanh(self.conv_out(self.snake_out(x)))

    def state_shapes(self) -> list[tuple[int, int]]:
        """(channels, frames) of every state tensor, in the order ``stream`` takes them."""
        shapes = [(self.conv_in.conv.in_channels, self.conv_in.state_size())]
        for block in self.blocks:
            shapes += block.state_shapes()
        shapes.append((self.conv_out.conv.in_channels, self.conv_out.state_size()))
        return shapes

    def stream(self, z: torch.Tensor, state: State, sr_bucket: int = 0) -> tuple[torch.Tensor, State]:
        x, s_in = self.conv_in.stream(z, state[0])
        if self.pointwise_in is not None:
            x = self.pointwise_in.conv(x)
        new = [s_in]
        i = 1
        for block in self.blocks:
            n = 1 + len(block.res_units)
            x, s = block.stream(x, state[i: i + n], sr_bucket)
            new += s
            i += n
        y, s_out = self.conv_out.stream(self.snake_out(x), state[i])
        new.append(s_out)
        return torch.tanh(y), tuple(new)


class WaveVAE(nn.Module):
    """``encode(wav) -> latent mean``, ``decode(z) -> wav``, and a streaming decoder with explicit state."""

    def __init__(self, cfg: WaveVAEConfig):
        super().__init__()
        self.config = cfg
        self.encoder = CausalEncoder(cfg)
        self.decoder = CausalDecoder(cfg)

    def pad_to_hop(self, wav: torch.Tensor) -> torch.Tensor:
        """Right-pad with zeros to a whole number of latent frames (the official ``preprocess``)."""
        return F.pad(wav, (0, (-wav.shape[-1]) % self.config.hop_length))

    def encode_moments(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """wav (B, 1, T) or (B, T) -> (mu, logvar), each (B, D, ceil(T / hop))."""
        if wav.dim() == 2:
            wav = wav[:, None]
        return self.encoder(self.pad_to_hop(wav))

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, 1, T) or (B, T) at ``sample_rate`` -> latent mean (B, D, ceil(T / hop)): what VoxCPM models."""
        return self.encode_moments(wav)[0]

    def decode(self, z: torch.Tensor, sample_rate: int | None = None) -> torch.Tensor:
        """z (B, D, T') -> wav (B, 1, T' * decoder_hop) at ``output_sample_rate`` (v2: bucket of ``sample_rate``)."""
        return self.decoder(z, self.config.sr_bucket(sample_rate))

    def initial_state(self, batch: int, device=None, dtype: torch.dtype = torch.float32) -> State:
        """Zeros: the left context the offline decode pads with."""
        return tuple(torch.zeros(batch, c, n, device=device, dtype=dtype) for c, n in self.decoder.state_shapes())

    def stream(self, z_chunk: torch.Tensor, state: State,
               sample_rate: int | None = None) -> tuple[torch.Tensor, State]:
        """z_chunk (B, D, n) -> (wav (B, 1, n * decoder_hop), new state); chunks concatenate to ``decode``."""
        return self.decoder.stream(z_chunk, state, self.config.sr_bucket(sample_rate))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:  # round trip through the mean, trimmed to the input
        return self.decode(self.encode(wav))[..., : wav.shape[-1]]
