"""Scalar quantization bottleneck (VoxCPM's FSQ layer between the TSLM and everything it feeds).

    h (..., C_in) -> in_proj -> tanh -> round(z * scale) / scale -> out_proj -> (..., C_out)

Each of the ``latent_dim`` channels is bounded to (-1, 1) and snapped to one of ``2 * scale + 1`` levels
(``k / scale`` for integer k in [-scale, scale]; ``torch.round``, half to even, like ONNX ``Round``). In training the
rounding is straight-through (the forward value is quantized, the gradient is the tanh's). ``quantize`` /
``dequantize`` split the layer at the integer levels for a native FSQ kernel.
"""
from __future__ import annotations

import torch
from torch import nn


class ScalarQuantizer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, latent_dim: int, scale: int):
        super().__init__()
        self.scale = scale  # levels per side: 9 -> 19 levels per channel
        self.in_proj = nn.Linear(in_dim, latent_dim)
        self.out_proj = nn.Linear(latent_dim, out_dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = torch.tanh(self.in_proj(h))  # (..., latent_dim) in (-1, 1)
        q = torch.round(z * self.scale) / self.scale
        if self.training:
            q = z + (q - z).detach()  # straight-through
        return self.out_proj(q)

    def quantize(self, h: torch.Tensor) -> torch.Tensor:  # (..., C_in) -> integer levels (..., latent_dim), int64
        return torch.round(torch.tanh(self.in_proj(h)) * self.scale).to(torch.int64)

    def dequantize(self, levels: torch.Tensor) -> torch.Tensor:  # integer levels -> (..., C_out)
        return self.out_proj(levels.to(self.out_proj.weight.dtype) / self.scale)
