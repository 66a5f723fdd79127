"""AudioLDM 2's projection model: the two text encoders' sequences mapped to the language model's width, each framed by
learned start / end vectors, then concatenated (the GPT-2 prompt).

    CLAP (B, S0, D0) -> Linear -> [sos ; . ; eos]      T5 or VITS (B, S1, D1) (+ learned positions for VITS)
        -> Linear -> [sos_1 ; . ; eos_1]      ->  concat  (B, S0 + 2 + S1 + 2, D_lm), and the masks likewise

Parameter names follow diffusers' ``AudioLDM2ProjectionModel`` (a checkpoint's ``projection_model`` folder loads
as is).
"""
from __future__ import annotations

import torch
from torch import nn


def _framed(x: torch.Tensor, mask: torch.Tensor | None, sos: torch.Tensor, eos: torch.Tensor):
    b = x.shape[0]
    x = torch.cat((sos.expand(b, 1, -1), x, eos.expand(b, 1, -1)), dim=1)
    if mask is not None:
        one = mask.new_ones((b, 1))
        mask = torch.cat((one, mask, one), dim=-1)
    return x, mask


class AudioLDM2Projection(nn.Module):
    def __init__(self, text_encoder_dim: int, text_encoder_1_dim: int, language_model_dim: int,
                 learned_positions: int | None = None):
        """``learned_positions``: the VITS (speech) variant's max sequence length, whose learned positional
        embedding is added to the second encoder's states; None for T5."""
        super().__init__()
        self.projection = nn.Linear(text_encoder_dim, language_model_dim)
        self.projection_1 = nn.Linear(text_encoder_1_dim, language_model_dim)
        self.sos_embed = nn.Parameter(torch.ones(language_model_dim))
        self.eos_embed = nn.Parameter(torch.ones(language_model_dim))
        self.sos_embed_1 = nn.Parameter(torch.ones(language_model_dim))
        self.eos_embed_1 = nn.Parameter(torch.ones(language_model_dim))
        if learned_positions is not None:
            self.learnable_positional_embedding = nn.Parameter(torch.zeros(1, text_encoder_1_dim, learned_positions))
        self.learned_positions = learned_positions

    def forward(self, hidden: torch.Tensor, hidden_1: torch.Tensor, mask: torch.Tensor | None = None,
                mask_1: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, S0, D0), (B, S1, D1), optional (B, S0) / (B, S1) masks -> (B, S0 + S1 + 4, D_lm) and its mask (None
        when neither mask is given; a missing one counts as all ones)."""
        x, mask = _framed(self.projection(hidden), mask, self.sos_embed, self.eos_embed)
        if self.learned_positions is not None:
            hidden_1 = hidden_1 + self.learnable_positional_embedding[..., :hidden_1.shape[1]].transpose(1, 2)
        x_1, mask_1 = _framed(self.projection_1(hidden_1), mask_1, self.sos_embed_1, self.eos_embed_1)
        if mask is None and mask_1 is None:
            return torch.cat((x, x_1), dim=1), None
        if mask is None:
            mask = mask_1.new_ones(x.shape[:2])
        if mask_1 is None:
            mask_1 = mask.new_ones(x_1.shape[:2])
        return torch.cat((x, x_1), dim=1), torch.cat((mask, mask_1), dim=-1)
