"""The 2-D convolutional pieces of LDM-style autoencoders and UNets (diffusers' ``ResnetBlock2D``, ``Downsample2D``,
``Upsample2D``), shared by AudioLDM 2's mel VAE and its UNet.

    ResnetBlock2D:  x -> GroupNorm, SiLU, conv3x3 [+ Linear(SiLU(temb)) per channel] -> GroupNorm, SiLU, conv3x3
                    -> + x (through a 1x1 conv when the widths differ)
    Downsample2D:   stride-2 conv3x3 (ceil(H/2), ceil(W/2))
    Upsample2D:     nearest-neighbour to 2x (or to a given size) -> conv3x3

Parameter names are diffusers' (``norm1``, ``conv1``, ``time_emb_proj``, ``norm2``, ``conv2``, ``conv_shortcut``,
``conv``), so the converters only rename the containers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResnetBlock2D(nn.Module):
    """``temb_channels``: width of the time embedding added after the first conv (UNet); None for none (VAE)."""

    def __init__(self, in_channels: int, out_channels: int, groups: int, eps: float, temb_channels: int | None = None):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=eps)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, out_channels) if temb_channels else None
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=eps)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C_in, H, W), time embedding (B, T) when built with one -> (B, C_out, H, W)."""
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class Downsample2D(nn.Module):
    """``padding=1``: the UNet's symmetric padding; ``padding=0``: LDM's VAE encoder, which zero-pads one row and one
    column at the bottom / right only (diffusers does the same for padding 0)."""

    def __init__(self, channels: int, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=padding)
        self.pad_bottom_right = padding == 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C, ceil(H/2), ceil(W/2))
        if self.pad_bottom_right:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, size: torch.Size | tuple[int, int] | None = None) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, 2H, 2W), or (B, C, *size): a UNet passes its skip's size so odd sizes round-trip
        (nearest to exactly 2x picks the same source pixels either way)."""
        if size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=size, mode="nearest")
        return self.conv(x)
