"""LDM's spatial transformer (diffusers' ``Transformer2DModel`` on continuous input): a feature map attends to itself
and to a conditioning sequence, as a sequence of its H*W positions.

    x (B, C, H, W) -> GroupNorm -> proj_in (1x1 conv, or Linear after flattening) -> (B, H*W, C)
    -> depth x TransformerBlock -> proj_out -> (B, C, H, W) -> + x

    TransformerBlock:  x += attn1(LayerNorm(x))                 self-attention
                       x += attn2(LayerNorm(x), context, bias)  cross-attention; self-attention again when the
                                                                 context is None (diffusers' double_self_attention)
                       x += ff(LayerNorm(x))                    GEGLU: down(gelu(gate x) * up x), 4x wide

Names follow diffusers but for ``to_out.0`` -> ``to_out`` and the GEGLU: diffusers' one ``ff.net.0.proj`` (up rows
then gate rows) is our ``ff.up_proj`` / ``ff.gate_proj``, ``ff.net.2`` our ``ff.down_proj`` (convert/audioldm2_unet.py).
"""
from __future__ import annotations

import torch
from torch import nn

from .cross_attention import MultiHeadAttention
from .transformer import GatedMLP


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, context_dim: int | None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = MultiHeadAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = MultiHeadAttention(dim, heads, context_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = GatedMLP(dim, 4 * dim, bias=True, activation="gelu")

    def forward(self, x: torch.Tensor, context: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context, bias)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    """``context_dim`` None: both attentions are self-attention (AudioLDM 2's extra self-attention layer)."""

    def __init__(self, channels: int, heads: int, context_dim: int | None, depth: int, groups: int,
                 linear_projection: bool):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)  # diffusers hard-codes 1e-6 here
        self.linear_projection = linear_projection
        project = nn.Linear if linear_projection else (lambda c_in, c_out: nn.Conv2d(c_in, c_out, 1))
        self.proj_in = project(channels, channels)
        self.transformer_blocks = nn.ModuleList(TransformerBlock(channels, heads, context_dim) for _ in range(depth))
        self.proj_out = project(channels, channels)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, C, H, W), context (B, S, D) or None, key bias (B, 1, 1, S) or None -> (B, C, H, W)."""
        h = self.norm(x)
        if not self.linear_projection:
            h = self.proj_in(h)
        h = h.flatten(2).transpose(1, 2)  # (B, H*W, C)
        if self.linear_projection:
            h = self.proj_in(h)
        for block in self.transformer_blocks:
            h = block(h, context, bias)
        if self.linear_projection:
            h = self.proj_out(h)
        h = h.transpose(1, 2).reshape(x.shape)
        if not self.linear_projection:
            h = self.proj_out(h)
        return x + h
