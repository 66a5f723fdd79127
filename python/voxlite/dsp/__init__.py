"""Signal processing the runtime needs without torch (NumPy only): mel filterbanks, STFT, log-mel features."""
from .mel import (
    MEL_PRESETS,
    MelConfig,
    hann_window,
    hz_to_mel,
    log_compress,
    log_mel_spectrogram,
    mel_filterbank,
    mel_spectrogram,
    mel_to_hz,
    num_frames,
    stft,
    stft_magnitude,
)

__all__ = [
    "MEL_PRESETS",
    "MelConfig",
    "hann_window",
    "hz_to_mel",
    "log_compress",
    "log_mel_spectrogram",
    "mel_filterbank",
    "mel_spectrogram",
    "mel_to_hz",
    "num_frames",
    "stft",
    "stft_magnitude",
]
