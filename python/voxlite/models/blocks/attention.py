"""Multi-head self-attention with grouped KV heads, rotary positions (plain RoPE or LongRoPE), and a KV cache passed
in and returned.

    x (B, T, C) -> q (B, H, T, Dh), k / v (B, Hkv, T, Dh) -> RoPE on q, k -> attend over [past k/v ; new k/v]
    -> o_proj -> y (B, T, C)

The cache is explicit: ``forward(x, rope, past_k, past_v) -> (y, k, v)`` returns only the keys and values of the T new
positions (RoPE applied), which the caller appends to its cache (``voxlite.kernels.KVCache.write`` on the native side,
``torch.cat`` on dim 2 here). ``past_k`` / ``past_v`` hold the previous positions 0 .. L-1 in order, so the new
positions are L .. L+T-1; a causal layer lets query L+i see keys 0 .. L+i, a non-causal layer sees everything. With no
past the layer is a plain (causal or bidirectional) self-attention.

RoPE uses the rotate-half convention (pairs (i, i + Dh/2)), as Llama / MiniCPM. LongRoPE (Phi-3, MiniCPM-4) divides
each frequency by a per-frequency factor and multiplies cos and sin by a magnitude scale; the factor set (short or long)
is chosen once from the configured context length, exactly as MiniCPM-4 does. The tables are computed from the
positions on the fly (no cached table), so an exported graph takes integer positions and has no length limit.

Scores are ``q . k * scale`` with ``scale`` 1/sqrt(Dh) unless configured (T5 folds it into its weights: 1.0). The
pattern is causal / bidirectional, or a caller's ``mask``: boolean (True = may attend) or an additive float bias
(T5's relative position bias with padding as a large negative), broadcastable to (B, H, T, L + T).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

Rope = tuple[torch.Tensor, torch.Tensor]  # cos, sin: (T, Dh) each, or (B, 1, T, Dh) for per-item positions


def longrope_scaling(short_factor: Sequence[float], long_factor: Sequence[float], max_position_embeddings: int,
                     original_max_position_embeddings: int) -> tuple[tuple[float, ...], float]:
    """MiniCPM-4 LongRoPE: (per-frequency divisors, cos/sin magnitude scale).

    The long factors apply when the model is configured beyond its original context (MiniCPM-4 builds one table for
    ``max_position_embeddings`` and picks the factor set by that length, not per request); the scale is
    ``sqrt(1 + ln(max / original) / ln(original))`` (1 when the two lengths are equal).
    """
    factors = long_factor if max_position_embeddings > original_max_position_embeddings else short_factor
    scale = max_position_embeddings / original_max_position_embeddings
    mscale = math.sqrt(1 + math.log(scale) / math.log(original_max_position_embeddings))
    return tuple(float(f) for f in factors), mscale


class RotaryEmbedding(nn.Module):
    """cos / sin tables (T, Dh) for integer positions: ``freq_i = theta^(-2i/Dh) / factor_i``, scaled by ``mscale``."""

    def __init__(self, head_dim: int, theta: float = 10000.0, factors: Sequence[float] | None = None,
                 mscale: float = 1.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RoPE needs an even head_dim, got {head_dim}")
        half = head_dim // 2
        if factors is not None and len(factors) not in (1, half):
            raise ValueError(f"{len(factors)} LongRoPE factors for head_dim {head_dim} (expected {half})")
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))  # (Dh/2,)
        inv_factor = 1.0 / torch.tensor(factors if factors is not None else [1.0], dtype=torch.float32)
        # buffers, not parameters: derived from the config, never in a checkpoint
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.register_buffer("inv_factor", inv_factor.expand(half).clone(), persistent=False)
        self.mscale = float(mscale)

    def forward(self, pos: torch.Tensor) -> Rope:
        """pos (T,) shared or (B, T) per batch item (integer or fractional) -> cos, sin (T, Dh) or (B, 1, T, Dh)."""
        # same float32 operation order as MiniCPM-4's table: (pos * (1 / factor)) * inv_freq
        freqs = (pos.to(torch.float32)[..., None] * self.inv_factor) * self.inv_freq  # (..., T, Dh/2)
        emb = torch.cat((freqs, freqs), dim=-1)  # (..., T, Dh)
        if emb.dim() == 3:  # per-item positions broadcast over heads
            emb = emb[:, None]
        return emb.cos() * self.mscale, emb.sin() * self.mscale


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, rope: Rope) -> torch.Tensor:  # x: (B, H, T, Dh)
    cos, sin = rope
    return x * cos + rotate_half(x) * sin


class Attention(nn.Module):
    """Grouped-query self-attention (``n_heads`` query heads share ``n_kv_heads`` key/value heads), optional biases
    (``qkv_bias`` None: as ``bias``; Qwen2 has them on q / k / v but not on the output); ``scale`` None:
    1/sqrt(head_dim)."""

    def __init__(self, dim: int, n_heads: int, n_kv_heads: int, head_dim: int | None = None, causal: bool = True,
                 bias: bool = False, scale: float | None = None, qkv_bias: bool | None = None):
        super().__init__()
        head_dim = head_dim or dim // n_heads
        if n_heads % n_kv_heads:
            raise ValueError(f"n_heads {n_heads} is not a multiple of n_kv_heads {n_kv_heads}")
        self.n_heads, self.n_kv_heads, self.head_dim, self.causal = n_heads, n_kv_heads, head_dim, causal
        self.scale = scale  # None stays None for SDPA, so default graphs are unchanged
        qkv_bias = bias if qkv_bias is None else qkv_bias
        self.q_proj = nn.Linear(dim, n_heads * head_dim, bias=qkv_bias)
        self.k_proj = nn.Linear(dim, n_kv_heads * head_dim, bias=qkv_bias)
        self.v_proj = nn.Linear(dim, n_kv_heads * head_dim, bias=qkv_bias)
        self.o_proj = nn.Linear(n_heads * head_dim, dim, bias=bias)

    def forward(self, x: torch.Tensor, rope: Rope | None = None, past_k: torch.Tensor | None = None,
                past_v: torch.Tensor | None = None, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``mask`` replaces the causal / bidirectional pattern: boolean (T, L + T), True where a query may attend a
        key (a prefix LM: VALL-E's text attends only text, its audio the text and earlier audio), or a float bias
        added to the scores (T5); either broadcastable to (B, H, T, L + T)."""
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)
        k = self.k_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, Hkv, T, Dh)
        v = self.v_proj(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, Hkv, T, Dh)
        if rope is not None:
            q, k = apply_rope(q, rope), apply_rope(k, rope)
        keys = k if past_k is None else torch.cat((past_k, k), dim=2)  # (B, Hkv, L + T, Dh)
        values = v if past_v is None else torch.cat((past_v, v), dim=2)
        groups = self.n_heads // self.n_kv_heads
        if groups > 1:  # query head h reads KV head h // groups
            keys = keys.repeat_interleave(groups, dim=1)  # (B, H, L + T, Dh)
            values = values.repeat_interleave(groups, dim=1)
        if (mask is None and self.causal and past_k is None
                and not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export())):
            # training / eager prefill: SDPA's own causal path (its flash kernel on CPU) instead of a boolean mask,
            # which takes the slow math path; exported graphs keep the explicit mask below
            y = F.scaled_dot_product_attention(q, keys, values, is_causal=True, scale=self.scale)
            return self.o_proj(y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)), k, v
        if mask is None and self.causal:
            n_keys = keys.shape[2]
            q_idx = torch.arange(T, device=x.device) + (n_keys - T)  # absolute cache index of each query
            mask = torch.arange(n_keys, device=x.device)[None, :] <= q_idx[:, None]  # (T, L + T)
        y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=self.scale)  # (B, H, T, Dh)
        y = y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)
        return self.o_proj(y), k, v

    def forward_buffer(self, x: torch.Tensor, rope: Rope | None, cache: torch.Tensor,
                       length: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``forward`` against a fixed-size cache: ``cache`` (2, B, Hkv, capacity, Dh) holds keys (0) and values (1)
        of positions 0 .. length-1 in its first ``length`` slots (``KVCache.buffer``); slots from ``length`` on are
        ignored (masked), whatever they hold. x (B, T, C) sits at positions length .. length+T-1 (``rope`` built for
        them). Returns (y, k, v) with k, v the T new positions, as ``forward`` (the caller writes them to slots
        length ..): nothing is concatenated onto the cache and no KV head is repeated, so a step reads the cache
        in place.

        Same attention as ``forward`` (scores over [cache ; new], one softmax), computed as two score blocks:
        queries grouped per KV head (B, Hkv, groups * T, Dh) against the cache's keys and against the new keys."""
        B, T, _ = x.shape
        H, Hkv, Dh = self.n_heads, self.n_kv_heads, self.head_dim
        q = self.q_proj(x).view(B, T, H, Dh).transpose(1, 2)
        k = self.k_proj(x).view(B, T, Hkv, Dh).transpose(1, 2)
        v = self.v_proj(x).view(B, T, Hkv, Dh).transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, rope), apply_rope(k, rope)
        groups = H // Hkv
        scale = Dh ** -0.5 if self.scale is None else self.scale
        qg = q.reshape(B, Hkv, groups * T, Dh) * scale  # query head h = kv * groups + j -> row j * T + i
        # scores against keys and values at once: (2, B, Hkv, groups * T, capacity), then the keys' half. Selecting
        # cache[0] first would copy the whole key buffer every step (ONNX has no views); the values' half of the
        # product is a few thousand MACs per head
        scores_cache = torch.matmul(qg.unsqueeze(0), cache.transpose(-1, -2))[0]  # (B, Hkv, groups * T, capacity)
        filled = torch.arange(cache.shape[3], device=x.device) < length.reshape(-1)[:1]  # (capacity,)
        scores_cache = scores_cache.masked_fill(~filled, float("-inf"))
        scores_new = torch.matmul(qg, k.transpose(-1, -2))  # (B, Hkv, groups * T, T)
        if self.causal and T > 1:
            row = torch.arange(groups * T, device=x.device) % T
            scores_new = scores_new.masked_fill(torch.arange(T, device=x.device)[None, :] > row[:, None],
                                                float("-inf"))
        p = torch.cat((scores_cache, scores_new), dim=-1).softmax(dim=-1)
        n = cache.shape[3]
        # likewise the weighted sum against both halves, then the values' half
        y = torch.matmul(p[..., :n].unsqueeze(0), cache)[1] + torch.matmul(p[..., n:], v)  # (B, Hkv, G * T, Dh)
        y = y.reshape(B, H, T, Dh).transpose(1, 2).reshape(B, T, H * Dh)
        return self.o_proj(y), k, v
