"""Training-only parts of the default voice's vocoder: discriminators and losses (not in the runtime wheel).

- ``MultiPeriodDiscriminator`` (HiFi-GAN): the waveform folded into (T / p, p) for periods 2, 3, 5, 7, 11, each a
  stack of (k, 1) 2-D convs with stride 3 along time. HiFi-GAN's channels (32, 128, 512, 1024, 1024) cost ~9 GMAC
  per 0.7 s segment; on one CPU thread that alone would take seconds per step, so the widths are a parameter.
- ``MultiResolutionDiscriminator`` (DAC / Vocos): complex STFTs at three window sizes (DC removed, peak
  normalised), split into five frequency bands, each band a stack of (3, 9) 2-D convs.
- Hinge GAN losses, feature matching (L1 between every discriminator feature map of real and generated audio,
  averaged per discriminator), mel L1 on the runtime log-mel, and a multi-resolution STFT loss (spectral
  convergence + log-magnitude L1, Parallel WaveGAN).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


@dataclass
class DiscriminatorConfig:
    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    mpd_channels: tuple[int, ...] = (16, 32, 64, 128, 128)  # HiFi-GAN: (32, 128, 512, 1024, 1024); CPU budget
    mrd_windows: tuple[int, ...] = (2048, 1024, 512)
    mrd_channels: int = 8  # DAC / Vocos: 32; its 2-D convs run over every STFT bin: 32 -> 8 is ~8x cheaper on CPU
    lrelu_slope: float = 0.1

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "DiscriminatorConfig":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


class PeriodDiscriminator(nn.Module):
    """HiFi-GAN's (k, 1) 2-D convs over (T / p, p) are 1-D convs over each of the p columns: written so (the
    columns folded into the batch), which runs ~2x faster on CPU for short periods."""

    def __init__(self, period: int, channels: tuple[int, ...], slope: float, kernel: int = 5, stride: int = 3):
        super().__init__()
        self.period, self.slope = period, slope
        chans = (1, *channels)
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(cin, cout, kernel, stride if i < len(channels) - 1 else 1, padding=kernel // 2))
            for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:])))
        self.post = weight_norm(nn.Conv1d(channels[-1], 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:  # (B, N)
        b, n = x.shape
        if n % self.period:
            x = F.pad(x[:, None], (0, self.period - n % self.period), mode="reflect")[:, 0]
        x = x.view(b, -1, self.period).transpose(1, 2).reshape(b * self.period, 1, -1)  # (B * p, 1, N / p)
        fmap = []
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), self.slope)
            if i > 0:
                fmap.append(x)
        x = self.post(x)
        fmap.append(x)
        return x.reshape(b, -1), fmap


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(p, cfg.mpd_channels, cfg.lrelu_slope) for p in cfg.periods)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        outs = [d(x) for d in self.discriminators]
        return [o[0] for o in outs], [o[1] for o in outs]


BANDS = ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))


class ResolutionDiscriminator(nn.Module):
    def __init__(self, window: int, channels: int, slope: float):
        super().__init__()
        self.window, self.hop, self.slope = window, window // 4, slope
        self.register_buffer("hann", torch.hann_window(window), persistent=False)
        n_bins = window // 2 + 1
        self.bands = [(int(lo * n_bins), int(hi * n_bins)) for lo, hi in BANDS]

        def stack():
            c = channels
            return nn.ModuleList([
                weight_norm(nn.Conv2d(2, c, (3, 9), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), (1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), (1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 9), (1, 2), padding=(1, 4))),
                weight_norm(nn.Conv2d(c, c, (3, 3), padding=(1, 1))),
            ])

        self.band_convs = nn.ModuleList(stack() for _ in self.bands)
        self.post = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:  # (B, N)
        x = x - x.mean(dim=-1, keepdim=True)
        x = 0.8 * x / (x.abs().amax(dim=-1, keepdim=True) + 1e-9)
        spec = torch.stft(x, self.window, self.hop, window=self.hann, return_complex=True)  # (B, F, T)
        spec = torch.view_as_real(spec).permute(0, 3, 2, 1)  # (B, 2, T, F)
        fmap, outs = [], []
        for (lo, hi), stack in zip(self.bands, self.band_convs):
            h = spec[..., lo:hi]
            for i, conv in enumerate(stack):
                h = F.leaky_relu(conv(h), self.slope)
                if i > 0:
                    fmap.append(h)
            outs.append(h)
        h = self.post(torch.cat(outs, dim=-1))
        fmap.append(h)
        return h.flatten(1), fmap


class MultiResolutionDiscriminator(nn.Module):
    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        self.discriminators = nn.ModuleList(
            ResolutionDiscriminator(w, cfg.mrd_channels, cfg.lrelu_slope) for w in cfg.mrd_windows)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        outs = [d(x) for d in self.discriminators]
        return [o[0] for o in outs], [o[1] for o in outs]


# -- losses (each averaged over sub-discriminators, as Vocos) ---------------------------------------------
def discriminator_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    return sum(F.relu(1 - r).mean() + F.relu(1 + g).mean() for r, g in zip(real, fake)) / len(real)


def generator_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    return sum(F.relu(1 - g).mean() for g in fake) / len(fake)


def feature_matching_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    return sum(sum((r - g).abs().mean() for r, g in zip(rs, gs)) for rs, gs in zip(real, fake)) / len(real)


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + L1 of log magnitudes, averaged over (n_fft, hop) resolutions."""

    def __init__(self, resolutions=((512, 128), (1024, 256), (2048, 512)), eps: float = 1e-5):
        super().__init__()
        self.resolutions, self.eps = tuple(resolutions), eps
        for n_fft, _ in self.resolutions:
            self.register_buffer(f"hann{n_fft}", torch.hann_window(n_fft), persistent=False)

    def magnitude(self, x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
        spec = torch.stft(x, n_fft, hop, window=getattr(self, f"hann{n_fft}"), return_complex=True)
        return torch.view_as_real(spec).square().sum(-1).clamp(min=self.eps ** 2).sqrt()  # (B, F, T)

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor, y_mags: list[torch.Tensor] | None = None):
        """y_mags: the target's magnitudes from ``target_magnitudes`` (computed once per batch)."""
        y_mags = y_mags if y_mags is not None else self.target_magnitudes(y)
        sc = mag = 0.0
        for (n_fft, hop), m in zip(self.resolutions, y_mags):
            m_hat = self.magnitude(y_hat, n_fft, hop)
            sc = sc + torch.linalg.vector_norm(m - m_hat) / torch.linalg.vector_norm(m)
            mag = mag + (m.log() - m_hat.log()).abs().mean()
        n = len(self.resolutions)
        return sc / n, mag / n

    @torch.no_grad()
    def target_magnitudes(self, y: torch.Tensor) -> list[torch.Tensor]:
        return [self.magnitude(y, n_fft, hop) for n_fft, hop in self.resolutions]
