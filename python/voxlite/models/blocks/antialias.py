"""Anti-aliased activation (alias-free resampling around a pointwise nonlinearity, StyleGAN3 / BigVGAN).

A periodic activation such as Snake creates harmonics above Nyquist; applied at the signal's own rate they
alias back into the band. So the signal is upsampled x2 with a windowed-sinc low-pass filter, the activation is
applied at the doubled rate, and the result is low-pass filtered and decimated x2 again.

The filters are fixed (not trained) and built from the window-design formula below, so they are registered as
non-persistent buffers already expanded per channel: exported graphs carry them as constants and the depthwise
convolutions have static weights. Converters drop the official checkpoints' ``filter`` buffers after checking
that they equal ours.
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn


def kaiser_beta(half_size: int, half_width: float) -> float:
    """Kaiser's empirical beta for the stop-band attenuation A (dB) reached with this many taps per side.

    A = 2.285 (N - 1) pi delta_f + 7.95 with N = half_size taps per side and transition width delta_f =
    4 * half_width (in units of the sampling rate); then beta = 0.1102 (A - 8.7) above 50 dB,
    0.5842 (A - 21)^0.4 + 0.07886 (A - 21) between 21 and 50 dB, and 0 (a box window) below.
    """
    attenuation = 2.285 * (half_size - 1) * math.pi * (4.0 * half_width) + 7.95
    if attenuation > 50.0:
        return 0.1102 * (attenuation - 8.7)
    if attenuation >= 21.0:
        return 0.5842 * (attenuation - 21.0) ** 0.4 + 0.07886 * (attenuation - 21.0)
    return 0.0


def kaiser_sinc_filter1d(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """Low-pass FIR taps, shape (kernel_size,): a sinc with cutoff ``cutoff`` (fraction of the sampling rate,
    at most 0.5) under a symmetric Kaiser window, normalised to unit DC gain.

    h[n] = 2 fc w[n] sinc(2 fc t_n) / sum(...), sinc(x) = sin(pi x) / (pi x), where the taps sit at
    t_n = n - K//2 (odd K, centred on a sample) or n - K/2 + 1/2 (even K, centred between two samples), and
    w[n] = I0(beta sqrt(1 - (2n / (K - 1) - 1)^2)) / I0(beta). Computed in float64, returned as float32.
    """
    if not 0.0 < cutoff <= 0.5:
        raise ValueError(f"cutoff must be in (0, 0.5], got {cutoff}")
    half_size = kernel_size // 2
    beta = kaiser_beta(half_size, half_width)
    n = torch.arange(kernel_size, dtype=torch.float64)
    if kernel_size > 1:
        ramp = 2.0 * n / (kernel_size - 1) - 1.0  # -1 .. 1 across the window
        window = torch.special.i0(beta * torch.sqrt((1.0 - ramp**2).clamp_min(0.0))) / torch.special.i0(
            torch.tensor(beta, dtype=torch.float64))
    else:
        window = torch.ones(1, dtype=torch.float64)
    t = n - half_size + (0.5 if kernel_size % 2 == 0 else 0.0)
    taps = 2.0 * cutoff * window * torch.sinc(2.0 * cutoff * t)
    return (taps / taps.sum()).float()


@functools.lru_cache(maxsize=None)
def _cpu_taps(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """Computed once per design on the CPU (also under a ``torch.device("meta")`` context); callers copy."""
    with torch.device("cpu"):
        return kaiser_sinc_filter1d(cutoff, half_width, kernel_size)


def default_kernel_size(ratio: int) -> int:
    """Six taps per output phase, rounded to even (12 for ratio 2), as BigVGAN's resamplers choose by default."""
    return int(6 * ratio // 2) * 2


class UpSample1d(nn.Module):
    """Zero-stuffing upsampler by ``ratio`` followed by the low-pass filter (a strided transposed conv).

    Edges are replicate-padded by ``K // ratio - 1`` input samples first; the transposed conv's transient is
    cropped so (B, C, T) -> (B, C, ratio * T). The gain ``ratio`` restores the amplitude lost to zero-stuffing.
    """

    def __init__(self, channels: int, ratio: int = 2, kernel_size: int | None = None):
        super().__init__()
        self.ratio = ratio
        self.kernel_size = default_kernel_size(ratio) if kernel_size is None else kernel_size
        self.pad = self.kernel_size // ratio - 1
        self.crop_left = self.pad * ratio + (self.kernel_size - ratio) // 2
        self.crop_right = self.pad * ratio + (self.kernel_size - ratio + 1) // 2
        taps = _cpu_taps(0.5 / ratio, 0.6 / ratio, self.kernel_size)
        self.register_buffer("filter", taps.view(1, 1, -1).repeat(channels, 1, 1), persistent=False)  # (C, 1, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, ratio * T)
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        y = self.ratio * F.conv_transpose1d(x, self.filter, stride=self.ratio, groups=self.filter.shape[0])
        return y[..., self.crop_left:y.shape[-1] - self.crop_right]


class DownSample1d(nn.Module):
    """Low-pass filter then keep every ``ratio``-th sample (a strided depthwise conv), replicate-padded so
    (B, C, T) -> (B, C, ceil(T / ratio)); for even K the extra tap of padding goes on the right."""

    def __init__(self, channels: int, ratio: int = 2, kernel_size: int | None = None):
        super().__init__()
        self.ratio = ratio
        self.kernel_size = default_kernel_size(ratio) if kernel_size is None else kernel_size
        even = self.kernel_size % 2 == 0
        self.pad_left = self.kernel_size // 2 - int(even)
        self.pad_right = self.kernel_size // 2
        taps = _cpu_taps(0.5 / ratio, 0.6 / ratio, self.kernel_size)
        self.register_buffer("filter", taps.view(1, 1, -1).repeat(channels, 1, 1), persistent=False)  # (C, 1, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, T / ratio)
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(x, self.filter, stride=self.ratio, groups=self.filter.shape[0])


class AntiAliasActivation(nn.Module):
    """upsample -> ``activation`` -> downsample, (B, C, T) -> (B, C, T) for equal ratios.

    The activation sits at ``act`` (BigVGAN's ``Activation1d.act``), so its parameters keep the official names.
    """

    def __init__(self, activation: nn.Module, channels: int, up_ratio: int = 2, down_ratio: int = 2,
                 up_kernel_size: int = 12, down_kernel_size: int = 12):
        super().__init__()
        self.act = activation
        self.upsample = UpSample1d(channels, up_ratio, up_kernel_size)
        self.downsample = DownSample1d(channels, down_ratio, down_kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        return self.downsample(self.act(self.upsample(x)))
