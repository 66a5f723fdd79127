"""Local diffusion transformer with prefix-token conditioning (VoxCPM's LocDiT): the velocity field of one patch.

    tokens = [ mu + temb(t) + dtemb(dt) ,  cond_proj(cond_1..Pc) ,  in_proj(x_1..P) ]      (B, 1 + Pc + P, H)
    -> bidirectional transformer (RoPE over token index 0 .. Pc + P) -> last P tokens -> out_proj -> v (B, P, C)

There is no adaptive norm and no cross-attention: the conditioning vector ``mu`` (the LM state projected to the DiT
width) plus the time embedding is the first token, and the previous patch ``cond`` enters as ``Pc`` prefix tokens. The
time embedding is a sinusoid of ``1000 * t`` (sin half then cos half, ``log(10000) / (half - 1)`` spacing) through a
Linear-SiLU-Linear MLP; a second MLP embeds ``dt`` (mean-flow models; VoxCPM-0.5B / 1.5 feed dt = 0, which still adds
the MLP's constant output). Patches are (B, P, C) here; the official module takes (B, C, P).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .transformer import Transformer, TransformerConfig


def timestep_embedding(t: torch.Tensor, dim: int, scale: float = 1000.0, *, flip_sin_to_cos: bool = False,
                       freq_shift: float = 1.0, diffusers_order: bool = False) -> torch.Tensor:
    """(B,) -> (B, dim): [sin, cos] ([cos, sin] with ``flip_sin_to_cos``) of ``scale * t * 10000^(-i / (half -
    freq_shift))`` for i < half = dim // 2, zero-padded when dim is odd.

    Checkpoints were trained with two float32 roundings of that formula, ~1e-4 apart at t ~ 1000 (more than parity
    allows): VoxCPM's (default: the exponent step -ln(10000) / (half - shift) taken in double, times i; scale
    applied to t first) and diffusers' / LDM's (``diffusers_order``: -ln(10000) * i in float32, then divided;
    scale applied after t * freq)."""
    half = dim // 2
    if diffusers_order:
        exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - freq_shift)
        arg = scale * (t.float()[:, None] * torch.exp(exponent)[None, :])
    else:
        freqs = torch.exp(torch.arange(half, dtype=t.dtype, device=t.device) * -(math.log(10000) / (half - freq_shift)))
        arg = (scale * t)[:, None] * freqs[None, :]  # (B, half)
    emb = torch.cat((arg.cos(), arg.sin()) if flip_sin_to_cos else (arg.sin(), arg.cos()), dim=-1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


class TimestepMLP(nn.Module):
    def __init__(self, dim: int, hidden: int, out_dim: int | None = None):
        super().__init__()
        self.linear_1 = nn.Linear(dim, hidden)
        self.linear_2 = nn.Linear(hidden, out_dim or hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class PrefixDiT(nn.Module):
    """v = f(x, mu, t, cond, dt) for one patch of ``in_channels``-dim frames; ``cfg`` is a bidirectional stack."""

    def __init__(self, in_channels: int, cfg: TransformerConfig, time_scale: float = 1000.0):
        super().__init__()
        if cfg.causal or cfg.vocab_size:
            raise ValueError("PrefixDiT needs a bidirectional transformer without token embedding")
        if cfg.dim % 2:
            raise ValueError(f"the sinusoidal time embedding needs an even width, got {cfg.dim}")
        self.time_scale = time_scale
        self.in_proj = nn.Linear(in_channels, cfg.dim)
        self.cond_proj = nn.Linear(in_channels, cfg.dim)
        self.out_proj = nn.Linear(cfg.dim, in_channels)
        self.time_mlp = TimestepMLP(cfg.dim, cfg.dim)
        self.delta_time_mlp = TimestepMLP(cfg.dim, cfg.dim)
        self.decoder = Transformer(cfg)

    def forward(self, x: torch.Tensor, mu: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                dt: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, P, C) state, mu (B, H) condition vector, t (B,) time, cond (B, Pc, C) prefix frames, dt (B,) or None
        (zeros) -> velocity (B, P, C)."""
        dim = self.in_proj.out_features
        if dt is None:
            dt = torch.zeros_like(t)
        temb = self.time_mlp(timestep_embedding(t, dim, self.time_scale))  # (B, H)
        temb = temb + self.delta_time_mlp(timestep_embedding(dt, dim, self.time_scale))
        tokens = torch.cat(((mu + temb)[:, None], self.cond_proj(cond), self.in_proj(x)), dim=1)  # (B, 1+Pc+P, H)
        hidden, _ = self.decoder(tokens)
        return self.out_proj(hidden[:, 1 + cond.shape[1]:])  # (B, P, C)
