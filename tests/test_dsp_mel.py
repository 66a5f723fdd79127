"""NumPy mel front end (runtime, no torch): filterbanks and STFT against librosa / transformers and by formula."""
import numpy as np
import pytest

from voxlite.dsp import MEL_PRESETS, MelConfig, hann_window, hz_to_mel, log_mel_spectrogram, mel_filterbank
from voxlite.dsp import mel_spectrogram, mel_to_hz, num_frames, stft
from voxlite.errors import InvalidInput

FILTERBANKS = [  # sample_rate, n_fft, n_mels, fmin, fmax, mel_scale, norm
    (24000, 1024, 100, 0.0, None, "htk", None),  # Vocos (torchaudio defaults)
    (24000, 1024, 100, 0.0, 12000.0, "slaney", "slaney"),  # BigVGAN
    (16000, 1024, 64, 0.0, 8000.0, "slaney", "slaney"),  # AudioLDM 2
    (16000, 1024, 80, 80.0, 7600.0, "slaney", "slaney"),  # SpeechT5
    (22050, 1023, 37, 55.5, 9000.0, "slaney", None),  # odd n_fft, odd band count
    (8000, 256, 29, 20.0, 3999.0, "htk", "slaney"),
]


def _wav(n=4000, seed=0):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32) * 0.3


def test_mel_scale_formulas():
    # htk: 2595 log10(1 + f / 700); slaney: 3 mels per 200 Hz up to 1 kHz (= 15 mels), then 27 per factor 6.4
    assert hz_to_mel(700.0, "htk") == pytest.approx(2595 * np.log10(2))
    assert hz_to_mel(1000.0, "slaney") == pytest.approx(15.0)
    assert hz_to_mel(6400.0, "slaney") == pytest.approx(15.0 + 27.0)
    assert hz_to_mel(300.0, "slaney") == pytest.approx(4.5)
    f = np.array([0.0, 55.0, 999.0, 1000.0, 1001.0, 7600.0, 12000.0])
    for scale in ("htk", "slaney"):
        np.testing.assert_allclose(mel_to_hz(hz_to_mel(f, scale), scale), f, rtol=1e-12, atol=1e-9)
    with pytest.raises(InvalidInput):
        hz_to_mel(1.0, "bark")


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax,scale,norm", FILTERBANKS)
def test_filterbank_by_construction(sr, n_fft, n_mels, fmin, fmax, scale, norm):
    fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, scale, norm).astype(np.float64)
    assert fb.shape == (n_mels, n_fft // 2 + 1) and fb.dtype == np.float64 and (fb >= 0).all()
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin, scale), hz_to_mel(fmax or sr / 2, scale), n_mels + 2), scale)
    for i in range(n_mels):  # each filter: triangle on [edge i, edge i+2] peaking (1, or 2 / width) at edge i+1
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        tri = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
        if norm == "slaney":
            tri *= 2.0 / (hi - lo)
        np.testing.assert_allclose(fb[i], tri, rtol=1e-6, atol=1e-9)
        assert not fb[i, (freqs < lo) | (freqs > hi)].any()


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax,scale,norm", FILTERBANKS)
def test_filterbank_matches_librosa(sr, n_fft, n_mels, fmin, fmax, scale, norm):
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=scale == "htk", norm=norm)
    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, scale, norm)
    assert ours.dtype == ref.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)


def test_hann_window_is_periodic_and_centred():
    w = hann_window(8)
    np.testing.assert_allclose(w, 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(8) / 8))
    padded = hann_window(6, 10)
    assert padded.shape == (10,) and not padded[:2].any() and not padded[-2:].any()
    np.testing.assert_allclose(padded[2:8], hann_window(6))


@pytest.mark.parametrize("padding", ["center", "same", "none"])
@pytest.mark.parametrize("n_fft,hop,win", [(64, 16, None), (60, 15, 40), (63, 21, None)])
def test_stft_matches_librosa(padding, n_fft, hop, win):
    librosa = pytest.importorskip("librosa")
    y = _wav(1000)
    ours = stft(y, n_fft, hop, win, padding)
    pre = {"center": 0, "same": (n_fft - hop) // 2, "none": 0}[padding]
    ref = librosa.stft(np.pad(y.astype(np.float64), pre, mode="reflect"), n_fft=n_fft, hop_length=hop,
                       win_length=win, window="hann", center=padding == "center", pad_mode="reflect")
    assert ours.shape == ref.shape == (n_fft // 2 + 1, num_frames(len(y), n_fft, hop, padding))
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_stft_batched_and_errors():
    y = np.stack([_wav(800, 1), _wav(800, 2)])
    np.testing.assert_allclose(stft(y, 64, 16)[1], stft(y[1], 64, 16))
    with pytest.raises(InvalidInput):
        stft(np.zeros(20), 64, 16)  # shorter than the reflect padding
    with pytest.raises(InvalidInput):
        stft(np.zeros(40), 64, 16, padding="none")  # shorter than one frame


def test_vocos_preset_matches_librosa_torchaudio_conventions():
    # Vocos' MelSpectrogramFeatures is torchaudio MelSpectrogram(center, reflect, power 1, htk, no norm) then
    # log(clip(x, 1e-7)); librosa with the same options computes the same thing (torchaudio is not installable
    # next to torch 2.13, so librosa stands in as the independent reference).
    librosa = pytest.importorskip("librosa")
    cfg = MEL_PRESETS["vocos-24khz"]
    y = _wav(6000)
    ref = librosa.feature.melspectrogram(y=y.astype(np.float64), sr=24000, n_fft=1024, hop_length=256, power=1.0,
                                         n_mels=100, htk=True, norm=None, center=True, pad_mode="reflect")
    np.testing.assert_allclose(mel_spectrogram(y, cfg), ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(log_mel_spectrogram(y, cfg), np.log(np.maximum(ref, 1e-7)), atol=1e-5)


def test_hifigan_preset_matches_meldataset_recipe():
    # HiFi-GAN / BigVGAN meldataset: reflect pad (n_fft - hop) / 2, stft(center=False), sqrt(|X|^2 + 1e-9),
    # librosa slaney filters, log(clamp(x, 1e-5))
    librosa = pytest.importorskip("librosa")
    cfg = MEL_PRESETS["bigvgan-24khz-100band"]
    y = _wav(5000, 3)
    pad = (1024 - 256) // 2
    spec = librosa.stft(np.pad(y.astype(np.float64), pad, mode="reflect"), n_fft=1024, hop_length=256,
                        window="hann", center=False)
    mag = np.sqrt(np.abs(spec) ** 2 + 1e-9)
    fb = librosa.filters.mel(sr=24000, n_fft=1024, n_mels=100, fmin=0, fmax=12000)
    ref = np.log(np.maximum(fb.astype(np.float64) @ mag, 1e-5))
    np.testing.assert_allclose(log_mel_spectrogram(y, cfg), ref, atol=1e-5)
    assert log_mel_spectrogram(y, cfg).shape[-1] == len(y) // 256


def test_speecht5_preset_matches_transformers_feature_extractor():
    pytest.importorskip("transformers")
    from transformers import SpeechT5FeatureExtractor

    y = _wav(5000, 4)
    ref = SpeechT5FeatureExtractor()(audio_target=y, sampling_rate=16000, return_tensors="np")["input_values"][0]
    ours = log_mel_spectrogram(y, MEL_PRESETS["speecht5-16khz-80band"]).T  # (frames, 80) like SpeechT5
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_config_validation_and_round_trip():
    cfg = MEL_PRESETS["audioldm2-16khz-64band"]
    assert MelConfig.from_dict(cfg.to_dict()) == cfg
    assert MelConfig.preset("vocos-24khz").n_mels == 100
    assert cfg.num_frames(16000) == 101 and cfg.n_freqs == 513
    for bad in ({"n_fft": 0}, {"mel_scale": "bark"}, {"norm": "l2"}, {"padding": "zeros"}, {"log": "log2"},
                {"fmax": 9000.0}, {"win_length": 2048}, {"n_mels": True}):
        with pytest.raises(InvalidInput):
            MelConfig(**{**cfg.to_dict(), **bad})
    with pytest.raises(InvalidInput):
        MelConfig.from_dict({**cfg.to_dict(), "center": True})
    with pytest.raises(InvalidInput):
        MelConfig.preset("nope")
