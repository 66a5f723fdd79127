"""Hyper-parameters of a unit-vocoder component (kind ``unit-vocoder``): Make-A-Voice's S3 vocoder, codec codes
(+ F0 bins for singing) -> waveform (``voxlite.models.unit_vocoder``; pipeline ``voxlite.pipelines.unit_vocoder``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .base import HParams
from .codec import StreamWindow

# voxlite.dsp.f0's defaults (C2 .. C7), repeated so this module stays free of the dsp package
F0_MIN, F0_MAX = 65.40639132514966, 2093.004522404789


@dataclass(frozen=True)
class UnitVocoderHParams(HParams):
    sample_rate: int
    hop_length: int  # samples per code frame (320 at 16 kHz: 50 Hz)
    n_codebooks: int  # k: codes (k, T) per call
    codebook_size: int  # codes are 0 .. codebook_size - 1
    f0_bins: int = 0  # 0: no F0 input; else F0 bins 0 .. f0_bins - 1 (0 = unvoiced), voxlite.dsp.f0's scale
    f0_min: float = F0_MIN  # Hz at bin 1 (the quantiser's range: dsp.f0.quantize_log_f0)
    f0_max: float = F0_MAX  # Hz at bin f0_bins - 1
    config: dict = field(default_factory=dict)  # models.unit_vocoder.UnitVocoderConfig.to_dict() (informative)
    # the decoder is non-causal: streamed in windows of ``left`` frames of context and ``right`` of look-ahead that
    # cover its receptive field (streaming.WindowedStreamDecoder); None: not streamed
    window: StreamWindow | None = None

    def check(self) -> None:
        for name in ("sample_rate", "hop_length", "n_codebooks", "codebook_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be a positive integer, got {getattr(self, name)}")
        if self.f0_bins != 0 and self.f0_bins < 3:
            raise ValueError(f"f0_bins: 0 (no F0) or >= 3, got {self.f0_bins}")
        if not 0 < self.f0_min < self.f0_max:
            raise ValueError(f"f0_min: need 0 < f0_min < f0_max, got {self.f0_min}, {self.f0_max}")

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def takes_f0(self) -> bool:
        return self.f0_bins > 0
