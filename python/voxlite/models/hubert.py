"""HuBERT (Hsu et al., 2021) as a feature extractor: 16 kHz waveform -> one 20 ms frame of hidden features per
320 samples, read after a chosen transformer layer. Discrete "semantic" tokens are these features' nearest k-means
centroids (UniAudio: hubert_base_ls960, layer 9 of 12, 500 clusters; Spear-TTS / Make-A-Voice use other layers and
cluster counts); the centroids live beside the graph, the assignment runs in the runtime (``pipelines/
semantic_units.py``).

    wav (B, N)
    -> conv feature extractor: 7 Conv1d (512 channels, kernels 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2: 400-sample
       receptive field, hop 320), each followed by GELU; "group" variant (base): a per-channel GroupNorm after the
       first conv only; "layer" variant (large / stable): a LayerNorm over channels after every conv
    -> (B, T, 512) -> LayerNorm -> Linear -> (B, T, dim)
    -> + positional conv: GELU(trim(Conv1d(dim, dim, kernel 128, padding 64, groups 16)(x))), where trim drops the
       last frame when the kernel is even (the "same pad" correction); the conv's weight is weight-normed over all
       axes but the kernel axis (folded into a plain weight by the converters)
    -> post-norm ("base", ``stable_layer_norm=False``): LayerNorm, then layers x = LN(x + Attn(x)); x = LN(x + FFN(x))
       pre-norm ("large", ``stable_layer_norm=True``): layers x = x + Attn(LN(x)); x = x + FFN(LN(x)), final LayerNorm
    Attention: bidirectional, biases on q, k, v and out, scale 1/sqrt(head_dim); FFN: Linear -> erf GELU -> Linear.

``output_layer=k`` returns the hidden state after the first k layers (0: the input of the first layer), as
fairseq's ``extract_features(output_layer=k)`` does and as transformers' ``hidden_states[k]`` holds; the layers after
k are not run (nor exported). ``output_layer=None`` is the full encoder's output (``last_hidden_state``, which for
the pre-norm variant includes the final LayerNorm; fairseq's output_layer = n_layers does not apply it).

The transformer layers are the shared stack (``blocks.transformer``: LayerNorm, erf GELU, biases, no RoPE,
bidirectional, post- or pre-norm). Converters: ``convert/hubert.py`` (transformers' ``HubertModel``, fairseq) and
``convert/wav2vec2.py`` (transformers' ``Wav2Vec2Model``: wav2vec 2.0 / XLSR-53 has this encoder; XLSR-53 is the
``large`` layout).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .blocks.transformer import Transformer, TransformerConfig, activate

SAMPLE_RATE = 16000


@dataclass
class HubertConfig:
    dim: int = 768
    n_layers: int = 12
    n_heads: int = 12
    ffn: int = 3072
    conv_dim: tuple[int, ...] = (512,) * 7
    conv_kernel: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_stride: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    conv_bias: bool = False
    feat_extract_norm: str = "group"  # "group" (base: GroupNorm after conv 0) | "layer" (LayerNorm after every conv)
    feat_proj_layer_norm: bool = True  # LayerNorm on the conv features before the projection (fairseq: always)
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    stable_layer_norm: bool = False  # pre-norm layers and a final norm (large); False: post-norm (base)
    eps: float = 1e-5

    def __post_init__(self):
        self.conv_dim, self.conv_kernel, self.conv_stride = (tuple(int(v) for v in t) for t in
                                                             (self.conv_dim, self.conv_kernel, self.conv_stride))
        if not len(self.conv_dim) == len(self.conv_kernel) == len(self.conv_stride) >= 1:
            raise ValueError("conv_dim, conv_kernel and conv_stride must have the same (non-zero) length")
        if self.feat_extract_norm not in ("group", "layer"):
            raise ValueError(f"feat_extract_norm must be 'group' or 'layer', got {self.feat_extract_norm!r}")
        if self.dim % self.n_heads or self.dim % self.pos_conv_groups:
            raise ValueError("dim must be a multiple of n_heads and of pos_conv_groups")

    @property
    def hop_length(self) -> int:
        """Input samples per output frame (320 for the published models: 50 frames/s at 16 kHz)."""
        hop = 1
        for s in self.conv_stride:
            hop *= s
        return hop

    @property
    def receptive_field(self) -> int:
        """Samples one output frame sees (400 for the published models); shorter input gives no frame."""
        field, jump = 1, 1
        for k, s in zip(self.conv_kernel, self.conv_stride):
            field += (k - 1) * jump
            jump *= s
        return field

    def n_frames(self, n_samples: int) -> int:
        for k, s in zip(self.conv_kernel, self.conv_stride):
            n_samples = (n_samples - k) // s + 1 if n_samples >= k else 0
        return max(n_samples, 0)

    def stack(self) -> TransformerConfig:
        return TransformerConfig(dim=self.dim, ffn_dim=self.ffn, n_layers=self.n_layers, n_heads=self.n_heads,
                                 n_kv_heads=self.n_heads, norm_eps=self.eps, causal=False, use_rope=False,
                                 norm="layer", mlp="gelu", bias=True,
                                 norm_position="pre" if self.stable_layer_norm else "post")

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "HubertConfig":
        return cls(**dict(d))

    @classmethod
    def base(cls) -> "HubertConfig":
        """hubert_base_ls960 (UniAudio's semantic tokenizer): 12 post-norm layers of 768, group-norm extractor."""
        return cls()

    @classmethod
    def large(cls) -> "HubertConfig":
        """hubert_large_ll60k: 24 pre-norm layers of 1024, layer-norm extractor with conv biases."""
        return cls(dim=1024, n_layers=24, n_heads=16, ffn=4096, conv_bias=True, feat_extract_norm="layer",
                   stable_layer_norm=True)

    @classmethod
    def tiny(cls, **overrides) -> "HubertConfig":
        """Test size: 3 layers of 32, a 3-conv extractor (hop 20, receptive field 40)."""
        return cls(**{"dim": 32, "n_layers": 3, "n_heads": 4, "ffn": 37, "conv_dim": (16, 16, 16),
                      "conv_kernel": (10, 3, 3), "conv_stride": (5, 2, 2), "pos_conv_kernel": 16,
                      "pos_conv_groups": 4, **overrides})


class ConvLayer(nn.Module):
    """Conv1d -> (GroupNorm per channel | LayerNorm over channels | nothing) -> GELU."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bias: bool, norm: str | None):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, bias=bias)
        self.norm_kind = norm
        if norm == "group":
            self.norm = nn.GroupNorm(c_out, c_out, affine=True)
        elif norm == "layer":
            self.norm = nn.LayerNorm(c_out, elementwise_affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, N) -> (B, C', N')
        x = self.conv(x)
        if self.norm_kind == "group":
            x = self.norm(x)
        elif self.norm_kind == "layer":
            x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return F.gelu(x)


class FeatureExtractor(nn.Module):
    def __init__(self, cfg: HubertConfig):
        super().__init__()
        layers, c_in = [], 1
        for i, (c, k, s) in enumerate(zip(cfg.conv_dim, cfg.conv_kernel, cfg.conv_stride)):
            norm = "layer" if cfg.feat_extract_norm == "layer" else ("group" if i == 0 else None)
            layers.append(ConvLayer(c_in, c, k, s, cfg.conv_bias, norm))
            c_in = c
        self.layers = nn.ModuleList(layers)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:  # (B, N) -> (B, C, T)
        x = wav[:, None]
        for layer in self.layers:
            x = layer(x)
        return x


class PositionalConv(nn.Module):
    """GELU(trim(grouped Conv1d(x))): the relative position signal added to the projected features."""

    def __init__(self, dim: int, kernel: int, groups: int):
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=groups)
        self.trim = 1 if kernel % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        y = self.conv(x.transpose(1, 2))
        if self.trim:
            y = y[:, :, :-self.trim]
        return activate("gelu", y).transpose(1, 2)


class Hubert(nn.Module):
    def __init__(self, config: HubertConfig, output_layer: int | None = None):
        super().__init__()
        self.config = config
        self.output_layer = self._check_layer(output_layer)
        self.feature_extractor = FeatureExtractor(config)
        c = config.conv_dim[-1]
        self.feature_norm = nn.LayerNorm(c, eps=config.eps) if config.feat_proj_layer_norm else None
        self.feature_projection = nn.Linear(c, config.dim)
        self.pos_conv = PositionalConv(config.dim, config.pos_conv_kernel, config.pos_conv_groups)
        # post-norm: a LayerNorm before the first layer; pre-norm: the stack's own final norm (encoder.norm)
        self.input_norm = None if config.stable_layer_norm else nn.LayerNorm(config.dim, eps=config.eps)
        self.encoder = Transformer(config.stack())

    def _check_layer(self, layer: int | None) -> int | None:
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int)
                                  or not 0 <= layer <= self.config.n_layers):
            raise ValueError(f"output_layer must be in 0..{self.config.n_layers} or None, got {layer!r}")
        return layer

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """(B, N) 16 kHz waveform -> projected conv features (B, T, dim): the encoder's input."""
        x = self.feature_extractor(wav).transpose(1, 2)
        if self.feature_norm is not None:
            x = self.feature_norm(x)
        return self.feature_projection(x)

    def forward(self, wav: torch.Tensor, output_layer: int | None = -1) -> torch.Tensor:
        """(B, N) -> (B, T, dim): the hidden state after ``output_layer`` layers (default: the module's
        ``output_layer``; None: the whole encoder with its final norm)."""
        layer = self.output_layer if output_layer == -1 else self._check_layer(output_layer)
        x = self.features(wav)
        x = x + self.pos_conv(x)
        if self.input_norm is not None:
            x = self.input_norm(x)
        n = self.config.n_layers if layer is None else layer
        for block in self.encoder.layers[:n]:
            x, _, _ = block(x)
        if layer is None and self.encoder.norm is not None:
            x = self.encoder.norm(x)
        return x
