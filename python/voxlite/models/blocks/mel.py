"""Log-mel spectrogram as a torch module: the NumPy front end (voxlite.dsp.mel) for training and export.

Same config, same filterbank (built by NumPy, held as a non-persistent buffer), same padding / magnitude / log
conventions; the STFT is a conv1d with a DFT basis so the module exports to ONNX (``use_fft=True`` switches to
torch.stft for training on long batches).
"""
from __future__ import annotations

import torch
from torch import nn

from ...dsp.mel import MelConfig
from .stft import STFT


class MelSpectrogram(nn.Module):
    def __init__(self, cfg: MelConfig, use_fft: bool = False):
        super().__init__()
        self.cfg = cfg
        self.stft = STFT(cfg.n_fft, cfg.hop_length, cfg.win_length, cfg.padding, use_fft=use_fft)
        self.register_buffer("fb", torch.from_numpy(cfg.filterbank()), persistent=False)  # (n_mels, F)

    def spectrogram(self, wav: torch.Tensor) -> torch.Tensor:  # (B, N) -> (B, F, T)
        real, imag = self.stft(wav)
        energy = real.square() + imag.square() + self.cfg.mag_eps
        if self.cfg.power == 2.0:
            return energy
        return energy.sqrt() if self.cfg.power == 1.0 else energy.pow(self.cfg.power / 2.0)

    def mel(self, wav: torch.Tensor) -> torch.Tensor:  # (B, N) -> (B, n_mels, T), linear
        return torch.matmul(self.fb, self.spectrogram(wav))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:  # (B, N) -> (B, n_mels, T), log-compressed
        mel = self.mel(wav)
        if self.cfg.log == "ln":
            return mel.clamp(min=self.cfg.log_floor).log()
        if self.cfg.log == "log10":
            return mel.clamp(min=self.cfg.log_floor).log10()
        return mel
