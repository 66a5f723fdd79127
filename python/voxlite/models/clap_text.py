"""CLAP's text tower as AudioLDM 2 uses it (its ``text_encoder``, laion/clap-htsat-unfused: RoBERTa-base plus a
projection): one unit vector per prompt, what transformers' ``ClapModel.get_text_features`` returns.

    ids (B, T) -> word + position + token-type-0 embeddings -> LayerNorm
    -> N post-norm layers (x = LN(x + Attn(x)); x = LN(x + MLP(x)); biases, erf GELU; padded keys masked)
    -> pooler: tanh(Linear(h[:, 0]))  (the first token, <s>)
    -> projection: Linear -> ReLU -> Linear -> L2-normalised   (B, projection_dim)

Positions are RoBERTa's, padding-aware: pad_id + (running count of non-pad tokens) at real tokens, pad_id at pad
tokens (so they follow the ids, not the attention mask). The layers are the shared transformer block
(``blocks.transformer``, post-norm); ``convert/clap_text.py`` maps Hugging Face's ClapModel text keys.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .blocks.transformer import Transformer, TransformerConfig, activate

# transformers' activation names -> ours (blocks.transformer.activate)
_ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
                "silu": "silu"}


@dataclass
class ClapTextConfig:
    vocab: int = 50265
    dim: int = 768
    n_layers: int = 12
    n_heads: int = 12
    ffn: int = 3072
    max_positions: int = 514
    type_vocab: int = 1
    projection_dim: int = 512
    pad_id: int = 1
    eps: float = 1e-12
    hidden_act: str = "gelu"  # transformers' names
    projection_act: str = "relu"

    def __post_init__(self):
        for name in (self.hidden_act, self.projection_act):
            if name not in _ACTIVATIONS:
                raise ValueError(f"activation {name!r} is not supported ({sorted(_ACTIVATIONS)})")

    def stack(self) -> TransformerConfig:
        return TransformerConfig(dim=self.dim, ffn_dim=self.ffn, n_layers=self.n_layers, n_heads=self.n_heads,
                                 n_kv_heads=self.n_heads, norm_eps=self.eps, causal=False, use_rope=False,
                                 norm="layer", mlp=_ACTIVATIONS[self.hidden_act], bias=True, norm_position="post")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_transformers(cls, config: Mapping[str, Any]) -> "ClapTextConfig":
        """A transformers ClapConfig (its config.json, parsed): ``text_config`` plus the top-level projection settings,
        which ClapConfig copies over the text config's; or a ClapTextConfig dict alone (ClapTextModelWithProjection).
        Keys left out take ClapTextConfig's defaults."""
        d, text = cls(), config.get("text_config") or config
        return cls(vocab=text.get("vocab_size", d.vocab), dim=text.get("hidden_size", d.dim),
                   n_layers=text.get("num_hidden_layers", d.n_layers),
                   n_heads=text.get("num_attention_heads", d.n_heads), ffn=text.get("intermediate_size", d.ffn),
                   max_positions=text.get("max_position_embeddings", d.max_positions),
                   type_vocab=text.get("type_vocab_size", d.type_vocab),
                   projection_dim=config.get("projection_dim", text.get("projection_dim", d.projection_dim)),
                   pad_id=text.get("pad_token_id", d.pad_id), eps=text.get("layer_norm_eps", d.eps),
                   hidden_act=text.get("hidden_act", d.hidden_act),
                   projection_act=config.get("projection_hidden_act",
                                             text.get("projection_hidden_act", d.projection_act)))

    @classmethod
    def audioldm2(cls) -> "ClapTextConfig":
        """laion/clap-htsat-unfused's text tower (cvssp/audioldm2, -large, -music ``text_encoder``): RoBERTa-base,
        512-wide projection; transformers' ClapTextConfig defaults."""
        return cls()

    @classmethod
    def tiny(cls, **overrides) -> "ClapTextConfig":
        return cls(**{"vocab": 99, "dim": 32, "n_layers": 2, "n_heads": 4, "ffn": 37, "max_positions": 64,
                      "projection_dim": 24, **overrides})


def roberta_positions(input_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, T) position ids: pad_id + 1, pad_id + 2, ... over the non-pad tokens, pad_id at pad tokens."""
    real = (input_ids != pad_id).to(torch.long)
    return torch.cumsum(real, dim=1) * real + pad_id


class TextProjection(nn.Module):
    """linear2(act(linear1(x))): CLAP's projection into the shared audio-text space."""

    def __init__(self, dim: int, projection_dim: int, activation: str):
        super().__init__()
        self.linear1 = nn.Linear(dim, projection_dim)
        self.linear2 = nn.Linear(projection_dim, projection_dim)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(activate(self.activation, self.linear1(x)))


class ClapTextEncoder(nn.Module):
    def __init__(self, config: ClapTextConfig):
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab, config.dim)
        self.position_embeddings = nn.Embedding(config.max_positions, config.dim)
        self.token_type_embeddings = nn.Embedding(config.type_vocab, config.dim)  # only row 0 is ever read
        self.embedding_norm = nn.LayerNorm(config.dim, eps=config.eps)
        self.encoder = Transformer(config.stack())
        self.pooler = nn.Linear(config.dim, config.dim)
        self.projection = TextProjection(config.dim, config.projection_dim, _ACTIVATIONS[config.projection_act])

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) ids, (B, T) mask (1 = token) or None -> the last layer's hidden states (B, T, dim)."""
        x = (self.word_embeddings(input_ids) + self.token_type_embeddings.weight[0]
             + self.position_embeddings(roberta_positions(input_ids, self.config.pad_id)))
        keys = None if attention_mask is None else (attention_mask != 0)[:, None, None, :]  # (B, 1, 1, T)
        hidden, _ = self.encoder(self.embedding_norm(x), mask=keys)
        return hidden

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """-> (B, projection_dim) unit vectors (``ClapModel.get_text_features(...).pooler_output``)."""
        pooled = torch.tanh(self.pooler(self.hidden_states(input_ids, attention_mask)[:, 0]))
        return F.normalize(self.projection(pooled), dim=-1)
