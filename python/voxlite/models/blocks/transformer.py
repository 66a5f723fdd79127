"""Transformer stack: MiniCPM style (RMSNorm, grouped-query attention with (Long)RoPE, SwiGLU MLP, muP scaling),
GPT style (LayerNorm, biases, ReLU / GELU MLP, no RoPE: VALL-E, GPT-2), T5 encoder style (RMSNorm, gated-GELU or ReLU
MLP, unscaled scores plus a caller's relative position bias) or BERT / RoBERTa style (post-norm, erf GELU), optionally
with adaptive norms.

    pre-norm:  x -> x + s * Attn(Norm(x)) -> x + s * MLP(Norm(x))   (x N layers) -> Norm
    post-norm: x -> Norm(x + Attn(x)) -> Norm(x + MLP(x))           (x N layers), no final norm
    s = scale_depth / sqrt(n_layers) with muP (MiniCPM), else 1; token embeddings are multiplied by scale_emb with muP.
    Adaptive norm (VALL-E's NAR): Norm(x) = w * LayerNorm(x) + b, (w, b) = project(cond), cond one vector per item.
    MLP: gated down(act(gate x) * up x) (SwiGLU, T5's gated-gelu) or plain down(act(up x)).

The same stack serves a causal LM with a KV cache (``forward(x, pos, past) -> (h, present)``, the cache a flat tuple
``(k_0, v_0, k_1, v_1, ...)`` of ``(B, Hkv, L, Dh)`` tensors; ``present`` holds the new positions only, see
``blocks/attention.py``) and a bidirectional encoder over a short sequence (``causal=False``, no cache: VoxCPM's LocEnc
and LocDiT; T5's and CLAP's text encoders, whose attention ``mask`` is a float bias / padding pattern). Parameter names
follow the Llama / MiniCPM layout (``layers.N.self_attn.q_proj``, ``mlp.gate_proj``, ``input_layernorm``,
``post_attention_layernorm``, ``norm``, ``embed_tokens``); post-norm layers name their norms by what they follow
(``post_attention_layernorm``, ``post_feedforward_layernorm``).

Cross-attention (``cross_attention=True``, pre-norm only: an encoder-decoder's decoder): each layer gains a block
``x -> x + s * CrossAttn(Norm(x), K_ctx, V_ctx)`` between self-attention and MLP (``cross_attn``,
``cross_attention_layernorm``). Keys / values of the context (an encoder's output) are projected once per sequence
(``Transformer.cross_kv``: flat ``(k_0, v_0, ...)`` of (B, H, S, Dh)) and passed to every call as ``context_kv``, so a
decoding step never recomputes them. Without the option nothing changes (no module, no parameter, same graph).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import Attention, Rope, RotaryEmbedding

KV = tuple[torch.Tensor, ...]  # (k_0, v_0, k_1, v_1, ...), each (B, Hkv, L, Dh)


@dataclass
class TransformerConfig:
    dim: int
    ffn_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int | None = None  # None: dim // n_heads (MiniCPM's kv_channels overrides it)
    vocab_size: int = 0  # 0: no token embedding (the stack reads embeddings)
    norm_eps: float = 1e-5
    causal: bool = True
    use_rope: bool = True
    rope_theta: float = 10000.0
    rope_factors: tuple[float, ...] | None = None  # LongRoPE per-frequency divisors (see attention.longrope_scaling)
    rope_mscale: float = 1.0  # LongRoPE cos / sin magnitude
    use_mup: bool = False  # MiniCPM muP: residual branches * scale_depth / sqrt(n_layers), embeddings * scale_emb
    scale_depth: float = 1.0
    scale_emb: float = 1.0
    norm: str = "rms"  # "rms" (MiniCPM, T5) | "layer" (LayerNorm with bias, VALL-E, GPT-2, RoBERTa)
    mlp: str = "swiglu"  # a key of MLP_KINDS
    bias: bool = False  # biases on the attention and MLP projections
    qkv_bias: bool | None = None  # biases on q / k / v only (Qwen2: True with bias False); None: as ``bias``
    adaptive_norm: bool = False  # every norm modulated by a conditioning vector (``cond``)
    norm_position: str = "pre"  # "pre" (norm before each block, final norm) | "post" (after each residual, BERT)
    attn_scale: float | None = None  # score scale; None: 1/sqrt(head_dim). T5: 1.0 (folded into its weights)
    cross_attention: bool = False  # a cross-attention block per layer over a context (encoder-decoder)
    context_dim: int | None = None  # width of that context; None: dim

    def __post_init__(self):
        if self.norm not in ("rms", "layer"):
            raise ValueError(f"norm must be 'rms' or 'layer', got {self.norm!r}")
        if self.mlp not in MLP_KINDS:
            raise ValueError(f"mlp must be one of {sorted(MLP_KINDS)}, got {self.mlp!r}")
        if self.norm_position not in ("pre", "post"):
            raise ValueError(f"norm_position must be 'pre' or 'post', got {self.norm_position!r}")
        if self.rope_factors is not None:
            self.rope_factors = tuple(float(f) for f in self.rope_factors)
        if self.cross_attention and self.norm_position != "pre":
            raise ValueError("cross_attention needs norm_position 'pre'")

    @property
    def kv_head_dim(self) -> int:
        return self.head_dim or self.dim // self.n_heads

    @property
    def residual_scale(self) -> float:
        return self.scale_depth / math.sqrt(self.n_layers) if self.use_mup else 1.0

    @property
    def embed_scale(self) -> float:
        return self.scale_emb if self.use_mup else 1.0


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.to(torch.float32).pow(2).mean(dim=-1, keepdim=True)
        return (x * torch.rsqrt(var + self.eps)).to(x.dtype) * self.weight


def activate(name: str, x: torch.Tensor) -> torch.Tensor:
    """``name`` "gelu" is the exact (erf) GELU (BERT / RoBERTa), "gelu_tanh" its tanh approximation (transformers'
    ``gelu_new``: GPT-2, T5's gated-gelu)."""
    if name == "silu":
        return F.silu(x)
    if name == "relu":
        return F.relu(x)
    if name == "gelu":
        return F.gelu(x)
    if name == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    raise ValueError(f"unknown activation {name!r}")


# TransformerConfig.mlp -> (gated, activation)
MLP_KINDS = {
    "swiglu": (True, "silu"),  # MiniCPM
    "gated_gelu_tanh": (True, "gelu_tanh"),  # T5 v1.1 / flan-T5 "gated-gelu": wo(gelu_new(wi_0 x) * wi_1 x)
    "relu": (False, "relu"),  # VALL-E, T5 v1.0
    "gelu": (False, "gelu"),  # BERT / RoBERTa
    "gelu_tanh": (False, "gelu_tanh"),  # GPT-2
}


class GatedMLP(nn.Module):
    """down(act(gate x) * up x): SwiGLU with SiLU, T5's gated-gelu with tanh GELU."""

    def __init__(self, dim: int, hidden: int, bias: bool = False, activation: str = "silu"):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=bias)
        self.up_proj = nn.Linear(dim, hidden, bias=bias)
        self.down_proj = nn.Linear(hidden, dim, bias=bias)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(activate(self.activation, self.gate_proj(x)) * self.up_proj(x))


class PlainMLP(nn.Module):
    """up -> activation -> down: ReLU (VALL-E, T5 v1.0), GELU (RoBERTa) or tanh GELU (GPT-2's ``gelu_new``)."""

    def __init__(self, dim: int, hidden: int, bias: bool = True, activation: str = "relu"):
        super().__init__()
        self.up_proj = nn.Linear(dim, hidden, bias=bias)
        self.down_proj = nn.Linear(hidden, dim, bias=bias)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(activate(self.activation, self.up_proj(x)))


def make_mlp(cfg: TransformerConfig) -> nn.Module:
    gated, activation = MLP_KINDS[cfg.mlp]
    return (GatedMLP if gated else PlainMLP)(cfg.dim, cfg.ffn_dim, cfg.bias, activation)


class AdaptiveNorm(nn.Module):
    """``w * norm(x) + b`` with ``(w, b) = project(cond)``: a norm whose scale and shift come from a condition."""

    def __init__(self, dim: int, norm: nn.Module):
        super().__init__()
        self.norm = norm
        self.project = nn.Linear(dim, 2 * dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:  # x (B, T, C), cond (B, C)
        w, b = self.project(cond)[:, None].chunk(2, dim=-1)
        return w * self.norm(x) + b


def make_norm(cfg: TransformerConfig) -> nn.Module:
    norm = RMSNorm(cfg.dim, cfg.norm_eps) if cfg.norm == "rms" else nn.LayerNorm(cfg.dim, eps=cfg.norm_eps)
    return AdaptiveNorm(cfg.dim, norm) if cfg.adaptive_norm else norm


def _normed(norm: nn.Module, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    if isinstance(norm, AdaptiveNorm):
        if cond is None:
            raise ValueError("this transformer has adaptive norms: pass cond")
        return norm(x, cond)
    return norm(x)


class CrossAttention(nn.Module):
    """Multi-head attention of x over a context whose keys / values are projected beforehand (``kv``): a decoding
    step attends precomputed (B, H, S, Dh) tensors. No positions (the context carries its own), no causality."""

    def __init__(self, dim: int, n_heads: int, head_dim: int, context_dim: int, bias: bool,
                 scale: float | None = None):
        super().__init__()
        self.n_heads, self.head_dim, self.scale = n_heads, head_dim, scale
        self.q_proj = nn.Linear(dim, n_heads * head_dim, bias=bias)
        self.k_proj = nn.Linear(context_dim, n_heads * head_dim, bias=bias)
        self.v_proj = nn.Linear(context_dim, n_heads * head_dim, bias=bias)
        self.o_proj = nn.Linear(n_heads * head_dim, dim, bias=bias)

    def kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (B, S, D) -> 2 x (B, H, S, Dh)
        B, S, _ = context.shape
        k = self.k_proj(context).view(B, S, self.n_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(context).view(B, S, self.n_heads, self.head_dim).transpose(1, 2)
        return k, v

    def forward(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C) over k, v (B, H, S, Dh); ``mask`` boolean (True = attend) or float bias, broadcastable to
        (B, H, T, S) (a padded context: (B, 1, 1, S))."""
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.post_norm = cfg.norm_position == "post"
        if not self.post_norm:
            self.input_layernorm = make_norm(cfg)
        self.self_attn = Attention(cfg.dim, cfg.n_heads, cfg.n_kv_heads, cfg.kv_head_dim, causal=cfg.causal,
                                   bias=cfg.bias, scale=cfg.attn_scale, qkv_bias=cfg.qkv_bias)
        self.post_attention_layernorm = make_norm(cfg)
        self.cross_attn = None
        if cfg.cross_attention:
            self.cross_attention_layernorm = make_norm(cfg)
            self.cross_attn = CrossAttention(cfg.dim, cfg.n_heads, cfg.kv_head_dim, cfg.context_dim or cfg.dim,
                                             cfg.bias, cfg.attn_scale)
        self.mlp = make_mlp(cfg)
        if self.post_norm:
            self.post_feedforward_layernorm = make_norm(cfg)
        self.residual_scale = cfg.residual_scale

    def _blocks(self, x: torch.Tensor, attend, cond: torch.Tensor | None, context_kv=None,
                context_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The attention (``attend``: normed or raw x -> (h, k, v)), cross-attention (``context_kv``: this layer's
        (k, v), cross-attention layers only) and MLP residual blocks, pre- or post-norm."""
        s = self.residual_scale
        if (context_kv is not None) != (self.cross_attn is not None):
            raise ValueError("pass context_kv exactly when the transformer has cross_attention")
        if self.post_norm:
            h, k, v = attend(x)
            x = _normed(self.post_attention_layernorm, x + h * s, cond)
            return _normed(self.post_feedforward_layernorm, x + self.mlp(x) * s, cond), k, v
        h, k, v = attend(_normed(self.input_layernorm, x, cond))
        x = x + h * s
        if self.cross_attn is not None:
            x = x + self.cross_attn(_normed(self.cross_attention_layernorm, x, cond), *context_kv, context_mask) * s
        return x + self.mlp(_normed(self.post_attention_layernorm, x, cond)) * s, k, v

    def cross_kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cross_attn.kv(context)

    def forward(self, x: torch.Tensor, rope: Rope | None = None, past_k: torch.Tensor | None = None,
                past_v: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                cond: torch.Tensor | None = None, context_kv=None,
                context_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self._blocks(x, lambda y: self.self_attn(y, rope, past_k, past_v, mask), cond, context_kv,
                            context_mask)

    def forward_buffer(self, x: torch.Tensor, rope: Rope | None, cache: torch.Tensor, length: torch.Tensor,
                       cond: torch.Tensor | None = None, context_kv=None,
                       context_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``forward`` with the past in a fixed-size buffer (``Attention.forward_buffer``)."""
        return self._blocks(x, lambda y: self.self_attn.forward_buffer(y, rope, cache, length), cond, context_kv,
                            context_mask)


class Transformer(nn.Module):
    """N decoder layers and (pre-norm) a final norm; optional token embedding (``embed``) and rotary positions."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.config = cfg
        if cfg.vocab_size > 0:
            self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_layers))
        # post-norm layers end normed: no final norm
        self.norm = make_norm(cfg) if cfg.norm_position == "pre" else None
        self.rope = (RotaryEmbedding(cfg.kv_head_dim, cfg.rope_theta, cfg.rope_factors, cfg.rope_mscale)
                     if cfg.use_rope else None)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, T) int -> (B, T, C), times scale_emb with muP
        return self.embed_tokens(tokens) * self.config.embed_scale

    def cross_kv(self, context: torch.Tensor) -> KV:
        """Cross-attention layers: the context (B, S, context_dim) -> every layer's keys / values, flat
        ``(k_0, v_0, k_1, v_1, ...)`` of (B, H, S, Dh): computed once, passed as ``context_kv`` to every call."""
        return tuple(t for layer in self.layers for t in layer.cross_kv(context))

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None, past: KV | None = None,
                mask: torch.Tensor | None = None, cond: torch.Tensor | None = None, context_kv: KV | None = None,
                context_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, KV]:
        """x (B, T, C) embeddings; pos (T,) or (B, T) positions, fractional allowed (default: cache length +
        arange(T)); past: flat KV or None; mask: boolean (T, L + T) attention pattern, or a float bias added to the
        scores, either broadcastable to (B, H, T, L + T), replacing the causal / bidirectional pattern
        (``Attention.forward``); cond: (B, C) condition of adaptive norms; context_kv: ``cross_kv``'s tuple
        (cross-attention stacks only), context_mask: boolean (True = attend) or float bias broadcastable to
        (B, H, T, S) over the context (padding).

        Returns the normed hidden states (B, T, C) and the new positions' keys / values (flat, per layer)."""
        T = x.shape[1]
        if pos is None:
            start = 0 if past is None else past[0].shape[2]
            pos = torch.arange(T, device=x.device) + start
        rope = self.rope(pos) if self.rope is not None else None
        present: list[torch.Tensor] = []
        for i, layer in enumerate(self.layers):
            past_k, past_v = (None, None) if past is None else (past[2 * i], past[2 * i + 1])
            x, k, v = layer(x, rope, past_k, past_v, mask, cond, *_layer_context(context_kv, i, context_mask))
            present += [k, v]
        return self._final(x, cond), tuple(present)

    def forward_buffer(self, x: torch.Tensor, length: torch.Tensor, cache: tuple[torch.Tensor, ...],
                       pos: torch.Tensor | None = None, cond: torch.Tensor | None = None,
                       context_kv: KV | None = None, context_mask: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, KV]:
        """``forward`` with the past in fixed-size buffers: ``cache`` one (2, B, Hkv, capacity, Dh) per layer (keys,
        values; ``KVCache.buffer``) of which the first ``length`` (int64, shape (1,)) slots count. x sits at positions
        length .. length+T-1. Returns the normed hidden states and the new positions' keys / values (flat), as
        ``forward(x, past=<the first length slots>)`` does. ``pos``: RoPE positions if not the slots' indices
        ((T,) or (B, T), e.g. rate-scaled audio positions). ``context_kv`` / ``context_mask``: as ``forward``."""
        T = x.shape[1]
        if pos is None:
            pos = torch.arange(T, device=x.device) + length.reshape(-1)[:1]
        rope = self.rope(pos) if self.rope is not None else None
        present: list[torch.Tensor] = []
        for i, (layer, buf) in enumerate(zip(self.layers, cache)):
            x, k, v = layer.forward_buffer(x, rope, buf, length, cond, *_layer_context(context_kv, i, context_mask))
            present += [k, v]
        return self._final(x, cond), tuple(present)

    def _final(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return x if self.norm is None else _normed(self.norm, x, cond)


def _layer_context(context_kv: KV | None, i: int, mask: torch.Tensor | None) -> tuple:
    """Layer i's (context_kv, context_mask) arguments; () without a context, so plain stacks call as before."""
    if context_kv is None:
        return ()
    return (context_kv[2 * i], context_kv[2 * i + 1]), mask


def append_kv(past: KV | None, new: KV) -> KV:
    """The cache after a step: each layer's past and new keys / values concatenated along positions (dim 2)."""
    if past is None:
        return tuple(new)
    return tuple(torch.cat((p, n), dim=2) for p, n in zip(past, new))
