"""VibeVoice speech tokenizers: the acoustic sigma-VAE (24 kHz <-> 7.5 Hz continuous latents, hop 3200) and the
semantic encoder (same encoder, no decoder), as in ``vibevoice==0.0.1`` ``modular_vibevoice_tokenizer.py``.

    wav (B, 1, S) -> Encoder -> mean (B, D, ceil(S / hop))        latent mean (the official encode returns it (B, T, D))
    z (B, D, T) -> Decoder -> wav (B, 1, T * hop)                  no output activation, no input/output scaling

Both halves are ConvNeXt-like stacks, causal throughout in the published checkpoints:

    encoder: stem conv(7) -> [stage_0] -> down_1 -> [stage_1] -> ... -> down_n -> [stage_n] -> (norm) -> head conv(7)
    decoder: stem conv(7) -> [stage_0] -> up_1   -> [stage_1] -> ... -> up_n   -> [stage_n] -> (norm) -> head conv(7)
    block:   x + gamma * mixer(norm(x));  x + ffn_gamma * fc2(gelu(fc1(ffn_norm(x))))

The mixer is a depthwise (or dense) 7-tap conv, the norms are RMSNorm over channels (LayerNorm optional), ``gamma`` /
``ffn_gamma`` are per-channel layer scales. Down/up-sampling convs have kernel 2r and stride r; stage i has
``n_filters * 2**i`` channels in the encoder and the mirror in the decoder. Padding follows the EnCodec rules of
``blocks.conv`` (causal: all on the left, transposed convs trimmed on the right; "constant" padding is zeros), so the
shared ``SConv1d`` / ``SConvTranspose1d`` are used as they are.

The "sigma-VAE" has a fixed rather than a learned variance: the encoder gives only the mean, and VibeVoice feeds the
LM ``mean + sigma * eps`` with ``sigma ~ N(0, (fix_std / 0.8)^2)`` drawn once per utterance (``sample``). The LM
side then uses ``(latent + speech_bias_factor) * speech_scaling_factor``; those two scalars belong to the LM
checkpoint, not to the tokenizer, and are not applied here.

Streaming: every conv is causal, so ``stream`` decodes any number of latent frames at a time (and ``encode_stream``
encodes any whole number of hops) with the conv contexts passed in and returned as a flat tuple of tensors; the
chunks concatenate to the offline result. Norms and FFNs work per frame and need no state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .blocks.conv import SConv1d, SConvTranspose1d

State = tuple[torch.Tensor, ...]
MIXER_KERNEL = 7  # the block mixer's kernel: fixed in the official Block1D (not read from the config)
FFN_EXPANSION = 4  # FFN hidden size = 4 * dim, also fixed there


def _tuple(x) -> tuple[int, ...] | None:
    if x is None:
        return None
    if isinstance(x, str):  # the official configs spell depths "3-3-3-3-3-3-8"
        return tuple(int(d) for d in x.split("-"))
    return tuple(int(d) for d in x)


@dataclass
class VibeVoiceTokenizerConfig:
    channels: int = 1
    vae_dim: int = 64  # latent channels (acoustic 64, semantic 128)
    encoder_n_filters: int = 32  # stem channels; doubled by every downsampling conv
    encoder_ratios: tuple[int, ...] = (8, 5, 5, 4, 2, 2)  # listed decoder-first (the official spelling): the
    #                                                       encoder downsamples by them reversed, 2, 2, 4, 5, 5, 8
    encoder_depths: tuple[int, ...] = (3, 3, 3, 3, 3, 3, 8)  # blocks per stage: one stage more than ratios
    decoder_n_filters: int = 32  # channels of the last decoder stage
    decoder_ratios: tuple[int, ...] | None = None  # upsampling order; None: encoder_ratios
    decoder_depths: tuple[int, ...] | None = None  # None: encoder_depths reversed
    causal: bool = True
    pad_mode: str = "zeros"  # official "constant" (value 0)
    conv_bias: bool = True  # also the FFN linears' bias (the official blocks pass the same flag)
    depthwise_mixer: bool = True  # official mixer_layer "depthwise_conv"; False: "conv" (dense)
    kernel_size: int = 7  # stems
    last_kernel_size: int = 7  # heads
    layernorm: str = "RMSNorm"  # or "LN" (LayerNorm with bias)
    layernorm_eps: float = 1e-5
    layernorm_elementwise_affine: bool = True  # the final norm only; block norms always have a weight
    disable_last_norm: bool = True  # no norm between the last stage and the head
    layer_scale: bool = True  # per-channel gamma / ffn_gamma (official layer_scale_init_value > 0)
    fix_std: float = 0.5  # sigma-VAE noise scale (semantic: 0)
    std_dist_type: str = "gaussian"  # "gaussian": sigma drawn per utterance; "fix": sigma = fix_std; "none"
    sample_rate: int = 24000  # not in the official tokenizer config: the processor's rate

    def __post_init__(self):
        self.encoder_ratios = _tuple(self.encoder_ratios)
        self.encoder_depths = _tuple(self.encoder_depths)
        self.decoder_ratios = _tuple(self.decoder_ratios)
        self.decoder_depths = _tuple(self.decoder_depths)
        if self.layernorm not in ("RMSNorm", "LN"):
            raise ValueError(f"layernorm must be 'RMSNorm' or 'LN', got {self.layernorm!r}")
        if self.std_dist_type not in ("gaussian", "fix", "none"):
            raise ValueError(f"unknown std_dist_type {self.std_dist_type!r}")
        if len(self.encoder_depths) != len(self.encoder_ratios) + 1:
            raise ValueError("encoder_depths needs one stage more than encoder_ratios")
        if len(self.dec_depths) != len(self.dec_ratios) + 1:
            raise ValueError("decoder_depths needs one stage more than decoder_ratios")

    @property
    def dec_ratios(self) -> tuple[int, ...]:
        return self.decoder_ratios if self.decoder_ratios is not None else self.encoder_ratios

    @property
    def dec_depths(self) -> tuple[int, ...]:
        return self.decoder_depths if self.decoder_depths is not None else tuple(reversed(self.encoder_depths))

    @property
    def hop_length(self) -> int:
        return math.prod(self.encoder_ratios)

    @property
    def decoder_hop(self) -> int:
        return math.prod(self.dec_ratios)

    @property
    def latent_dim(self) -> int:
        return self.vae_dim

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @classmethod
    def preset(cls, name: str, **overrides) -> "VibeVoiceTokenizerConfig":
        if name not in VIBEVOICE_TOKENIZER_PRESETS:
            raise KeyError(f"unknown VibeVoice tokenizer preset {name!r}; known: {sorted(VIBEVOICE_TOKENIZER_PRESETS)}")
        return replace(VIBEVOICE_TOKENIZER_PRESETS[name], **overrides)

    @classmethod
    def from_official(cls, config: dict | None = None, *, semantic: bool = False,
                      sample_rate: int = 24000) -> "VibeVoiceTokenizerConfig":
        """From an official ``acoustic_tokenizer_config`` / ``semantic_tokenizer_config`` dict (as in a checkpoint's
        config.json, or ``PretrainedConfig.to_dict()``). Missing keys take the official class defaults; keys that do
        not shape the network (model_type, weight_init_value, transformers' generic keys ...) are ignored."""
        c = dict(config or {})
        base = VIBEVOICE_TOKENIZER_PRESETS["semantic" if semantic else "acoustic"]
        if c.get("conv_norm", "none") not in ("none", "weight_norm"):  # weight norm is folded by the converter
            raise ValueError(f"conv_norm {c['conv_norm']!r} is not supported")
        if float(c.get("trim_right_ratio", 1.0)) != 1.0:
            raise ValueError("trim_right_ratio != 1 is not supported")
        pad_mode = c.get("pad_mode", "constant")
        mixer = c.get("mixer_layer", "depthwise_conv")
        if mixer not in ("depthwise_conv", "conv"):
            raise ValueError(f"unknown mixer_layer {mixer!r}")
        fields = dict(
            channels=c.get("channels", base.channels),
            vae_dim=c.get("vae_dim", base.vae_dim),
            encoder_n_filters=c.get("encoder_n_filters", base.encoder_n_filters),
            encoder_ratios=c.get("encoder_ratios", base.encoder_ratios),
            encoder_depths=c.get("encoder_depths", base.encoder_depths),
            causal=bool(c.get("causal", base.causal)),
            pad_mode="zeros" if pad_mode == "constant" else pad_mode,
            conv_bias=bool(c.get("conv_bias", base.conv_bias)),
            depthwise_mixer=mixer == "depthwise_conv",
            kernel_size=c.get("kernel_size", base.kernel_size),
            last_kernel_size=c.get("last_kernel_size", base.last_kernel_size),
            layernorm=c.get("layernorm", base.layernorm),
            layernorm_eps=float(c.get("layernorm_eps", base.layernorm_eps)),
            layernorm_elementwise_affine=bool(c.get("layernorm_elementwise_affine", True)),
            disable_last_norm=bool(c.get("disable_last_norm", base.disable_last_norm)),
            layer_scale=float(c.get("layer_scale_init_value", 1e-6)) > 0,
            fix_std=float(c.get("fix_std", base.fix_std)),
            std_dist_type=c.get("std_dist_type", base.std_dist_type),
            sample_rate=sample_rate,
        )
        if not semantic:
            enc_ratios, enc_depths = _tuple(fields["encoder_ratios"]), _tuple(fields["encoder_depths"])
            dec_ratios, dec_depths = _tuple(c.get("decoder_ratios")), _tuple(c.get("decoder_depths"))
            # the official config fills decoder_ratios in; keep None where the decoder mirrors the encoder
            fields.update(decoder_n_filters=c.get("decoder_n_filters", base.decoder_n_filters),
                          decoder_ratios=None if dec_ratios == enc_ratios else dec_ratios,
                          decoder_depths=None if dec_depths == tuple(reversed(enc_depths)) else dec_depths)
        return cls(**fields)


VIBEVOICE_TOKENIZER_PRESETS: dict[str, VibeVoiceTokenizerConfig] = {
    # vibevoice 0.0.1 VibeVoiceAcousticTokenizerConfig defaults = the published VibeVoice-1.5B / Large checkpoints'
    # acoustic_tokenizer_config: 24 kHz, hop 3200 -> 7.5 Hz, 64-d latents, stage widths 32 ... 2048
    "acoustic": VibeVoiceTokenizerConfig(),
    # the semantic tokenizer: the same encoder with 128-d outputs and no noise (encoder only; decoder fields unused)
    "semantic": VibeVoiceTokenizerConfig(vae_dim=128, fix_std=0.0, std_dist_type="none"),
    # tests (the parity fixture's acoustic config): odd widths, odd and uneven strides, uneven depths
    "tiny": VibeVoiceTokenizerConfig(vae_dim=5, encoder_n_filters=3, encoder_ratios=(5, 2, 3),
                                     encoder_depths=(2, 1, 1, 2), decoder_n_filters=5, decoder_depths=(1, 2, 1, 1),
                                     sample_rate=3000),
}


# -- norms over the channel axis of (B, C, T) ---------------------------------------------------------------------
class ChannelRMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, affine: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        y = x.float()
        y = (y * torch.rsqrt(y.pow(2).mean(dim=1, keepdim=True) + self.eps)).type_as(x)
        return y * self.weight[None, :, None] if self.weight is not None else y


class ChannelLayerNorm(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


def make_norm(cfg: VibeVoiceTokenizerConfig, dim: int, affine: bool = True) -> nn.Module:
    if cfg.layernorm == "LN":
        return ChannelLayerNorm(dim, eps=cfg.layernorm_eps)  # always affine, as the official ConvLayerNorm
    return ChannelRMSNorm(dim, cfg.layernorm_eps, affine)


class Block(nn.Module):
    """ConvNeXt-style block: a causal 7-tap (depthwise) conv mixer and a pointwise GELU FFN, each pre-normed, scaled
    per channel and added back."""

    def __init__(self, cfg: VibeVoiceTokenizerConfig, dim: int):
        super().__init__()
        self.norm = make_norm(cfg, dim)
        self.mixer = SConv1d(dim, dim, MIXER_KERNEL, groups=dim if cfg.depthwise_mixer else 1, bias=cfg.conv_bias,
                             causal=cfg.causal, pad_mode=cfg.pad_mode)
        self.ffn_norm = make_norm(cfg, dim)
        self.fc1 = nn.Linear(dim, FFN_EXPANSION * dim, bias=cfg.conv_bias)
        self.fc2 = nn.Linear(FFN_EXPANSION * dim, dim, bias=cfg.conv_bias)
        if cfg.layer_scale:
            self.gamma = nn.Parameter(torch.full((dim,), 1e-6))
            self.ffn_gamma = nn.Parameter(torch.full((dim,), 1e-6))
        else:
            self.register_parameter("gamma", None)
            self.register_parameter("ffn_gamma", None)

    def _scale(self, h: torch.Tensor, g: torch.Tensor | None) -> torch.Tensor:
        return h if g is None else h * g[None, :, None]

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        h = self.fc2(F.gelu(self.fc1(self.ffn_norm(x).transpose(1, 2)))).transpose(1, 2)
        return x + self._scale(h, self.ffn_gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        x = x + self._scale(self.mixer(self.norm(x)), self.gamma)
        return self._ffn(x)

    def stream(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, state = self.mixer.stream(self.norm(x), state)
        return self._ffn(x + self._scale(h, self.gamma)), state


def _stream_stage(stage: nn.ModuleList, x: torch.Tensor, state: State, new: list) -> tuple[torch.Tensor, State]:
    for block in stage:
        x, s = block.stream(x, state[0])
        new.append(s)
        state = state[1:]
    return x, state


class Encoder(nn.Module):
    def __init__(self, cfg: VibeVoiceTokenizerConfig):
        super().__init__()
        ratios = tuple(reversed(cfg.encoder_ratios))
        widths = [cfg.encoder_n_filters * 2 ** i for i in range(len(cfg.encoder_depths))]
        conv = dict(causal=cfg.causal, pad_mode=cfg.pad_mode, bias=cfg.conv_bias)
        self.stem = SConv1d(cfg.channels, widths[0], cfg.kernel_size, **conv)
        self.downsamples = nn.ModuleList([SConv1d(widths[i], widths[i + 1], 2 * r, stride=r, **conv)
                                          for i, r in enumerate(ratios)])
        self.stages = nn.ModuleList([nn.ModuleList([Block(cfg, w) for _ in range(d)])
                                     for w, d in zip(widths, cfg.encoder_depths)])
        self.norm = nn.Identity() if cfg.disable_last_norm else make_norm(cfg, widths[-1],
                                                                          cfg.layernorm_elementwise_affine)
        self.head = SConv1d(widths[-1], cfg.vae_dim, cfg.last_kernel_size, **conv)

    def convs(self) -> list[SConv1d]:
        """Every conv with a streaming context, in the order ``stream`` takes their states."""
        out = [self.stem]
        for i, stage in enumerate(self.stages):
            if i:
                out.append(self.downsamples[i - 1])
            out += [b.mixer for b in stage]
        return out + [self.head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, S) -> (B, D, ceil(S / hop))
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            if i:
                x = self.downsamples[i - 1](x)
            for block in stage:
                x = block(x)
        return self.head(self.norm(x))

    def stream(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        new: list[torch.Tensor] = []
        x, s = self.stem.stream(x, state[0])
        new.append(s)
        state = state[1:]
        for i, stage in enumerate(self.stages):
            if i:
                x, s = self.downsamples[i - 1].stream(x, state[0])
                new.append(s)
                state = state[1:]
            x, state = _stream_stage(stage, x, state, new)
        y, s = self.head.stream(self.norm(x), state[0])
        new.append(s)
        return y, tuple(new)


class Decoder(nn.Module):
    def __init__(self, cfg: VibeVoiceTokenizerConfig):
        super().__init__()
        depths = cfg.dec_depths
        n = len(depths)
        widths = [cfg.decoder_n_filters * 2 ** (n - 1 - i) for i in range(n)]
        conv = dict(causal=cfg.causal, pad_mode=cfg.pad_mode, bias=cfg.conv_bias)
        self.stem = SConv1d(cfg.vae_dim, widths[0], cfg.kernel_size, **conv)
        self.upsamples = nn.ModuleList([SConvTranspose1d(widths[i], widths[i + 1], 2 * r, stride=r,
                                                         causal=cfg.causal, bias=cfg.conv_bias)
                                        for i, r in enumerate(cfg.dec_ratios)])
        self.stages = nn.ModuleList([nn.ModuleList([Block(cfg, w) for _ in range(d)])
                                     for w, d in zip(widths, depths)])
        self.norm = nn.Identity() if cfg.disable_last_norm else make_norm(cfg, widths[-1],
                                                                          cfg.layernorm_elementwise_affine)
        self.head = SConv1d(widths[-1], cfg.channels, cfg.last_kernel_size, **conv)

    def convs(self) -> list[nn.Module]:
        """Every conv with a streaming state, in the order ``stream`` takes them."""
        out = [self.stem]
        for i, stage in enumerate(self.stages):
            if i:
                out.append(self.upsamples[i - 1])
            out += [b.mixer for b in stage]
        return out + [self.head]

    def state_shapes(self) -> list[tuple[int, int]]:
        """(channels, frames) of every state tensor, in the order ``stream`` takes them."""
        return [((c.convtr.out_channels if isinstance(c, SConvTranspose1d) else c.conv.in_channels), c.state_size())
                for c in self.convs()]

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, D, T) -> (B, C, T * hop)
        x = self.stem(z)
        for i, stage in enumerate(self.stages):
            if i:
                x = self.upsamples[i - 1](x)
            for block in stage:
                x = block(x)
        return self.head(self.norm(x))

    def stream(self, z: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        new: list[torch.Tensor] = []
        x, s = self.stem.stream(z, state[0])
        new.append(s)
        state = state[1:]
        for i, stage in enumerate(self.stages):
            if i:
                x, s = self.upsamples[i - 1].stream(x, state[0])
                new.append(s)
                state = state[1:]
            x, state = _stream_stage(stage, x, state, new)
        y, s = self.head.stream(self.norm(x), state[0])
        new.append(s)
        return y, tuple(new)


def _conv_names(module: nn.Module, convs: list[nn.Module], prefix: str) -> list[str]:
    names = {id(m): n for n, m in module.named_modules()}
    return [f"{prefix}{names[id(c)]}" for c in convs]


class VibeVoiceSemanticTokenizer(nn.Module):
    """The semantic tokenizer: ``encode(wav) -> (B, D, T)`` features (no sampling, no decoder)."""

    def __init__(self, cfg: VibeVoiceTokenizerConfig):
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (B, C, S) or (B, S) -> (B, D, ceil(S / hop)); a ragged tail is zero-padded to whole frames."""
        return self.encoder(wav[:, None] if wav.dim() == 2 else wav)

    def encoder_initial_state(self, batch: int, device=None, dtype: torch.dtype = torch.float32) -> State:
        return tuple(torch.zeros(batch, c.conv.in_channels, c.state_size(), device=device, dtype=dtype)
                     for c in self.encoder.convs())

    def encode_stream(self, wav_chunk: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """wav_chunk (B, C, k * hop) -> (latents (B, D, k), new state); chunks concatenate to ``encode``."""
        return self.encoder.stream(wav_chunk, state)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.encode(wav)


class VibeVoiceAcousticTokenizer(VibeVoiceSemanticTokenizer):
    """``encode(wav) -> latent mean``, ``decode(z) -> wav``, ``sample`` (sigma-VAE noise), and streaming forms of
    both with explicit state."""

    def __init__(self, cfg: VibeVoiceTokenizerConfig):
        super().__init__(cfg)
        self.decoder = Decoder(cfg)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, D, T) -> wav (B, C, T * decoder_hop)."""
        return self.decoder(z)

    def sample(self, mean: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """mean (B, D, T) -> a sigma-VAE draw, as VibeVoice feeds voice prompts to its LM. "gaussian": one sigma per
        utterance, sigma ~ N(0, (fix_std / 0.8)^2), then mean + sigma * eps; "fix": mean + fix_std * eps. Draws in the
        official order and way (sigma (B,), then eps filled through a (B, T, D) view of (B, D, T) memory, as the
        official ``randn_like`` of its transposed mean does: torch's CPU normal_ gives other numbers for strided
        than for contiguous tensors), so a generator seeded like torch's global one gives the official sample."""
        kind = self.config.std_dist_type
        if kind == "none":
            return mean
        b, d, t = mean.shape
        if kind == "gaussian":
            sigma = torch.randn(b, generator=generator, dtype=mean.dtype) * (self.config.fix_std / 0.8)
            sigma = sigma.to(mean.device)[:, None, None]
        else:
            sigma = self.config.fix_std
        eps = torch.empty(b, d, t, dtype=mean.dtype).transpose(1, 2).normal_(generator=generator)
        eps = eps.transpose(1, 2).to(mean.device)  # (B, D, T)
        return mean + sigma * eps

    # -- streaming decoder -----------------------------------------------------------------------------------------
    def initial_state(self, batch: int, device=None, dtype: torch.dtype = torch.float32) -> State:
        """Zeros: the left context the offline decode pads with (and the overlap the transposed convs carry)."""
        return tuple(torch.zeros(batch, c, n, device=device, dtype=dtype) for c, n in self.decoder.state_shapes())

    def state_names(self) -> list[str]:
        return _conv_names(self.decoder, self.decoder.convs(), "decoder.")

    def stream(self, z_chunk: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """z_chunk (B, D, n) -> (wav (B, C, n * decoder_hop), new state); chunks concatenate to ``decode``."""
        return self.decoder.stream(z_chunk, state)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:  # round trip through the mean, trimmed to the input
        return self.decode(self.encode(wav))[..., : wav.shape[-1]]
