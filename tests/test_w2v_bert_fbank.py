"""w2v-BERT's front end in NumPy (dsp/fbank.py) vs transformers' SeamlessM4TFeatureExtractor on random audio: the
Kaldi mel filters and Povey window, the raw log-mel fbank, and the normalised, pair-stacked input_features (the
extractor's valid frames: its half-padded last pair is dropped here) at even and odd frame counts; frame counts
against the semantic-units hparams' unit count; the refusals."""
import numpy as np
import pytest

from voxlite.dsp.fbank import (W2V_BERT_FBANK, FbankConfig, kaldi_fbank, kaldi_mel_filterbank, povey_window,
                               stack_frames, w2v_bert_features)
from voxlite.errors import InvalidInput
from voxlite.hparams import SemanticUnitsHParams

LENGTHS = (560, 719, 880, 16000, 16160, 23456)  # 2, 2 (+ a partial hop), 4, 98, 99 and 145 fbank frames


@pytest.fixture(scope="module")
def extractor():
    transformers = pytest.importorskip("transformers")
    return transformers.SeamlessM4TFeatureExtractor()


def _audio(n: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    tone = 0.3 * np.sin(2 * np.pi * (150 + 50 * g.random()) * t)
    return (tone + 0.2 * g.standard_normal(n) + 0.01).astype(np.float32)  # with a DC offset the frames remove


def test_filters_and_window_equal_the_extractors(extractor):
    np.testing.assert_allclose(kaldi_mel_filterbank(16000, 512, 80, 20.0), extractor.mel_filters.T, atol=1e-12)
    np.testing.assert_allclose(povey_window(400), extractor.window, atol=1e-12)


@pytest.mark.parametrize("n", LENGTHS)
def test_features_equal_the_extractors(extractor, n):
    x = _audio(n, seed=n)
    out = extractor(x, sampling_rate=16000, return_tensors="np")
    want = out["input_features"][0][out["attention_mask"][0] == 1]  # odd frame counts: the padded pair dropped
    got = w2v_bert_features(x)
    assert got.dtype == np.float32 and got.shape == want.shape == (W2V_BERT_FBANK.n_frames(n), 160)
    # the extractor keeps its log-mels in float32 (ours float64, ~1e-6 apart); normalising 2-4 frames amplifies
    # that rounding where a bin's frames are nearly equal (variance near the 1e-7 eps; up to 1.2e-4 seen), and
    # over longer audio by 1 / std of the smooth high bands (up to 3.2e-5 seen)
    np.testing.assert_allclose(got, want, rtol=0, atol=3e-4 if n < 1000 else 6e-5)
    # the raw fbank before normalisation: float32 rounding of values up to ~30
    np.testing.assert_allclose(kaldi_fbank(x), extractor._extract_fbank_features(x), rtol=0, atol=5e-6)


def test_frame_counts_match_the_units_count():
    hp = SemanticUnitsHParams(layer=7, n_clusters=8, dim=4, hop_length=W2V_BERT_FBANK.hop_samples,
                              receptive_field=W2V_BERT_FBANK.min_samples, model="w2v-bert")
    assert (W2V_BERT_FBANK.hop_samples, W2V_BERT_FBANK.min_samples, W2V_BERT_FBANK.dim) == (320, 560, 160)
    for n in range(400, 4000, 7):
        assert W2V_BERT_FBANK.n_frames(n) == hp.n_units(n), n
    assert W2V_BERT_FBANK.n_frames(16000) == 49


def test_stacking_and_refusals():
    f = np.arange(14).reshape(7, 2)
    np.testing.assert_array_equal(stack_frames(f, 2), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]])
    with pytest.raises(InvalidInput, match="too short"):
        w2v_bert_features(np.zeros(559, np.float32))
    with pytest.raises(InvalidInput, match="mono"):
        w2v_bert_features(np.zeros((2, 1000), np.float32))
    with pytest.raises(InvalidInput, match="NaN"):
        w2v_bert_features(np.full(1000, np.nan, np.float32))
    with pytest.raises(InvalidInput, match="frame_length"):
        FbankConfig(frame_length=600)
    # silence: every bin at the floor, zero variance -> zeros, not NaN
    assert np.array_equal(w2v_bert_features(np.zeros(1000, np.float32)), np.zeros((2, 160), np.float32))
