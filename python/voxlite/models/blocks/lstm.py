"""SEANet's skip-LSTM: a unidirectional multi-layer LSTM over conv-layout activations, plus its input.

Used at the bottleneck of the EnCodec / SoundStream encoder and decoder. The LSTM is causal, so the block
streams exactly: ``stream`` carries the (h, c) of every layer between chunks. Parameter names are those of
``nn.LSTM`` (``lstm.weight_ih_l0`` ...), which is also what the official checkpoints store.
"""
from __future__ import annotations

import torch
from torch import nn


class SLSTM(nn.Module):
    def __init__(self, dim: int, num_layers: int = 2, skip: bool = True):
        super().__init__()
        self.dim, self.num_layers, self.skip = dim, num_layers, skip
        self.lstm = nn.LSTM(dim, dim, num_layers)  # time-major, as the official block

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, T)
        y, _ = self.stream(x, self.initial_state(x.shape[0], x))
        return y

    def initial_state(self, batch: int, like: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero (h, c), each (num_layers, B, C): the offline forward starts from rest."""
        kw = {} if like is None else {"dtype": like.dtype, "device": like.device}
        h = torch.zeros(self.num_layers, batch, self.dim, **kw)
        return h, h.clone()

    def stream(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
               ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One chunk (B, C, T) of any length >= 1 -> (output (B, C, T), new (h, c))."""
        seq = x.permute(2, 0, 1)  # (T, B, C)
        y, (h, c) = self.lstm(seq, state)
        if self.skip:
            y = y + seq
        return y.permute(1, 2, 0), (h, c)
