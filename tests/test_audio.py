"""Audio I/O: resampling on read, typed errors for bad files, atomic writes."""
import numpy as np
import pytest
import soundfile as sf

from voxlite.audio import Audio, read_audio, resample, write_audio
from voxlite.errors import AudioError, InvalidInput


def _tone(rate, seconds=0.5, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def test_read_resamples_and_downmixes(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, _tone(44100, channels=2), 44100)
    a = read_audio(path, sample_rate=16000)
    assert a.sample_rate == 16000 and abs(len(a.samples) - 8000) <= 1
    spectrum = np.abs(np.fft.rfft(a.samples))
    assert abs(np.argmax(spectrum) * 16000 / len(a.samples) - 440) < 5  # the tone survives resampling


def test_resample_identity_and_bad_rates():
    x = _tone(16000)
    np.testing.assert_array_equal(resample(x, 16000, 16000), x)
    with pytest.raises(InvalidInput):
        resample(x, 0, 16000)


def test_read_errors(tmp_path):
    with pytest.raises(AudioError, match="no audio file"):
        read_audio(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF garbage that is not a wave file")
    with pytest.raises(AudioError, match="cannot read"):
        read_audio(junk)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0,), np.float32), 16000)
    with pytest.raises(AudioError, match="no samples"):
        read_audio(empty)
    many = tmp_path / "six.wav"
    sf.write(many, np.zeros((100, 6), np.float32), 16000)
    with pytest.raises(AudioError, match="6 channels"):
        read_audio(many)
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(16000 * 3, np.float32), 16000)
    with pytest.raises(AudioError, match="limit"):
        read_audio(long, max_seconds=2)


def test_write_is_atomic_and_validated(tmp_path):
    out = write_audio(tmp_path / "a.wav", _tone(16000), 16000)
    back = read_audio(out)
    assert back.sample_rate == 16000 and np.max(np.abs(back.samples - _tone(16000))) < 1e-3
    for bad, match in [((tmp_path / "a.mp3", _tone(16000)), "cannot write"),
                       ((tmp_path / "b.wav", np.zeros((0,), np.float32)), "non-empty"),
                       ((tmp_path / "c.wav", np.full(10, np.nan, np.float32)), "NaN")]:
        with pytest.raises(InvalidInput, match=match):
            write_audio(bad[0], bad[1], 16000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_audio_type():
    a = Audio(_tone(16000, seconds=0.25), 16000)
    assert a.duration == pytest.approx(0.25)
