"""The Qwen2 / Qwen2.5 decoder as a configuration of the shared transformer stack (``blocks.transformer``):
RMSNorm, grouped-query attention with RoPE, biases on q / k / v only, SwiGLU. Field names are transformers'
``Qwen2Config``'s, so a checkpoint's ``text_config`` reads as it is (``from_transformers``); the layer weights
need no renaming (``embed_tokens``, ``layers.N.self_attn.q_proj`` ..., ``norm``)."""
from __future__ import annotations

from dataclasses import dataclass, fields

from .transformer import TransformerConfig


@dataclass
class Qwen2Config:
    hidden_size: int = 896  # Qwen2-0.5B
    intermediate_size: int = 4864
    num_hidden_layers: int = 24
    num_attention_heads: int = 14
    num_key_value_heads: int = 2
    vocab_size: int = 151936
    rope_theta: float = 1e6
    rms_norm_eps: float = 1e-6
    head_dim: int | None = None  # None: hidden_size // num_attention_heads
    tie_word_embeddings: bool = False  # the LM head is the embedding table (Qwen2-0.5B, Qwen2.5-1.5B)

    def transformer_config(self) -> TransformerConfig:
        return TransformerConfig(dim=self.hidden_size, ffn_dim=self.intermediate_size,
                                 n_layers=self.num_hidden_layers, n_heads=self.num_attention_heads,
                                 n_kv_heads=self.num_key_value_heads, head_dim=self.head_dim,
                                 vocab_size=self.vocab_size, norm_eps=self.rms_norm_eps, causal=True,
                                 rope_theta=self.rope_theta, qkv_bias=True)

    @classmethod
    def from_transformers(cls, config: dict) -> "Qwen2Config":
        """A transformers ``Qwen2Config.to_dict()`` (RoPE theta at the top, or under ``rope_parameters`` as
        transformers 5 writes it); keys that do not shape the network are ignored."""
        c = dict(config)
        theta = c.get("rope_theta") or (c.get("rope_parameters") or {}).get("rope_theta", cls.rope_theta)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in c.items() if k in known and v is not None}
        values["rope_theta"] = float(theta)
        values.setdefault("num_key_value_heads", values.get("num_attention_heads", cls.num_attention_heads))
        return cls(**values)
