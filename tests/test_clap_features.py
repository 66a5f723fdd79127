"""CLAP's NumPy feature extractor (runtime, no torch) against transformers' ClapFeatureExtractor at the published
AudioLDM 2 settings, and AudioLDM 2's scoring path (librosa 16 -> 48 kHz resampling first).

Tolerance: both compute the STFT in float64 and return float32 dB; transformers stores the spectrum as complex64
and uses a float64 filterbank (ours is float32), so values in [-100, 100] dB differ by a few float32 ulps
(observed <= 3.8e-6): atol 2e-5.
"""
import numpy as np
import pytest

from voxlite.dsp.clap_features import (ClapFeatureConfig, clap_features, clap_features_for_scoring,
                                       feature_shape, fit_length)
from voxlite.errors import InvalidInput

# cvssp/audioldm2 feature_extractor/preprocessor_config.json (identical to laion/clap-htsat-unfused's)
PUBLISHED = {
    "chunk_length_s": 10, "feature_extractor_type": "ClapFeatureExtractor", "feature_size": 64,
    "fft_window_size": 1024, "frequency_max": 14000, "frequency_min": 50, "hop_length": 480, "max_length_s": 10,
    "n_fft": 1024, "nb_frequency_bins": 513, "nb_max_frames": 1000, "nb_max_samples": 480000,
    "padding": "repeatpad", "padding_side": "right", "padding_value": 0.0, "processor_class": "ClapProcessor",
    "return_attention_mask": False, "sampling_rate": 48000, "top_db": None, "truncation": "rand_trunc",
}
ATOL = 2e-5
SR = 48000


@pytest.fixture(scope="module")
def official():
    pytest.importorskip("torch")  # transformers' ClapFeatureExtractor requires the torch backend
    transformers = pytest.importorskip("transformers")
    return transformers.ClapFeatureExtractor.from_dict(PUBLISHED)


def _reference(extractor, clips):
    return extractor(clips, sampling_rate=SR, return_tensors="np")["input_features"]


def _noise(n, seed=0, scale=0.3):
    return (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)


def test_published_config_is_the_default():
    cfg = ClapFeatureConfig.from_transformers(PUBLISHED)
    assert cfg == ClapFeatureConfig()
    assert (cfg.max_samples, cfg.num_frames) == (480000, 1001)
    assert feature_shape(PUBLISHED) == feature_shape() == (1, 1001, 64)
    clip = _noise(5000)
    np.testing.assert_array_equal(clap_features(clip, PUBLISHED), clap_features(clip))  # the raw dict works too


@pytest.mark.parametrize("n", [1, 100, 62_400, 479_999, 480_000], ids=["one-sample", "100", "1.3s", "exact-1",
                                                                       "exact"])
def test_matches_transformers(official, n):
    clip = _noise(n, seed=n)
    expected = _reference(official, [clip])
    got = clap_features(clip)
    assert got.shape == expected.shape == (1, 1, 1001, 64) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


def test_batch_of_mixed_lengths_and_silence(official):
    clips = [_noise(30_000, 1), np.zeros(50_000, np.float32), _noise(480_000, 2, scale=1e-4), np.zeros(480_000)]
    expected = _reference(official, clips)
    got = clap_features(clips)
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    assert np.all(got[1] == -100.0)  # silence sits on the 1e-10 power floor
    np.testing.assert_array_equal(clap_features(np.stack([clips[0][:20_000], clips[1][:20_000]])),
                                  clap_features([clips[0][:20_000], clips[1][:20_000]]))  # (B, N) == list


def test_long_clip_random_crop_takes_a_generator(official):
    clip = _noise(480_000 + 12_345, 3)
    with pytest.raises(InvalidInput, match="rng"):
        clap_features(clip)
    start = int(np.random.default_rng(7).integers(0, 12_346))  # the draw fit_length makes
    got = clap_features(clip, rng=np.random.default_rng(7))
    np.testing.assert_allclose(got, _reference(official, [clip[start:start + 480_000]]), atol=ATOL, rtol=0)
    np.testing.assert_array_equal(got, clap_features(clip, rng=np.random.default_rng(7)))


@pytest.mark.parametrize("padding", ["repeat", "pad"])
def test_other_paddings(official, padding):
    clip = _noise(70_001, 4)
    cfg = ClapFeatureConfig(padding=padding)
    expected = official([clip], sampling_rate=SR, padding=padding, return_tensors="np")["input_features"]
    np.testing.assert_allclose(clap_features(clip, cfg), expected, atol=ATOL, rtol=0)
    assert fit_length(clip.astype(np.float64), cfg).shape == (480_000,)


def test_scoring_path_matches_librosa_then_transformers(official):
    """diffusers' AudioLDM2Pipeline.score_waveforms: librosa.resample(audio (B, N) float32, 16 kHz -> 48 kHz), then
    the feature extractor. librosa's default resampler is soxr HQ, which ours calls: the waveforms agree exactly
    (soxr VHQ, voxlite.audio.resample's default, would differ by up to ~1e-2)."""
    librosa = pytest.importorskip("librosa")
    audio = np.stack([_noise(16_000 * 4 + 3, 5), _noise(16_000 * 4 + 3, 6, scale=0.05)])
    resampled = librosa.resample(audio, orig_sr=16_000, target_sr=SR)
    expected = _reference(official, list(resampled))
    np.testing.assert_allclose(clap_features_for_scoring(audio, 16_000), expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("audio, message", [
    (np.zeros(0, np.float32), "clip 0 is empty"),
    ([np.ones(10), np.zeros(0)], "clip 1 is empty"),
    ([], "no audio clips"),
    (np.zeros((2, 3, 100)), "shape"),
    (np.float32(1.0), "shape"),
    ([np.zeros((2, 100))], "shape"),
])
def test_bad_input(audio, message):
    with pytest.raises(InvalidInput, match=message):
        clap_features(audio)


def test_unsupported_settings():
    with pytest.raises(InvalidInput, match="fusion"):
        ClapFeatureConfig.from_transformers({**PUBLISHED, "truncation": "fusion"})
    with pytest.raises(InvalidInput, match="top_db"):
        ClapFeatureConfig.from_transformers({**PUBLISHED, "top_db": 80})
    with pytest.raises(InvalidInput, match="padding"):
        ClapFeatureConfig(padding="mirror")
