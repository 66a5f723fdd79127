"""Unit seq2seq: an encoder-decoder transformer from phoneme / character ids to semantic unit ids (stage S1 of the
semantic-token cascades: Spear-TTS's text -> semantic units, Make-A-Voice's phones -> units, which for singing reads
frame-level phone ids and must emit exactly one unit per input frame).

    src ids (B, S) -> E_src + P_src(0..S-1) -> bidirectional encoder (N_enc layers) -> LayerNorm -> H (B, S, C)
    tgt ids [BOS, u_1, ..] -> E_tgt + P_tgt(0..) -> causal decoder (N_dec layers of self-attn, cross-attn over H,
    MLP) -> LayerNorm -> linear -> logits over n_units + 2 ids (units 0..n_units-1, BOS = n_units, EOS = n_units + 1)

Both stacks are pre-norm GPT layers (``blocks.transformer``: LayerNorm with bias, biases, exact GELU MLP, learned
absolute positions, no RoPE). The decoder's cross keys / values come from H once (``encode``), so the exported
step graph takes them as inputs. ``generate`` is the reference loop the torch-free runner
(``pipelines/unit_seq2seq.py``) must match token for token: the stage's ``FrameRules`` mask each row of logits and
``sample(masked, i)`` draws token i.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..pipelines.unit_rules import rule_tokens  # the runtime's loop
from .blocks.transformer import KV, Transformer, TransformerConfig, append_kv


@dataclass
class UnitSeq2SeqConfig:
    n_src_vocab: int
    n_units: int  # unit ids 0..n_units-1; BOS = n_units, EOS = n_units + 1 in the target vocabulary
    n_src_ctx: int  # source positions (learned table)
    n_tgt_ctx: int  # target positions, BOS included
    dim: int = 512
    n_heads: int = 8
    n_enc_layers: int = 6
    n_dec_layers: int = 6
    ffn_mult: int = 4
    norm_eps: float = 1e-5

    def __post_init__(self):
        for name in ("n_src_vocab", "n_units", "n_src_ctx", "n_tgt_ctx", "dim", "n_heads", "n_enc_layers",
                     "n_dec_layers", "ffn_mult"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.dim % self.n_heads:
            raise ValueError(f"dim {self.dim} does not split into {self.n_heads} heads")

    @property
    def bos(self) -> int:
        return self.n_units

    @property
    def eos(self) -> int:
        return self.n_units + 1

    @property
    def n_tgt_vocab(self) -> int:
        return self.n_units + 2

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def stack(self, n_layers: int, decoder: bool) -> TransformerConfig:
        return TransformerConfig(dim=self.dim, ffn_dim=self.dim * self.ffn_mult, n_layers=n_layers,
                                 n_heads=self.n_heads, n_kv_heads=self.n_heads, norm_eps=self.norm_eps,
                                 causal=decoder, use_rope=False, norm="layer", mlp="gelu", bias=True,
                                 cross_attention=decoder)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "UnitSeq2SeqConfig":
        return cls(**data)

    @classmethod
    def base(cls, **overrides) -> "UnitSeq2SeqConfig":
        """A base size (~46M parameters at these vocabularies): 512 wide, 8 heads, 6 + 6 layers, 500 units (k-means
        of HuBERT / w2v-BERT features), 256 source ids, 512 source and 2048 target positions (40 s at 50 units/s).
        The papers publish no checkpoint: a trained model brings its own sizes."""
        return cls(**{"n_src_vocab": 256, "n_units": 500, "n_src_ctx": 512, "n_tgt_ctx": 2048, **overrides})

    @classmethod
    def tiny(cls, **overrides) -> "UnitSeq2SeqConfig":
        return cls(**{"n_src_vocab": 40, "n_units": 24, "n_src_ctx": 48, "n_tgt_ctx": 64, "dim": 32, "n_heads": 2,
                      "n_enc_layers": 2, "n_dec_layers": 2, **overrides})


class UnitSeq2Seq(nn.Module):
    def __init__(self, config: UnitSeq2SeqConfig):
        super().__init__()
        c = self.config = config
        self.src_embedding = nn.Embedding(c.n_src_vocab, c.dim)
        self.src_positions = nn.Embedding(c.n_src_ctx, c.dim)
        self.encoder = Transformer(c.stack(c.n_enc_layers, decoder=False))
        self.tgt_embedding = nn.Embedding(c.n_tgt_vocab, c.dim)
        self.tgt_positions = nn.Embedding(c.n_tgt_ctx, c.dim)
        self.decoder = Transformer(c.stack(c.n_dec_layers, decoder=True))
        self.predict = nn.Linear(c.dim, c.n_tgt_vocab, bias=False)

    def _encoded(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """src (B, S) -> encoder output (B, S, C); ``src_mask`` (B, S) True / 1 = real, 0 = padding."""
        x = self.src_embedding(src) + self.src_positions(torch.arange(src.shape[1], device=src.device))
        mask = None if src_mask is None else src_mask.to(torch.bool)[:, None, None, :]
        return self.encoder(x, mask=mask)[0]

    def _tgt(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return self.tgt_embedding(tokens) + self.tgt_positions(positions)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: src (B, S), tgt_in (B, T) (BOS first) -> logits (B, T, n_units + 2) of the next id after
        each target position. ``src_mask`` (B, S): 1 = real, 0 = padding (masked in encoder and cross-attention)."""
        context = self.decoder.cross_kv(self._encoded(src, src_mask))
        x = self._tgt(tgt_in, torch.arange(tgt_in.shape[1], device=tgt_in.device))
        mask = None if src_mask is None else src_mask.to(torch.bool)[:, None, None, :]
        return self.predict(self.decoder(x, context_kv=context, context_mask=mask)[0])

    def encode(self, src: torch.Tensor) -> KV:
        """src (1, S) -> the decoder's cross keys / values ``(k_0, v_0, k_1, v_1, ...)``, each (1, H, S, Dh)."""
        return self.decoder.cross_kv(self._encoded(src))

    def step(self, token: torch.Tensor, position: torch.Tensor, past: KV | None, cross: KV
             ) -> tuple[torch.Tensor, KV]:
        """token (1, 1) at ``position`` (1,) after ``past`` (flat KV or None) -> logits (1, V) and its keys / values."""
        h, kv = self.decoder(self._tgt(token, position), past=past, context_kv=cross)
        return self.predict(h[:, -1]), kv

    def step_buffer(self, token: torch.Tensor, position: torch.Tensor, length: torch.Tensor,
                    cache: tuple[torch.Tensor, ...], cross: KV) -> tuple[torch.Tensor, KV]:
        """``step`` with the past in fixed-size buffers (one (2, 1, H, capacity, Dh) per layer, ``length`` slots
        filled): what the exported step graph computes. Returns logits (1, V) and ``present`` (the new position's
        keys / values, flat)."""
        h, kv = self.decoder.forward_buffer(self._tgt(token, position), length, cache, context_kv=cross)
        return self.predict(h[:, -1]), kv

    @torch.no_grad()
    def generate(self, src: torch.Tensor, rules, sample: Callable[[np.ndarray, int], int]) -> list[int]:
        """src (S,) ids -> generated unit ids (EOS not kept). ``rules``: a ``FrameRules`` (its ``masked`` row i goes to
        ``sample(masked (1, V) float32, i) -> token``); stops at ``rules.ends``, after ``rules.max_tokens`` tokens or
        when the target positions run out (``n_tgt_ctx`` tokens: BOS and all but the last are fed)."""
        c = self.config
        cross = self.encode(src.reshape(1, -1).long())
        limit = min(rules.max_tokens, c.n_tgt_ctx)

        def prefill():
            logits, kv = self.step(torch.tensor([[c.bos]]), torch.tensor([0]), None, cross)
            return {"logits": logits.numpy(), "kv": kv}

        def step(state, token, i):
            logits, new = self.step(torch.tensor([[token]]), torch.tensor([i + 1]), state["kv"], cross)
            return {"logits": logits.numpy(), "kv": append_kv(state["kv"], new)}

        return list(rule_tokens(prefill, step, rules, sample, limit))
