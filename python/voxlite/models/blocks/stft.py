"""STFT and inverse STFT as convolutions with precomputed DFT bases: no complex tensors, ONNX-exportable.

``STFT`` is a strided conv1d whose kernels are the windowed cos / -sin rows of the DFT (one output channel per
real and imaginary bin). ``ISTFT`` is the inverse: a conv_transpose1d with the windowed inverse-DFT basis does
the per-frame matmul and the overlap-add at once; dividing by the overlap-added squared window (computed the
same way from a ones frame, so it follows the input length) and trimming the padding gives what
``torch.istft(center=True)`` and Vocos' "same"-padding ISTFT give. Bases are non-persistent buffers built in
float64, so state dicts stay the official ones.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...dsp.mel import pad_amount, hann_window

ISTFT_PADDINGS = ("center", "same")


def _dft_angles(n_fft: int) -> np.ndarray:
    k = np.arange(n_fft // 2 + 1)[:, None]
    n = np.arange(n_fft)[None, :]
    return 2.0 * np.pi * ((k * n) % n_fft) / n_fft  # (F, n_fft); the modulo keeps the angles exact


class STFT(nn.Module):
    """Real and imaginary one-sided STFT of (B, N) audio -> two (B, F, T) tensors (Hann window, reflect pad)."""

    def __init__(self, n_fft: int, hop_length: int, win_length: int | None = None, padding: str = "center",
                 use_fft: bool = False):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.use_fft = use_fft  # training: torch.stft, fast on long batches; the conv form is the exportable one
        self.pad = pad_amount(n_fft, hop_length, padding)
        window = hann_window(win_length or n_fft, n_fft)
        angles = _dft_angles(n_fft)
        basis = np.concatenate([np.cos(angles), -np.sin(angles)]) * window  # (2F, n_fft)
        self.register_buffer("basis", torch.from_numpy(basis[:, None, :]).float(), persistent=False)
        self.register_buffer("window", torch.from_numpy(window).float(), persistent=False)

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (B, N)
        x = wav.unsqueeze(1)  # (B, 1, N)
        if self.pad:
            x = F.pad(x, (self.pad, self.pad), mode="reflect")
        if self.use_fft:
            spec = torch.stft(x.squeeze(1), self.n_fft, self.hop_length, window=self.window, center=False,
                              return_complex=True)
            return spec.real, spec.imag
        y = F.conv1d(x, self.basis, stride=self.hop_length)  # (B, 2F, T)
        return y.chunk(2, dim=1)


class ISTFT(nn.Module):
    """Inverse of a one-sided STFT with a Hann window: (B, F, T) real and imaginary parts -> (B, samples).

    padding "center": torch.istft(center=True), (T - 1) * hop samples. "same": Vocos' ISTFT, trimming
    (win - hop) // 2 on each side, T * hop samples. Imaginary parts of the DC and Nyquist bins are ignored,
    as irfft does.
    """

    def __init__(self, n_fft: int, hop_length: int, win_length: int | None = None, padding: str = "same"):
        super().__init__()
        if padding not in ISTFT_PADDINGS:
            raise ValueError(f"padding must be one of {ISTFT_PADDINGS}, got {padding!r}")
        win_length = win_length or n_fft
        self.n_fft, self.hop_length = n_fft, hop_length
        self.trim = n_fft // 2 if padding == "center" else (win_length - hop_length) // 2
        window = hann_window(win_length, n_fft)
        angles = _dft_angles(n_fft)
        # irfft: x[n] = (1/N) sum_k c_k (Re X_k cos - Im X_k sin), c_k = 2 except DC and Nyquist
        weight = np.full(n_fft // 2 + 1, 2.0)
        weight[0] = 1.0
        if n_fft % 2 == 0:
            weight[-1] = 1.0
        weight = weight[:, None] / n_fft
        basis = np.concatenate([weight * np.cos(angles), -weight * np.sin(angles)]) * window  # (2F, n_fft)
        self.register_buffer("basis", torch.from_numpy(basis[:, None, :]).float(), persistent=False)
        self.register_buffer("window_sq", torch.from_numpy(window**2).float().view(1, 1, n_fft), persistent=False)

    def forward(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:  # (B, F, T) each
        y = F.conv_transpose1d(torch.cat([real, imag], dim=1), self.basis, stride=self.hop_length)  # (B, 1, L)
        envelope = F.conv_transpose1d(torch.ones_like(real[:, :1]), self.window_sq, stride=self.hop_length)
        if self.trim:
            y = y[..., self.trim:-self.trim]
            envelope = envelope[..., self.trim:-self.trim]
        return (y / envelope).squeeze(1)  # (B, samples)
