"""GPT-2 as AudioLDM 2 uses it: a causal stack over input *embeddings* (no token table is read) that generates the
"language of audio" (LOA) vectors by feeding each new last hidden state back as the next input.

    h_0 = inputs_embeds + wpe[positions]  ->  pre-norm GPT layers (LayerNorm, biases, GELU-tanh MLP, no RoPE)
    -> ln_f  ->  hidden states;   LOA: repeat n times: append the last position's hidden state to the inputs

The stack is the shared transformer block (``blocks.transformer``, GPT form); the KV cache is its flat tuple.
Parameter names are ours; ``convert/gpt2.py`` maps Hugging Face's GPT2Model / GPT2LMHeadModel keys.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .blocks.transformer import KV, Transformer, TransformerConfig, append_kv


@dataclass
class GPT2Config:
    dim: int = 768
    n_layers: int = 12
    n_heads: int = 12
    n_positions: int = 1024
    ffn_dim: int | None = None  # None: 4 * dim (GPT-2's n_inner)
    norm_eps: float = 1e-5

    def stack(self) -> TransformerConfig:
        return TransformerConfig(dim=self.dim, ffn_dim=self.ffn_dim or 4 * self.dim, n_layers=self.n_layers,
                                 n_heads=self.n_heads, n_kv_heads=self.n_heads, norm_eps=self.norm_eps, causal=True,
                                 use_rope=False, norm="layer", mlp="gelu_tanh", bias=True)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def audioldm2(cls) -> "GPT2Config":
        """AudioLDM 2's language model (cvssp/audioldm2, -large, -music): GPT-2 base sizes."""
        return cls()

    @classmethod
    def tiny(cls, **overrides) -> "GPT2Config":
        return cls(**{"dim": 32, "n_layers": 2, "n_heads": 4, "n_positions": 64, **overrides})


class GPT2(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.config = config
        self.wpe = nn.Embedding(config.n_positions, config.dim)
        self.decoder = Transformer(config.stack())

    def forward(self, inputs_embeds: torch.Tensor, past: KV | None = None,
                attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, KV]:
        """inputs_embeds (B, T, C) at positions L .. L+T-1 after ``past`` (L cached) -> (ln_f'd hidden states,
        the new positions' keys / values). ``attention_mask`` (B, L + T) 1 / 0: keys at 0 are never attended
        (AudioLDM 2's padded T5 part); positions still count them, as transformers' GPT-2 does (its positions
        come from the cache position, not the mask)."""
        T = inputs_embeds.shape[1]
        start = 0 if past is None else past[0].shape[2]
        positions = torch.arange(T, device=inputs_embeds.device) + start
        mask = None
        if attention_mask is not None:
            n_keys = start + T
            causal = torch.arange(n_keys, device=inputs_embeds.device)[None, :] <= positions[:, None]  # (T, L + T)
            mask = causal[None, None] & attention_mask[:, None, None, :].bool()  # (B, 1, T, L + T)
        return self.decoder(inputs_embeds + self.wpe(positions), past=past, mask=mask)

    def forward_buffer(self, inputs_embeds: torch.Tensor, length: torch.Tensor, cache: tuple[torch.Tensor, ...],
                       position: torch.Tensor | None = None) -> tuple[torch.Tensor, KV]:
        """``forward`` with the past in fixed-size buffers (the exported step's contract). ``position`` (1,) int64:
        the first new position when it differs from ``length`` (a cache compacted by dropping masked keys, whose
        positions still count)."""
        first = (length if position is None else position).reshape(-1)[:1]
        positions = torch.arange(inputs_embeds.shape[1], device=inputs_embeds.device) + first
        return self.decoder.forward_buffer(inputs_embeds + self.wpe(positions), length, cache)

    @torch.no_grad()
    def generate_loa(self, inputs_embeds: torch.Tensor, n: int = 8,
                     attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """AudioLDM 2's ``generate_language_model``: ``n`` new vectors, each the last hidden state fed back as the
        next input; ``attention_mask`` (B, T) masks prompt positions (new ones are always attended). Returns
        (B, n, C)."""
        hidden, kv = self(inputs_embeds, attention_mask=attention_mask)
        out = [hidden[:, -1:]]
        mask = attention_mask
        for _ in range(n - 1):
            if mask is not None:
                mask = torch.cat((mask, mask.new_ones(mask.shape[0], 1)), dim=1)
            hidden, new = self(out[-1], past=kv, attention_mask=mask)
            kv = append_kv(kv, new)
            out.append(hidden[:, -1:])
        return torch.cat(out, dim=1)
