"""Activations shared by the codecs and vocoders."""
from __future__ import annotations

import torch
from torch import nn


class Snake(nn.Module):
    """Snake: x + 1/(beta + eps) * sin(alpha * x)^2, per channel (Ziyin et al. 2020).

    DAC / VoxCPM AudioVAE: ``Snake(C)`` (beta = alpha, eps 1e-9). BigVGAN: ``Snake(C, logscale=True)`` stores
    log-alpha; SnakeBeta is ``separate_beta=True``. Parameters are shaped (1, C, 1) like DAC's so state dicts
    convert by name and reshape only.
    """

    def __init__(self, channels: int, *, separate_beta: bool = False, logscale: bool = False, eps: float = 1e-9):
        super().__init__()
        init = torch.zeros if logscale else torch.ones
        self.alpha = nn.Parameter(init(1, channels, 1))
        self.beta = nn.Parameter(init(1, channels, 1)) if separate_beta else None
        self.logscale = logscale
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        alpha = self.alpha.exp() if self.logscale else self.alpha
        beta = alpha if self.beta is None else (self.beta.exp() if self.logscale else self.beta)
        return x + (beta + self.eps).reciprocal() * torch.sin(alpha * x).pow(2)
