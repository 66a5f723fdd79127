"""The VITS text encoder, as AudioLDM 2's speech checkpoints use it (``text_encoder_2``, a transformers ``VitsModel``
of which the pipeline runs ``.text_encoder`` alone and keeps its ``last_hidden_state``).

    h = embed(ids) * sqrt(C) * m                              m: the (B, T) 0/1 padding mask, broadcast over C
    per layer (post-norm):
        h = LayerNorm(h + Attention(h))                       keys at m == 0 get a large negative bias
        h = LayerNorm(h + FFN(h))                             FFN: x*m -> pad -> Conv1d(k) -> act -> x*m -> pad
                                                                   -> Conv1d(k) -> x*m  (pad (k-1)//2 left, k//2 right)
    out = h * m                                               (B, T, C)

Attention is multi-head with VITS' windowed relative positions (Shaw et al.): for query i and key j at offset
r = j - i with |r| <= w, a learned vector ``rel_k[r + w]`` adds ``q_i . rel_k[r + w]`` to the logit and
``p_ij * rel_v[r + w]`` to the output; offsets beyond the window contribute nothing. The tables are shared across heads
and the query is scaled by 1/sqrt(head_dim) before both products. Here per-offset and per-key values are
contracted through a (T, T, 2w+1) one-hot built from ``arange(T)``, so the graph holds for any T (transformers pads
and slices with Python ``max`` on T, which a trace would freeze).

Not kept: the ``project`` convolution that makes VITS' prior means / log-variances (the pipeline discards them) and
everything outside ``text_encoder`` (flow, vocoder, duration predictor). Parameter names are ours;
``convert/vits_text.py`` maps transformers' keys.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
from torch import nn
from torch.nn import functional as F

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu, "swish": F.silu,
                "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
                "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh")}


@dataclass
class VitsTextEncoderConfig:
    vocab_size: int = 38
    hidden_size: int = 192
    num_layers: int = 6
    num_heads: int = 2
    ffn_dim: int = 768
    ffn_kernel_size: int = 3
    window_size: int | None = 4  # None / 0: no relative positions
    activation: str = "relu"
    use_bias: bool = True  # on the q / k / v / out projections (the convolutions always have one)
    layer_norm_eps: float = 1e-5

    def __post_init__(self):
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"unsupported activation {self.activation!r} (have {sorted(_ACTIVATIONS)})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_transformers(cls, config: Mapping[str, Any]) -> "VitsTextEncoderConfig":
        """From a transformers ``VitsConfig`` dict (config.json); missing keys take VitsConfig's defaults."""
        d = cls()
        return cls(vocab_size=config.get("vocab_size", d.vocab_size),
                   hidden_size=config.get("hidden_size", d.hidden_size),
                   num_layers=config.get("num_hidden_layers", d.num_layers),
                   num_heads=config.get("num_attention_heads", d.num_heads),
                   ffn_dim=config.get("ffn_dim", d.ffn_dim),
                   ffn_kernel_size=config.get("ffn_kernel_size", d.ffn_kernel_size),
                   window_size=config.get("window_size", d.window_size),
                   activation=config.get("hidden_act", d.activation),
                   use_bias=config.get("use_bias", d.use_bias),
                   layer_norm_eps=config.get("layer_norm_eps", d.layer_norm_eps))

    @classmethod
    def audioldm2_speech(cls) -> "VitsTextEncoderConfig":
        """AudioLDM 2's speech checkpoints (-speech-gigaspeech / -speech-ljspeech): the original ``PhonemeEncoder``
        builds VITS' ``TextEncoder`` with 192 channels, 768 filter channels, 2 heads, 6 layers, kernel 3 (window 4,
        eps 1e-5 by VITS' defaults) over 183 symbols: VITS' 178 plus ``♪☎☒☝⚠`` (``⚠`` = 182 ends a transcription)."""
        return cls(vocab_size=183)

    @classmethod
    def tiny(cls, **overrides) -> "VitsTextEncoderConfig":
        return cls(**{"vocab_size": 40, "hidden_size": 16, "num_layers": 2, "num_heads": 2, "ffn_dim": 24,
                      "ffn_kernel_size": 3, "window_size": 4, **overrides})


def relative_offsets(length: int, window: int, dtype: torch.dtype, device=None) -> torch.Tensor:
    """(T, T, 2w+1) one-hot of each (query i, key j) pair's offset slot ``j - i + w``; all zero beyond the window.

    Contracting with it moves between per-offset and per-key values without padding or slicing by T, so a traced
    graph keeps T dynamic (and the sums add exact zeros, so nothing is lost against a gather)."""
    positions = torch.arange(length, device=device)
    offsets = positions[None, :] - positions[:, None] + window
    return (offsets[..., None] == torch.arange(2 * window + 1, device=device)).to(dtype)


class RelativeSelfAttention(nn.Module):
    def __init__(self, config: VitsTextEncoderConfig):
        super().__init__()
        dim, self.heads = config.hidden_size, config.num_heads
        self.head_dim = dim // self.heads
        self.window = config.window_size or 0
        self.q_proj = nn.Linear(dim, dim, bias=config.use_bias)
        self.k_proj = nn.Linear(dim, dim, bias=config.use_bias)
        self.v_proj = nn.Linear(dim, dim, bias=config.use_bias)
        self.out_proj = nn.Linear(dim, dim, bias=config.use_bias)
        if self.window:
            # one (2w+1, head_dim) table each, shared by the heads
            self.rel_k = nn.Parameter(torch.zeros(2 * self.window + 1, self.head_dim))
            self.rel_v = nn.Parameter(torch.zeros(2 * self.window + 1, self.head_dim))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)  # (B, H, T, d)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor, offsets: torch.Tensor | None) -> torch.Tensor:
        """x (B, T, C); key_bias (B, 1, 1, T) additive; offsets from ``relative_offsets`` (None: no window)."""
        q = self._heads(self.q_proj(x) * self.head_dim ** -0.5)
        k, v = self._heads(self.k_proj(x)), self._heads(self.v_proj(x))
        logits = q @ k.transpose(-1, -2)
        if self.window:
            by_offset = q @ self.rel_k.t()  # (B, H, T, 2w+1)
            logits = logits + (by_offset.unsqueeze(-2) @ offsets.transpose(1, 2)).squeeze(-2)
        probs = torch.softmax(logits + key_bias, dim=-1)
        out = probs @ v
        if self.window:
            by_offset = (probs.unsqueeze(-2) @ offsets).squeeze(-2)  # each offset's probability, (B, H, T, 2w+1)
            out = out + by_offset @ self.rel_v
        return self.out_proj(out.transpose(1, 2).flatten(2))


class MaskedConvFeedForward(nn.Module):
    def __init__(self, config: VitsTextEncoderConfig):
        super().__init__()
        k = config.ffn_kernel_size
        self.conv_in = nn.Conv1d(config.hidden_size, config.ffn_dim, k)
        self.conv_out = nn.Conv1d(config.ffn_dim, config.hidden_size, k)
        self.pad = ((k - 1) // 2, k // 2)  # asymmetric for even k, as VITS does
        self.act = _ACTIVATIONS[config.activation]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, C), mask (B, 1, T) float."""
        h = self.act(self.conv_in(F.pad(x.transpose(1, 2) * mask, self.pad)))
        return (self.conv_out(F.pad(h * mask, self.pad)) * mask).transpose(1, 2)


class VitsEncoderLayer(nn.Module):
    def __init__(self, config: VitsTextEncoderConfig):
        super().__init__()
        self.attention = RelativeSelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.ffn = MaskedConvFeedForward(config)
        self.ffn_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x, key_bias, offsets, mask):
        x = self.attention_norm(x + self.attention(x, key_bias, offsets))
        return self.ffn_norm(x + self.ffn(x, mask))


class VitsTextEncoder(nn.Module):
    def __init__(self, config: VitsTextEncoderConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(VitsEncoderLayer(config) for _ in range(config.num_layers))

    def forward(self, input_ids: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """input_ids (B, T) int64, padding_mask (B, T) 0/1 (any dtype) -> hidden states (B, T, C), zero where the
        mask is 0: what the pipeline keeps of
        ``text_encoder_2.text_encoder(ids, attention_mask=m, padding_mask=m[..., None])[0]``."""
        x = self.embed_tokens(input_ids) * math.sqrt(self.config.hidden_size)
        mask = padding_mask.to(x.dtype)
        # masked keys get the dtype's minimum added, as transformers' eager mask does (a fully masked row stays finite)
        key_bias = ((1.0 - mask) * torch.finfo(x.dtype).min)[:, None, None, :]
        offsets = (relative_offsets(input_ids.shape[1], self.config.window_size, x.dtype, input_ids.device)
                   if self.config.window_size else None)
        channel_mask = mask[:, None, :]
        x = x * mask[..., None]
        for layer in self.layers:
            x = layer(x, key_bias, offsets, channel_mask)
        return x * mask[..., None]
