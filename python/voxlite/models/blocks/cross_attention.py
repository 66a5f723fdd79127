"""Multi-head attention whose keys and values may come from another sequence (diffusers' ``Attention``).

    x (B, N, C) -> q = to_q(x);  context (B, S, D), or x itself -> k = to_k(context), v = to_v(context)
    -> H heads of C / H channels: softmax(q k^T / sqrt(C / H) + bias) v -> to_out -> (B, N, C)

``bias`` is additive over the keys, (B, 1, 1, S) from ``key_padding_bias``; there are no positions (the callers'
inputs carry their own). Used by the UNet's spatial transformers (cross- and self-attention) and, with one head,
by the VAE's mid-block self-attention.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def key_padding_bias(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """(B, S) mask, 1 = attend / 0 = padding -> additive bias (B, 1, 1, S) of 0 / -10000, as diffusers builds it.
    -10000 rather than -inf: a query whose every key is masked attends to all of them evenly instead of giving NaN."""
    if mask is None:
        return None
    return ((1.0 - mask.to(dtype)) * -10000.0)[:, None, None, :]


class MultiHeadAttention(nn.Module):
    """``context_dim``: width of the key / value sequence (None: self-attention over x)."""

    def __init__(self, dim: int, heads: int = 1, context_dim: int | None = None, qkv_bias: bool = False):
        super().__init__()
        if dim % heads:
            raise ValueError(f"{heads} heads do not divide {dim} channels")
        self.heads, self.head_dim = heads, dim // heads
        self.to_q = nn.Linear(dim, dim, bias=qkv_bias)
        self.to_k = nn.Linear(context_dim or dim, dim, bias=qkv_bias)
        self.to_v = nn.Linear(context_dim or dim, dim, bias=qkv_bias)
        self.to_out = nn.Linear(dim, dim)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, C) -> (B, H, L, C / H)
        return x.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, N, C), context (B, S, D) or None, bias broadcastable to (B, H, N, S) or None -> (B, N, C)."""
        context = x if context is None else context
        q, k, v = self._split_heads(self.to_q(x)), self._split_heads(self.to_k(context)), \
            self._split_heads(self.to_v(context))
        # the scale given as a number: the same value as SDPA's default, but no shape arithmetic in an exported graph
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.head_dim ** -0.5)
        return self.to_out(y.transpose(1, 2).flatten(2))
