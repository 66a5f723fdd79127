"""Decoder-only unit language model: one causal LM over a joint vocabulary of discrete units, shared by the
semantic-token cascades' stages (Spear-TTS S2, Make-A-Voice S2, MVoice S1).

    ids (B, L) -> E_tok(ids) + E_pos(0..L-1) -> GPT stack (pre-norm LayerNorm with bias, GELU MLP, causal, no RoPE)
               -> final LayerNorm -> linear head (no bias) -> logits over the whole vocabulary (B, L, V)

The model knows nothing of a stage's layout: the caller builds the prefix (e.g. [prompt semantic | target semantic |
prompt acoustic]) and a ``FrameRules`` (``pipelines/unit_rules.py``) saying which ids each generated position may
take. ``generate`` is the reference loop the runtime (``pipelines/unit_lm.py``) reproduces token for token: the
same masking and the same ``sample`` callable for a fixed seed.

Positions are learned and absolute: prefix plus generated tokens fit in ``n_ctx`` (the last generated token is never
fed back), so a prefix of L ids leaves at most ``n_ctx - L`` tokens, rounded down to whole frames.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
from torch import nn

from ..pipelines.unit_lm import whole_frames  # torch-free: the runtime's caps are the reference's
from ..pipelines.unit_rules import rule_tokens  # the runtime's loop
from .blocks.transformer import KV, Transformer, TransformerConfig, append_kv

if TYPE_CHECKING:
    from ..pipelines.unit_rules import FrameRules


@dataclass
class UnitLMConfig:
    n_vocab: int  # the joint vocabulary: every stage's units, separators and end ids
    n_ctx: int  # learned positions: prefix + generated tokens never exceed it
    dim: int
    n_heads: int
    n_layers: int
    ffn_mult: int = 4
    norm_eps: float = 1e-5

    def __post_init__(self):
        for name in ("n_vocab", "n_ctx", "dim", "n_heads", "n_layers", "ffn_mult"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.n_ctx < 2:
            raise ValueError(f"n_ctx must leave room for a prefix and a token, got {self.n_ctx}")
        if self.dim % self.n_heads:
            raise ValueError(f"dim {self.dim} does not split into {self.n_heads} heads")

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def stack(self) -> TransformerConfig:
        return TransformerConfig(dim=self.dim, ffn_dim=self.dim * self.ffn_mult, n_layers=self.n_layers,
                                 n_heads=self.n_heads, n_kv_heads=self.n_heads, vocab_size=self.n_vocab,
                                 norm_eps=self.norm_eps, causal=True, use_rope=False, norm="layer", mlp="gelu",
                                 bias=True)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "UnitLMConfig":
        return cls(**data)

    @classmethod
    def tiny(cls, **overrides) -> "UnitLMConfig":
        """Tests: 32 wide, 2 heads, 2 layers, 120 ids, 256 positions."""
        return cls(**{"n_vocab": 120, "n_ctx": 256, "dim": 32, "n_heads": 2, "n_layers": 2, **overrides})

    @classmethod
    def base(cls, n_vocab: int, n_ctx: int = 4096, **overrides) -> "UnitLMConfig":
        """The working size: 1024 wide, 16 heads (64 per head), 12 layers, FFN 4096 (~150M parameters in the
        stack, plus 2 * n_vocab * 1024 in the embedding and head). ``n_vocab`` is the stage's joint vocabulary;
        ``n_ctx`` must cover the longest prefix plus output (a 3-codebook stage at 50 frames/s uses 150
        positions per second of target audio)."""
        return cls(**{"n_vocab": n_vocab, "n_ctx": n_ctx, "dim": 1024, "n_heads": 16, "n_layers": 12, **overrides})


class UnitLM(nn.Module):
    def __init__(self, config: UnitLMConfig):
        super().__init__()
        c = self.config = config
        self.decoder = Transformer(c.stack())  # owns the token embedding (decoder.embed_tokens) and final norm
        self.embed_positions = nn.Embedding(c.n_ctx, c.dim)
        self.lm_head = nn.Linear(c.dim, c.n_vocab, bias=False)

    def _embed(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """ids (B, T) at positions (T,) -> (B, T, C)."""
        return self.decoder.embed(ids) + self.embed_positions(positions)[None]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: ids (B, L) -> logits (B, L, V), row t predicting the id after position t."""
        h, _ = self.decoder(self._embed(ids, torch.arange(ids.shape[1], device=ids.device)))
        return self.lm_head(h)

    def prefill(self, ids: torch.Tensor) -> tuple[torch.Tensor, KV]:
        """ids (B, L) -> logits after the last position (B, V) and the keys / values of all L positions."""
        h, kv = self.decoder(self._embed(ids, torch.arange(ids.shape[1], device=ids.device)))
        return self.lm_head(h[:, -1]), kv

    def step(self, token: torch.Tensor, position: torch.Tensor, past: KV) -> tuple[torch.Tensor, KV]:
        """One token (B, 1) at ``position`` (1,) after ``past`` -> logits (B, V) and its keys / values."""
        h, kv = self.decoder(self._embed(token, position), past=past)
        return self.lm_head(h[:, -1]), kv

    def step_buffer(self, token: torch.Tensor, position: torch.Tensor, length: torch.Tensor,
                    cache: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, KV]:
        """``step`` with the past in fixed-size buffers (one (2, B, H, capacity, Dh) per layer, the first ``length``
        slots filled): what the exported step graph computes."""
        h, kv = self.decoder.forward_buffer(self._embed(token, position), length, cache)
        return self.lm_head(h[:, -1]), kv

    @torch.no_grad()
    def generate(self, prefix: torch.Tensor, rules: "FrameRules", sample: Callable[[np.ndarray, int], int], *,
                 max_length: int | None = None) -> list[int]:
        """The reference loop: prefix (L,) int64 -> the generated ids (end id not included). Token i is
        ``sample(rules.masked(logits, i), i)``. Stops at the end id, after ``rules.max_tokens`` tokens, after
        ``max_length`` tokens, or when the prefix and output fill ``n_ctx``; the last two caps are rounded down
        to whole frames of ``rules.k`` tokens (a cut frame would not decode), as the runtime does."""
        L = int(prefix.shape[0])
        cap = whole_frames(min(rules.max_tokens, self.config.n_ctx - L,
                               max_length if max_length is not None else rules.max_tokens), rules.k)
        if cap < 1:
            return []

        def prefill():
            logits, kv = self.prefill(prefix.reshape(1, L).to(torch.long))
            return {"logits": logits.numpy(), "kv": kv}

        def step(state, token, i):
            logits, new = self.step(torch.tensor([[token]]), torch.tensor([L + i]), state["kv"])
            return {"logits": logits.numpy(), "kv": append_kv(state["kv"], new)}

        return list(rule_tokens(prefill, step, rules, sample, cap))
