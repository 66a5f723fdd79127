"""T5's encoder as AudioLDM 2 uses it (flan-t5-large: its ``text_encoder_2``, whose ``last_hidden_state`` and attention
mask feed the projection model).

    ids (B, T) -> embed_tokens -> N pre-norm layers (RMSNorm, scores q.k unscaled + relative position bias,
    gated-GELU or ReLU MLP, no biases) -> RMSNorm -> (B, T, dim)

    bias[h, i, j] = table[bucket(j - i), h]: one (num_buckets, H) table (the first layer's in Hugging Face's layout)
    shared by every layer; padded keys (attention_mask 0) get a large negative instead.
    bucket(r) (bidirectional): half the buckets per sign (r > 0 in the upper half); |r| < n/4 (n = buckets per sign)
    exactly, larger |r| logarithmically up to max_distance, beyond it the last bucket.

The buckets come from a small table over |r| = 0 .. max_distance + 1 built once from the config with T5's float32
formula, then gathered per pair: exact (no float log at run time, so ONNX Runtime agrees bit for bit on the bucket
edges), loop-free and any T. The layers are the shared transformer block (``blocks.transformer``) with
``attn_scale=1.0``; ``convert/t5.py`` maps Hugging Face's T5EncoderModel keys.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
from torch import nn

from .blocks.transformer import Transformer, TransformerConfig

# T5's feed_forward_proj -> the shared block's MLP kind ("gated-gelu" means the tanh GELU, transformers' gelu_new)
_MLP_OF = {"gated-gelu": "gated_gelu_tanh", "relu": "relu", "gelu": "gelu", "gelu_new": "gelu_tanh",
           "gated-gelu_new": "gated_gelu_tanh", "gated-silu": "swiglu"}


@dataclass
class T5EncoderConfig:
    vocab: int = 32128
    dim: int = 512
    d_kv: int = 64
    n_heads: int = 8
    ffn: int = 2048
    n_layers: int = 6
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    feed_forward_proj: str = "relu"
    eps: float = 1e-6

    def __post_init__(self):
        if self.feed_forward_proj not in _MLP_OF:
            raise ValueError(f"feed_forward_proj {self.feed_forward_proj!r} is not supported ({sorted(_MLP_OF)})")

    def stack(self) -> TransformerConfig:
        return TransformerConfig(dim=self.dim, ffn_dim=self.ffn, n_layers=self.n_layers, n_heads=self.n_heads,
                                 n_kv_heads=self.n_heads, head_dim=self.d_kv, vocab_size=self.vocab, norm_eps=self.eps,
                                 causal=False, use_rope=False, norm="rms", mlp=_MLP_OF[self.feed_forward_proj],
                                 bias=False, attn_scale=1.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_transformers(cls, config: Mapping[str, Any]) -> "T5EncoderConfig":
        """A transformers T5Config (its config.json, parsed); keys it leaves out take T5Config's defaults."""
        d = cls()
        return cls(vocab=config.get("vocab_size", d.vocab), dim=config.get("d_model", d.dim),
                   d_kv=config.get("d_kv", d.d_kv), n_heads=config.get("num_heads", d.n_heads),
                   ffn=config.get("d_ff", d.ffn), n_layers=config.get("num_layers", d.n_layers),
                   relative_attention_num_buckets=config.get("relative_attention_num_buckets",
                                                             d.relative_attention_num_buckets),
                   relative_attention_max_distance=config.get("relative_attention_max_distance",
                                                              d.relative_attention_max_distance),
                   feed_forward_proj=config.get("feed_forward_proj", d.feed_forward_proj),
                   eps=config.get("layer_norm_epsilon", d.eps))

    @classmethod
    def flan_t5_large(cls) -> "T5EncoderConfig":
        """google/flan-t5-large (AudioLDM 2's ``text_encoder_2`` in cvssp/audioldm2, -large, -music)."""
        return cls(vocab=32128, dim=1024, d_kv=64, n_heads=16, ffn=2816, n_layers=24,
                   relative_attention_num_buckets=32, relative_attention_max_distance=128,
                   feed_forward_proj="gated-gelu", eps=1e-6)

    @classmethod
    def tiny(cls, **overrides) -> "T5EncoderConfig":
        return cls(**{"vocab": 99, "dim": 32, "d_kv": 8, "n_heads": 4, "ffn": 37, "n_layers": 2,
                      "feed_forward_proj": "gated-gelu", **overrides})


def distance_buckets(num_buckets: int, max_distance: int) -> torch.Tensor:
    """(max_distance + 2,) int64: the one-sided bucket of |r| = 0 .. max_distance + 1 (every larger |r| shares the
    last entry), with T5's float32 arithmetic so the table equals what T5 computes per pair."""
    exact = num_buckets // 2
    distance = torch.arange(max_distance + 2)
    log_ratio = torch.log(distance.clamp(min=exact).float() / exact) / math.log(max_distance / exact)
    large = (exact + (log_ratio * (num_buckets - exact)).to(torch.long)).clamp(max=num_buckets - 1)
    return torch.where(distance < exact, distance, large)


class T5Encoder(nn.Module):
    def __init__(self, config: T5EncoderConfig):
        super().__init__()
        self.config = config
        self.encoder = Transformer(config.stack())
        self.relative_attention_bias = nn.Embedding(config.relative_attention_num_buckets, config.n_heads)
        # bidirectional: half the buckets for each sign of j - i
        per_sign = config.relative_attention_num_buckets // 2
        self.register_buffer("distance_bucket", distance_buckets(per_sign, config.relative_attention_max_distance),
                             persistent=False)  # derived from the config, never in a checkpoint

    def position_bias(self, T: int | torch.Tensor, device: torch.device) -> torch.Tensor:
        """(1, H, T, T): the relative position bias of query i and key j."""
        pos = torch.arange(T, device=device)
        rel = pos[None, :] - pos[:, None]  # (T, T): key - query
        farthest = self.distance_bucket.shape[0] - 1
        bucket = self.distance_bucket[rel.abs().clamp(max=farthest)]
        bucket = bucket + (rel > 0).to(torch.long) * (self.config.relative_attention_num_buckets // 2)
        return self.relative_attention_bias(bucket).permute(2, 0, 1)[None]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """input_ids (B, T) int64, attention_mask (B, T) (1 = token, 0 = padding) or None -> (B, T, dim)."""
        x = self.encoder.embed(input_ids)
        bias = self.position_bias(input_ids.shape[1], input_ids.device)
        if attention_mask is not None:
            padded = (attention_mask == 0)[:, None, None, :]  # (B, 1, 1, T) over keys
            bias = bias.masked_fill(padded, torch.finfo(x.dtype).min)
        hidden, _ = self.encoder(x, mask=bias)
        return hidden
