"""Swin transformer pieces (Liu et al. 2021) at a fixed input resolution: window attention with a learned relative
position bias, shifted windows, patch merging.

A stage works on tokens (B, H*W, C) laid out row-major on an H x W grid. Each block is pre-norm:

    x = x + proj(window_attention(roll(norm1(x), -shift)))  rolled back by +shift
    x = x + fc2(act(fc1(norm2(x))))

Window attention splits the grid into (H/w) x (W/w) windows of w x w tokens and attends inside each window;
scores are ``q.k / sqrt(Dh) + table[index]``, the table holding one bias per head for each of the (2w-1)^2 relative
offsets. Odd blocks shift the grid by w/2 first (``torch.roll``) so windows straddle the previous block's borders;
tokens that the roll brought together from opposite edges are kept apart by an additive -100 (Swin's value, not
-inf). A stage whose grid is no larger than the window uses one window covering the grid, unshifted. Patch merging
concatenates each 2 x 2 neighbourhood (order (0,0), (1,0), (0,1), (1,1)), LayerNorms the 4C vector and maps it to 2C
(bias-free), halving H and W.

The grid size is fixed at construction (the shift masks are buffers), as every Swin checkpoint is used.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}

SHIFT_MASK_VALUE = -100.0  # Swin's mask: large enough to zero the softmax weight, finite so fp16 stays finite


def activation(name: str):
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unsupported activation {name!r}; known: {sorted(ACTIVATIONS)}") from None


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * nH * nW, window * window, C), windows batch-major then row-major."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // window, window, w // window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, c)


def window_merge(windows: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nH * nW, window * window, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    x = windows.reshape(-1, height // window, width // window, window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, height, width, c)


def relative_position_index(window: int) -> torch.Tensor:
    """(w*w, w*w) index into the ((2w-1)^2,) bias table for every (query, key) pair inside a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    delta = (coords[:, :, None] - coords[:, None, :]) + (window - 1)  # (2, N, N), each in [0, 2w-2]
    return delta[0] * (2 * window - 1) + delta[1]


def shifted_window_mask(height: int, width: int, window: int, shift: int) -> torch.Tensor:
    """(nH * nW, w*w, w*w) additive mask: 0 between tokens of the same pre-roll region, -100 otherwise.

    After rolling by -shift, each axis holds three regions: [0, n-w), [n-w, n-shift), [n-shift, n); the last
    window along an axis mixes the wrapped-around strip with its neighbour."""
    def regions(n: int) -> torch.Tensor:
        idx = torch.arange(n)
        return (idx >= n - window).long() + (idx >= n - shift).long()

    label = (regions(height)[:, None] * 3 + regions(width)[None, :]).float()  # (H, W)
    windows = window_partition(label[None, :, :, None], window)[..., 0]  # (nW, N)
    same = windows[:, None, :] == windows[:, :, None]
    return torch.where(same, 0.0, SHIFT_MASK_VALUE)


class WindowAttention(nn.Module):
    def __init__(self, dim: int, n_heads: int, window: int, qkv_bias: bool = True):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"{n_heads} heads do not divide width {dim}")
        self.n_heads, self.head_dim, self.window = n_heads, dim // n_heads, window
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.k = nn.Linear(dim, dim, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.out = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, n_heads))
        self.register_buffer("relative_position_index", relative_position_index(window), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B * nW, N, C) windows; mask (nW, N, N) additive or None -> (B * nW, N, C)."""
        bw, n, c = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(bw, n, self.n_heads, self.head_dim).transpose(1, 2)  # (B*nW, H, N, Dh)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        bias = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        scores = scores + bias.reshape(n, n, self.n_heads).permute(2, 0, 1)[None]
        if mask is not None:
            n_windows = mask.shape[0]
            scores = scores.reshape(-1, n_windows, self.n_heads, n, n) + mask[None, :, None]
            scores = scores.reshape(bw, self.n_heads, n, n)
        y = torch.matmul(scores.softmax(dim=-1), v)  # (B*nW, H, N, Dh)
        return self.out(y.transpose(1, 2).reshape(bw, n, c))


class MLP(nn.Module):
    """fc2(act(fc1(x))): dim -> hidden -> out_dim (default dim)."""

    def __init__(self, dim: int, hidden: int, act: str, out_dim: int | None = None):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, out_dim or dim)
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinBlock(nn.Module):
    def __init__(self, dim: int, resolution: tuple[int, int], n_heads: int, window: int, shift: int,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, act: str = "gelu", eps: float = 1e-5):
        super().__init__()
        height, width = resolution
        if min(resolution) <= window:  # one window covers the grid: nothing to shift
            window, shift = min(resolution), 0
        if height % window or width % window:
            raise ValueError(f"a {height}x{width} grid does not split into {window}x{window} windows")
        self.resolution, self.window, self.shift = (height, width), window, shift
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attention = WindowAttention(dim, n_heads, window, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, int(mlp_ratio * dim), act)
        mask = shifted_window_mask(height, width, window, shift) if shift else None
        self.register_buffer("shift_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, H*W, C)
        height, width = self.resolution
        c = x.shape[-1]
        h = self.norm1(x).reshape(-1, height, width, c)
        if self.shift:
            h = torch.roll(h, shifts=(-self.shift, -self.shift), dims=(1, 2))
        h = self.attention(window_partition(h, self.window), self.shift_mask)
        h = window_merge(h, self.window, height, width)
        if self.shift:
            h = torch.roll(h, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + h.reshape(-1, height * width, c)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """(B, H*W, C) on an H x W grid -> (B, H/2 * W/2, 2C)."""

    def __init__(self, dim: int, resolution: tuple[int, int], eps: float = 1e-5):
        super().__init__()
        if resolution[0] % 2 or resolution[1] % 2:
            raise ValueError(f"patch merging needs an even grid, got {resolution}")
        self.resolution = resolution
        self.norm = nn.LayerNorm(4 * dim, eps=eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = self.resolution
        x = x.reshape(-1, height, width, x.shape[-1])
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x.reshape(x.shape[0], -1, x.shape[-1])))


class SwinStage(nn.Module):
    """``depth`` blocks alternating plain and shifted windows, then (optionally) patch merging."""

    def __init__(self, dim: int, resolution: tuple[int, int], depth: int, n_heads: int, window: int,
                 merge: bool, mlp_ratio: float = 4.0, qkv_bias: bool = True, act: str = "gelu",
                 eps: float = 1e-5):
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(dim, resolution, n_heads, window, shift=0 if i % 2 == 0 else window // 2,
                      mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, act=act, eps=eps)
            for i in range(depth))
        self.merge = PatchMerging(dim, resolution) if merge else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x if self.merge is None else self.merge(x)
