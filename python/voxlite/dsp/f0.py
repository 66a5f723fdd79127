"""F0 on a quantised log scale: the pitch input of a singing unit vocoder (Make-A-Voice's S3 vocoder), NumPy only.

A voiced frame's F0 becomes one of ``bins - 1`` integer bins, uniform in log-frequency: bin 1 is centred on
``f_min``, bin ``bins - 1`` on ``f_max``, and F0 outside the range is clipped to the nearest end. Bin 0 is
unvoiced (F0 <= 0, NaN, or a rest in the score). At inference the F0 comes from the MIDI score
(``f0_bins_from_midi``).

Defaults: C2 (MIDI 36, 65.41 Hz) .. C7 (MIDI 96, 2093.0 Hz), five octaves covering sung bass to soprano
(and spoken F0 above C2) with 256 bins: 255 voiced bins over 60 semitones = 4.25 bins a semitone, so a bin is
60 / 254 semitones (23.6 cents) wide and the round-trip error at most half of that.
"""
from __future__ import annotations

import numpy as np

from ..errors import InvalidInput

A4_HZ, A4_MIDI = 440.0, 69.0
F0_BINS = 256
F0_MIN = 65.40639132514966  # C2 (MIDI 36)
F0_MAX = 2093.004522404789  # C7 (MIDI 96)
UNVOICED = 0


def midi_to_hz(midi):
    """MIDI note number(s) (fractional allowed) -> Hz, equal temperament with A4 = 440 Hz."""
    return A4_HZ * 2.0 ** ((np.asarray(midi, dtype=np.float64) - A4_MIDI) / 12.0)


def hz_to_midi(hz):
    """Hz -> fractional MIDI note number(s); NaN where ``hz <= 0`` (no pitch)."""
    hz = np.asarray(hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(hz > 0, A4_MIDI + 12.0 * np.log2(np.where(hz > 0, hz, 1.0) / A4_HZ), np.nan)


def _check_scale(bins: int, f_min: float, f_max: float) -> None:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 3:
        raise InvalidInput(f"bins must be an integer >= 3 (bin 0 is unvoiced), got {bins!r}")
    if not (np.isfinite(f_min) and np.isfinite(f_max) and 0 < f_min < f_max):
        raise InvalidInput(f"need 0 < f_min < f_max, got f_min={f_min!r}, f_max={f_max!r}")


def quantize_log_f0(hz, *, bins: int = F0_BINS, f_min: float = F0_MIN, f_max: float = F0_MAX) -> np.ndarray:
    """F0 in Hz (any shape) -> int64 bins of the same shape: 0 where unvoiced (``hz <= 0`` or NaN), else
    ``1 + round((bins - 2) * log(hz / f_min) / log(f_max / f_min))`` clipped to ``1 .. bins - 1``. Monotone
    (non-decreasing) in ``hz`` over voiced values."""
    _check_scale(bins, f_min, f_max)
    hz = np.asarray(hz, dtype=np.float64)
    voiced = np.isfinite(hz) & (hz > 0)  # +inf would clip to the top bin, but it is no pitch: refuse
    if np.isposinf(hz).any():
        raise InvalidInput("F0 holds infinite values")
    safe = np.where(voiced, hz, f_min)
    pos = (bins - 2) * (np.log(safe) - np.log(f_min)) / (np.log(f_max) - np.log(f_min))
    q = np.clip(np.floor(pos + 0.5), 0, bins - 2).astype(np.int64) + 1  # floor(x + .5): no round-half-even steps
    return np.where(voiced, q, UNVOICED).astype(np.int64)


def dequantize_log_f0(q, *, bins: int = F0_BINS, f_min: float = F0_MIN, f_max: float = F0_MAX) -> np.ndarray:
    """Bins -> the Hz at each bin's centre (float64), 0.0 for bin 0; bins outside ``0 .. bins - 1`` are refused."""
    _check_scale(bins, f_min, f_max)
    q = np.asarray(q)
    if q.size and not np.issubdtype(q.dtype, np.integer):
        raise InvalidInput(f"F0 bins must be integers, got dtype {q.dtype}")
    q = q.astype(np.int64)
    if q.size and (q.min() < 0 or q.max() >= bins):
        raise InvalidInput(f"F0 bins must be in 0..{bins - 1}, got {q.min()}..{q.max()}")
    hz = np.exp(np.log(f_min) + (q - 1) / (bins - 2) * (np.log(f_max) - np.log(f_min)))
    return np.where(q == UNVOICED, 0.0, hz)


def f0_bins_from_midi(midi_per_frame, *, rest: float | None = 0, bins: int = F0_BINS, f_min: float = F0_MIN,
                      f_max: float = F0_MAX) -> np.ndarray:
    """A score's note per frame (MIDI numbers, fractional allowed) -> F0 bins (T,) int64.

    Rests are bin 0: frames holding ``rest`` (default 0, the usual rest marker of singing corpora; MIDI 0 is
    8 Hz, never sung), ``None`` or NaN. ``rest=None``: only ``None`` / NaN are rests."""
    try:
        if isinstance(midi_per_frame, np.ndarray) and midi_per_frame.dtype != object:
            midi = midi_per_frame.astype(np.float64)
        else:  # a list may mark rests with None
            midi = np.array([np.nan if m is None else m for m in midi_per_frame], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("MIDI notes must be numbers (or None for a rest)") from None
    if midi.ndim != 1:
        raise InvalidInput(f"MIDI notes must be one per frame (T,), got shape {midi.shape}")
    if np.isinf(midi).any():
        raise InvalidInput("MIDI notes hold infinite values")
    is_rest = np.isnan(midi) if rest is None else np.isnan(midi) | (midi == rest)
    hz = np.where(is_rest, 0.0, midi_to_hz(np.where(is_rest, A4_MIDI, midi)))
    return quantize_log_f0(hz, bins=bins, f_min=f_min, f_max=f_max)
