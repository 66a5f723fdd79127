"""w2v-BERT 2.0 (Seamless, 2023; transformers' ``Wav2Vec2BertModel``) as a feature extractor: fbank features ->
the hidden state after a chosen conformer layer. Spear-TTS's semantic tokens are w2v-BERT features of one middle
layer (7), normalised to zero mean and unit variance, then k-means; the centroids live beside the graph and the
assignment runs in the runtime (``pipelines/semantic_units.py``).

    input_features (B, T, 160): 80-bin Kaldi log-mel fbank, normalised per bin, pairs of 10 ms frames side by side
        (``voxlite.dsp.fbank.w2v_bert_features``: 20 ms per frame, computed in NumPy by the runtime)
    -> LayerNorm(160) -> Linear(160, dim)                                             (the feature projection)
    -> conformer layers (no positional embedding before them: positions enter each attention):
         x = x + 0.5 * FFN1(LN(x))                                     FFN: Linear -> swish -> Linear, biases
         x = x + SelfAttn(LN(x))                                       biases on q, k, v, out; scale 1/sqrt(Dh)
         x = x + Conv(x)   Conv: LN -> pointwise Linear(dim, 2 dim) -> GLU -> causal depthwise Conv1d(kernel 31,
                           left-padded, no bias) -> LN -> swish -> pointwise Linear(dim, dim); no conv biases
         x = x + 0.5 * FFN2(LN(x))
         x = LN(x)                                                     (each layer ends normed; no encoder norm)

Attention positions, by ``position`` (transformers' ``position_embeddings_type``):

- ``"relative_key"`` (Shaw et al., 2018; facebook/w2v-bert-2.0): a learned (left + right + 1, Dh) table E shared
  by the heads of a layer; query i and key j add ``scale * q_i . E[clamp(j - i, -left, right) + left]`` to their
  score (left 64 frames, right 8). Computed as ``q E^T`` (B, H, T, left + right + 1) then gathered per (i, j);
  the bias is the shared attention's additive mask (``blocks.attention.Attention``).
- ``None``: no positions.
- ``"rotary"`` (transformers rotates the layer's input before the q / k projections) and ``"relative"``
  (Transformer-XL's sinusoidal table with pos_bias_u / v) are not implemented: refused.

``output_layer=k`` returns the hidden state after the first k layers (0: the projected features), as transformers'
``hidden_states[k]``; the layers after k are not run (nor exported). ``None``: every layer (``last_hidden_state``
when the model has no adapter; the adapter / intermediate FFN after the encoder are not part of this reference).
Converter: ``convert/w2v_bert.py``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .blocks.attention import Attention
from .blocks.conv import SConv1d
from .blocks.transformer import PlainMLP

SAMPLE_RATE = 16000
HOP_LENGTH = 320  # input samples per frame (fbank hop 160, two frames stacked)
RECEPTIVE_FIELD = 560  # samples the first frame needs (two 400-sample fbank windows 160 apart)
POSITIONS = ("relative_key", None)
FEATURE_NORM_EPS = 1e-5  # normalize_frames: (h - mean) / sqrt(var + eps) per feature over the utterance


@dataclass
class W2VBertConfig:
    dim: int = 1024
    n_layers: int = 24
    n_heads: int = 16
    ffn: int = 4096
    input_dim: int = 160  # stacked fbank width (80 mels x 2)
    conv_kernel: int = 31  # depthwise conv of each conformer layer (odd)
    position: str | None = "relative_key"
    left_max_position: int = 64  # relative_key: the farthest key to the left with its own embedding
    right_max_position: int = 8  # ... and to the right
    eps: float = 1e-5

    def __post_init__(self):
        for name in ("dim", "n_layers", "n_heads", "ffn", "input_dim", "conv_kernel"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "n_layers" else 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.position not in POSITIONS:
            raise ValueError(f"position {self.position!r} is not supported (supported: {list(POSITIONS)}; "
                             "transformers' 'rotary' and 'relative' kinds are not implemented)")
        if self.dim % self.n_heads:
            raise ValueError(f"dim {self.dim} is not a multiple of n_heads {self.n_heads}")
        if self.conv_kernel % 2 == 0:
            raise ValueError(f"conv_kernel must be odd, got {self.conv_kernel}")
        if self.left_max_position < 0 or self.right_max_position < 0:
            raise ValueError("left_max_position and right_max_position must be >= 0")

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "W2VBertConfig":
        return cls(**dict(d))

    @classmethod
    def w2v_bert_2(cls) -> "W2VBertConfig":
        """facebook/w2v-bert-2.0 (transformers' Wav2Vec2BertConfig defaults): 24 conformer layers of 1024, 600M."""
        return cls()

    @classmethod
    def tiny(cls, **overrides) -> "W2VBertConfig":
        """Test size: 3 layers of 32, kernel 5, positions clipped at 6 left / 3 right."""
        return cls(**{"dim": 32, "n_layers": 3, "n_heads": 4, "ffn": 48, "conv_kernel": 5,
                      "left_max_position": 6, "right_max_position": 3, **overrides})


class RelativeKeyBias(nn.Module):
    """Shaw's relative-key term as an additive score bias: (B, H, T, Dh) queries -> (B, H, T, T)."""

    def __init__(self, head_dim: int, left: int, right: int, scale: float):
        super().__init__()
        self.left, self.right, self.scale = left, right, scale
        self.distance_embedding = nn.Embedding(left + right + 1, head_dim)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        B, H, T, _ = q.shape
        pos = torch.arange(T, device=q.device)
        bucket = (pos[None, :] - pos[:, None]).clamp(-self.left, self.right) + self.left  # (T, T): key - query
        per_bucket = torch.matmul(q, self.distance_embedding.weight.t())  # (B, H, T, K)
        n_buckets = per_bucket.shape[-1]
        flat = (pos[:, None] * n_buckets + bucket).reshape(-1)  # row i reads its own K entries
        return per_bucket.reshape(B, H, -1).index_select(2, flat).reshape(B, H, T, T) * self.scale


class ConvModule(nn.Module):
    """LN -> pointwise (2 dim) -> GLU -> causal depthwise conv -> LN -> swish -> pointwise, on (B, T, C)."""

    def __init__(self, dim: int, kernel: int, eps: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.pointwise_in = nn.Linear(dim, 2 * dim, bias=False)  # a kernel-1 Conv1d
        self.depthwise = SConv1d(dim, dim, kernel, groups=dim, bias=False, causal=True)  # k - 1 zeros on the left
        self.depthwise.pad_to_full_frames = False  # stride 1: never needed, and no length arithmetic when traced
        self.depthwise_norm = nn.LayerNorm(dim, eps=eps)
        self.pointwise_out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.glu(self.pointwise_in(self.norm(x)), dim=-1)  # first half * sigmoid(second half), as nn.GLU(dim=1)
        h = self.depthwise(h.transpose(1, 2)).transpose(1, 2)
        return self.pointwise_out(F.silu(self.depthwise_norm(h)))


class ConformerLayer(nn.Module):
    def __init__(self, cfg: W2VBertConfig):
        super().__init__()
        self.ffn1_norm = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.ffn1 = PlainMLP(cfg.dim, cfg.ffn, bias=True, activation="silu")
        self.attn_norm = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.self_attn = Attention(cfg.dim, cfg.n_heads, cfg.n_heads, causal=False, bias=True)
        self.position = (RelativeKeyBias(cfg.head_dim, cfg.left_max_position, cfg.right_max_position,
                                         cfg.head_dim ** -0.5) if cfg.position == "relative_key" else None)
        self.conv = ConvModule(cfg.dim, cfg.conv_kernel, cfg.eps)
        self.ffn2_norm = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.ffn2 = PlainMLP(cfg.dim, cfg.ffn, bias=True, activation="silu")
        self.final_norm = nn.LayerNorm(cfg.dim, eps=cfg.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        x = x + 0.5 * self.ffn1(self.ffn1_norm(x))
        h = self.attn_norm(x)
        bias = None
        if self.position is not None:
            attn = self.self_attn
            B, T, _ = h.shape
            # the shared attention projects q again from the same input: an identical node, which the ONNX
            # exporter's common-subexpression pass merges (one q projection per layer in the exported graph)
            q = attn.q_proj(h).view(B, T, attn.n_heads, attn.head_dim).transpose(1, 2)
            bias = self.position(q)
        x = x + self.self_attn(h, mask=bias)[0]
        x = x + self.conv(x)
        x = x + 0.5 * self.ffn2(self.ffn2_norm(x))
        return self.final_norm(x)


def normalize_frames(h: torch.Tensor, eps: float = FEATURE_NORM_EPS) -> torch.Tensor:
    """(B, T, C) -> per item and feature, zero mean and unit variance over the T frames (population variance):
    Spear-TTS normalises w2v-BERT features this way before k-means."""
    mean = h.mean(dim=1, keepdim=True)
    var = (h - mean).pow(2).mean(dim=1, keepdim=True)
    return (h - mean) * torch.rsqrt(var + eps)


class W2VBert(nn.Module):
    def __init__(self, config: W2VBertConfig, output_layer: int | None = None):
        super().__init__()
        self.config = config
        self.output_layer = self._check_layer(output_layer)
        self.feature_norm = nn.LayerNorm(config.input_dim, eps=config.eps)
        self.feature_projection = nn.Linear(config.input_dim, config.dim)
        self.layers = nn.ModuleList(ConformerLayer(config) for _ in range(config.n_layers))

    def _check_layer(self, layer: int | None) -> int | None:
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int)
                                  or not 0 <= layer <= self.config.n_layers):
            raise ValueError(f"output_layer must be in 0..{self.config.n_layers} or None, got {layer!r}")
        return layer

    def forward(self, features: torch.Tensor, output_layer: int | None = -1) -> torch.Tensor:
        """(B, T, input_dim) fbank features -> (B, T, dim): the hidden state after ``output_layer`` layers
        (default: the module's ``output_layer``; None: every layer)."""
        layer = self.output_layer if output_layer == -1 else self._check_layer(output_layer)
        if not torch.jit.is_tracing() and (features.dim() != 3 or features.shape[-1] != self.config.input_dim):
            raise ValueError(f"features must be (B, T, {self.config.input_dim}), got {tuple(features.shape)}")
        x = self.feature_projection(self.feature_norm(features))
        for block in self.layers[:self.config.n_layers if layer is None else layer]:
            x = block(x)
        return x
