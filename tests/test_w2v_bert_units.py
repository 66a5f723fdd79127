"""w2v-BERT semantic units end to end (export/w2v_bert.py -> pipelines/semantic_units.py): audio -> the runtime's fbank
front end -> graph ``w2v_bert`` (layer k, features normalised per dimension) -> nearest centroid equals torch (the
reference model on the same front end, then argmin of the squared distance), at 16 kHz and through resampling;
the int8 (block-wise) variant; raw features without normalisation; short audio and the component's checks."""
import numpy as np
import pytest

from voxlite.dsp.fbank import w2v_bert_features
from voxlite.errors import BundleError, InvalidInput
from voxlite.pipelines.semantic_units import (CENTROIDS, KIND, W2V_BERT_GRAPH, SemanticUnits, SemanticUnitsHParams,
                                              assign_units)

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

LAYER, N_CLUSTERS = 2, 17


def _speechy(n: int, rate: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed)
    t = np.arange(n) / rate
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    wav = sum(np.sin(2 * np.pi * np.cumsum(f0) / rate * h) / h for h in range(1, 5)) * (0.6 + 0.4 * np.sin(5 * t))
    return (0.2 * wav + 0.03 * g.standard_normal(n)).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from export.w2v_bert import export_semantic_units, random_centroids, random_model
    from voxlite.bundle import open_bundle
    from voxlite.models.w2v_bert import W2VBertConfig

    model = random_model(W2VBertConfig.tiny(), seed=3)
    centroids = random_centroids(model, LAYER, N_CLUSTERS, seed=3, normalize_features=True)
    out = export_semantic_units(model, centroids, tmp_path_factory.mktemp("w2v") / "bundle", layer=LAYER,
                                precisions=("fp32", "int8"), normalize_features=True, log=None)
    return model, centroids, open_bundle(out)


def _torch_units(model, centroids, samples, layer=LAYER, normalize=True):
    from export.w2v_bert import UnitsEncoder

    with torch.no_grad():
        feats = UnitsEncoder(model, layer, normalize)(torch.from_numpy(w2v_bert_features(samples))[None])[0]
    c = torch.from_numpy(np.asarray(centroids)).double()
    d2 = (feats.double()[:, None, :] - c[None]).pow(2).sum(-1)  # (T, K) squared distances
    return feats.numpy(), d2.argmin(dim=1).numpy(), d2.numpy()


def _assert_units_equal(got, want, d2):
    """Equal, except where the two nearest centroids are within float32 rounding of each other (none expected)."""
    s = np.sort(d2, axis=1)
    ambiguous = (s[:, 1] - s[:, 0]) < 1e-4 * np.maximum(1.0, s[:, 0])
    assert np.array_equal(got[~ambiguous], want[~ambiguous]) and ambiguous.sum() <= 1


def test_units_equal_torch_at_16k(exported):
    model, centroids, bundle = exported
    units = SemanticUnits(bundle, precision="fp32")
    hp = units.hparams
    assert (hp.model, hp.layer, hp.n_clusters, hp.dim, hp.normalize_features) == ("w2v-bert", LAYER, N_CLUSTERS,
                                                                                   32, True)
    assert (hp.sample_rate, hp.hop_length, hp.receptive_field, hp.normalize) == (16000, 320, 560, False)
    assert units.graph == f"semantic/{W2V_BERT_GRAPH}"
    wav = _speechy(13041, 16000, seed=1)  # 80 fbank frames and 1 sample more -> 40 units
    want_feats, want_units, d2 = _torch_units(model, centroids, wav)
    feats = units.features(wav, 16000)
    assert feats.shape == (hp.n_units(13041), 32) == (40, 32)
    np.testing.assert_allclose(feats, want_feats, atol=1e-4, rtol=0)
    np.testing.assert_allclose(feats.mean(0), 0, atol=1e-4)  # normalised over the utterance
    got = units.units(wav, 16000)
    assert got.dtype == np.int64 and got.shape == want_units.shape
    _assert_units_equal(got, want_units, d2)
    assert len(set(got.tolist())) > N_CLUSTERS // 2  # the test exercises many clusters, not one


def test_resampled_input(exported):
    model, centroids, bundle = exported
    from voxlite.audio import Audio, resample

    units = SemanticUnits(bundle, precision="fp32")
    wav = _speechy(9000, 22050, seed=2)
    _, want, d2 = _torch_units(model, centroids, resample(wav, 22050, 16000))
    _assert_units_equal(units(wav, 22050), want, d2)
    _assert_units_equal(units(Audio(wav, 22050)), want, d2)


def test_int8_variant(exported):
    model, centroids, bundle = exported
    units = SemanticUnits(bundle, precision="int8")
    wav = _speechy(16000, 16000, seed=4)
    want_feats, want_units, _ = _torch_units(model, centroids, wav)
    feats = units.features(wav, 16000)
    assert units.sessions.graph_precisions[units.graph] == "int8"
    err = feats - want_feats
    snr = 10 * np.log10(np.sum(want_feats ** 2) / np.sum(err ** 2))
    # tiny random model, block-wise int8: 37.6-39.4 dB over 3 seeds (export.w2v_bert.MIN_SNR_DB["int8"] is 25)
    assert snr >= 25.0, snr
    agree = np.mean(assign_units(feats, centroids) == want_units)
    assert agree >= 0.85, agree


def test_short_audio_and_rate(exported):
    _, _, bundle = exported
    units = SemanticUnits(bundle, precision="fp32")
    with pytest.raises(InvalidInput, match="too short"):
        units.units(np.zeros(559, np.float32), 16000)
    assert units.units(_speechy(560, 16000, seed=5), 16000).shape == (1,)
    # 560 samples at 16 kHz are ~772 at 22.05 kHz: 700 are too short once resampled
    with pytest.raises(InvalidInput, match="too short"):
        units.units(np.zeros(700, np.float32), 22050)
    with pytest.raises(InvalidInput, match="sample_rate"):
        units.units(np.zeros(1000, np.float32))


def test_raw_features_without_normalisation(tmp_path):
    """``normalize_features`` off: the graph gives the layer's hidden state as it is (the last layer here)."""
    from export.w2v_bert import export_semantic_units, random_centroids, random_model
    from voxlite.bundle import open_bundle
    from voxlite.models.w2v_bert import W2VBertConfig

    model = random_model(W2VBertConfig.tiny(), seed=5)
    centroids = random_centroids(model, 3, 9, seed=5)
    units = SemanticUnits(open_bundle(export_semantic_units(model, centroids, tmp_path / "b", layer=3, log=None)))
    assert not units.hparams.normalize_features and units.hparams.layer == 3
    wav = _speechy(7000, 16000, seed=6)
    want, want_units, d2 = _torch_units(model, centroids, wav, layer=3, normalize=False)
    np.testing.assert_allclose(units.features(wav, 16000), want, atol=1e-4, rtol=0)
    _assert_units_equal(units.units(wav, 16000), want_units, d2)


def test_component_checks(exported, tmp_path):
    _, centroids, bundle = exported
    from voxlite.bundle import BundleWriter, open_bundle

    c = bundle.component("semantic")
    graph = bundle.root / c.graphs[W2V_BERT_GRAPH].files["fp32"]
    for i, (edit, match) in enumerate([({"hop_length": 160}, "fbank front end"),
                                       ({"model": "hubert"}, "no 'hubert' graph")]):
        writer = BundleWriter(tmp_path / f"bad{i}", model_type="graph", name="bad", sample_rate=16000)
        writer.component("semantic", kind=KIND, hparams={**c.hparams, **edit})
        writer.add_graph(W2V_BERT_GRAPH, "fp32", graph, component="semantic")
        writer.add_tensor(CENTROIDS, np.asarray(centroids, np.float32), component="semantic")
        with pytest.raises(BundleError, match=match):
            SemanticUnits(open_bundle(writer.finish()))


def test_older_hparams_stay_valid():
    """Bundles written before ``normalize_features`` existed read as False; "w2v-bert" is a known model."""
    old = SemanticUnitsHParams.from_json({"layer": 9, "n_clusters": 500, "dim": 768, "model": "hubert"})
    assert old.normalize_features is False
    hp = SemanticUnitsHParams.from_json({"layer": 7, "n_clusters": 8, "dim": 4, "model": "w2v-bert",
                                         "hop_length": 320, "receptive_field": 560, "normalize_features": True})
    assert hp.normalize_features and hp.model == "w2v-bert"
    with pytest.raises(BundleError, match="model"):
        SemanticUnitsHParams.from_json({"layer": 7, "n_clusters": 8, "dim": 4, "model": "w2v-bert-3"})
