"""Semantic units (pipelines/semantic_units.py): the exported HuBERT-to-layer-k graph plus nearest-centroid search on
the native RVQ encoder equals torch (the reference model's features at output_layer k, argmin of the squared
distance to the centroids), at 16 kHz and through resampling; the int8 variant's features and units; the
one-stage search against brute force (ties, batches, empty input); the component's checks."""
import numpy as np
import pytest

from voxlite.errors import BundleError, InvalidInput
from voxlite.pipelines.semantic_units import (CENTROIDS, GRAPH, KIND, SemanticUnits, SemanticUnitsHParams,
                                              assign_units, normalize_waveform)

LAYER, N_CLUSTERS = 2, 17


def _speechy(n: int, rate: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed)
    t = np.arange(n) / rate
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    wav = sum(np.sin(2 * np.pi * np.cumsum(f0) / rate * h) / h for h in range(1, 5)) * (0.6 + 0.4 * np.sin(5 * t))
    return (0.2 * wav + 0.03 * g.standard_normal(n)).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from export.hubert import export_semantic_units, load_model, random_centroids

    model = load_model(None, "tiny", seed=3, trust_pickle=False)
    centroids = random_centroids(model, LAYER, N_CLUSTERS, seed=3)
    out = export_semantic_units(model, centroids, tmp_path_factory.mktemp("units") / "bundle", layer=LAYER,
                                precisions=("fp32", "int8"), log=None)
    from voxlite.bundle import open_bundle

    return torch, model, centroids, open_bundle(out)


def _torch_units(torch, model, centroids, samples):
    with torch.no_grad():
        feats = model(torch.from_numpy(samples)[None], output_layer=LAYER)[0].double()
    c = torch.from_numpy(np.asarray(centroids)).double()
    d2 = (feats[:, None, :] - c[None]).pow(2).sum(-1)  # (T, K) squared distances
    return feats.numpy(), d2.argmin(dim=1).numpy(), d2.numpy()


def _assert_units_equal(got, want, d2):
    """Equal, except where the two nearest centroids are within float32 rounding of each other (none expected)."""
    s = np.sort(d2, axis=1)
    ambiguous = (s[:, 1] - s[:, 0]) < 1e-4 * np.maximum(1.0, s[:, 0])
    assert np.array_equal(got[~ambiguous], want[~ambiguous]) and ambiguous.sum() <= 1


def test_units_equal_torch_at_16k(exported):
    torch, model, centroids, bundle = exported
    units = SemanticUnits(bundle, precision="fp32")
    hp = units.hparams
    assert (hp.layer, hp.n_clusters, hp.dim, hp.sample_rate) == (LAYER, N_CLUSTERS, 32, 16000)
    assert (hp.hop_length, hp.receptive_field) == (model.config.hop_length, model.config.receptive_field)
    wav = _speechy(6000, 16000, seed=1)
    want_feats, want_units, d2 = _torch_units(torch, model, centroids, wav)
    feats = units.features(wav, 16000)
    assert feats.shape == (hp.n_units(6000), 32) == (model.config.n_frames(6000), 32)
    np.testing.assert_allclose(feats, want_feats, atol=1e-4, rtol=0)
    got = units.units(wav, 16000)
    assert got.dtype == np.int64 and got.shape == want_units.shape
    _assert_units_equal(got, want_units, d2)
    assert len(set(got.tolist())) > N_CLUSTERS // 2  # the test exercises many clusters, not one


def test_resampled_input(exported):
    torch, model, centroids, bundle = exported
    from voxlite.audio import Audio, resample

    units = SemanticUnits(bundle, precision="fp32")
    wav = _speechy(8820, 22050, seed=2)
    at16 = resample(wav, 22050, 16000)
    _, want, d2 = _torch_units(torch, model, centroids, at16)
    _assert_units_equal(units(wav, 22050), want, d2)
    _assert_units_equal(units(Audio(wav, 22050)), want, d2)


def test_int8_variant(exported):
    torch, model, centroids, bundle = exported
    units = SemanticUnits(bundle, precision="int8")
    wav = _speechy(6000, 16000, seed=4)
    want_feats, want_units, _ = _torch_units(torch, model, centroids, wav)
    feats = units.features(wav, 16000)
    assert units.sessions.graph_precisions[f"{units.component}/{GRAPH}"] == "int8"
    err = feats - want_feats
    snr = 10 * np.log10(np.sum(want_feats ** 2) / np.sum(err ** 2))
    # tiny random model (width 32, 17 clusters), model seeds 0/1/3 x 3 inputs: 19.7-25.8 dB, 87-96 % of units equal
    assert snr >= 15.0, snr  # export.hubert.MIN_SNR_DB["int8"]
    agree = np.mean(assign_units(feats, centroids) == want_units)
    assert agree >= 0.8, agree


def test_component_checks(exported, tmp_path):
    _, model, centroids, bundle = exported
    from voxlite.bundle import BundleWriter, open_bundle

    with pytest.raises(InvalidInput, match="too short"):
        SemanticUnits(bundle).units(np.zeros(model.config.receptive_field - 1, np.float32), 16000)
    with pytest.raises(InvalidInput, match="sample_rate"):
        SemanticUnits(bundle).units(np.zeros(1000, np.float32))
    # centroids that do not match the hparams are refused at load
    c = bundle.component("semantic")
    writer = BundleWriter(tmp_path / "bad", model_type="graph", name="bad", sample_rate=16000)
    writer.component("semantic", kind=KIND, hparams={**c.hparams, "n_clusters": N_CLUSTERS + 1})
    writer.add_graph(GRAPH, "fp32", bundle.root / c.graphs[GRAPH].files["fp32"], component="semantic")
    writer.add_tensor(CENTROIDS, np.asarray(centroids, np.float32), component="semantic")
    with pytest.raises(BundleError, match="centroids"):
        SemanticUnits(open_bundle(writer.finish()))


def test_normalize_waveform_is_fairseqs_layer_norm():
    torch = pytest.importorskip("torch")
    wav = _speechy(3000, 16000, seed=5) + 0.1
    want = torch.nn.functional.layer_norm(torch.from_numpy(wav), (wav.size,)).numpy()
    np.testing.assert_allclose(normalize_waveform(wav), want, atol=1e-5)


# -- the search, numpy only --------------------------------------------------------------------------------------
def test_assign_units_is_nearest_centroid():
    g = np.random.default_rng(0)
    feats, cents = g.standard_normal((2, 50, 24)).astype(np.float32), g.standard_normal((40, 24)).astype(np.float32)
    d2 = ((feats.astype(np.float64)[:, :, None] - cents[None, None]) ** 2).sum(-1)
    want = d2.argmin(-1)
    got = assign_units(feats, cents)
    assert got.shape == (2, 50) and got.dtype == np.int64
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(assign_units(feats[1], cents), want[1])
    # ties -> the lowest index (as numpy's argmin and scikit-learn's predict)
    dup = np.concatenate([cents[:3], cents[:3]])
    np.testing.assert_array_equal(assign_units(dup[[4, 5, 3]], dup), [1, 2, 0])
    assert assign_units(np.zeros((0, 24), np.float32), cents).shape == (0,)
    with pytest.raises(InvalidInput, match="features"):
        assign_units(feats[0, :, :8], cents)
    with pytest.raises(InvalidInput, match="centroids"):
        assign_units(feats, cents[0])


def test_hparams_units_count():
    hp = SemanticUnitsHParams(layer=9, n_clusters=500, dim=768)
    assert (hp.frame_rate, hp.n_units(399), hp.n_units(400), hp.n_units(16000), hp.n_units(16080)) == \
        (50.0, 0, 1, 49, 50)
    with pytest.raises(BundleError, match="n_clusters"):
        SemanticUnitsHParams.from_json({"layer": 9, "n_clusters": 0, "dim": 768})


def test_prenorm_variant_with_waveform_normalisation(tmp_path):
    """The "large" layout (layer-norm extractor with conv biases, pre-norm layers) at its last layer, exported with
    ``normalize``: the pipeline normalises the waveform as fairseq does before the graph."""
    torch = pytest.importorskip("torch")
    from export.hubert import export_semantic_units, random_centroids
    from voxlite.bundle import open_bundle
    from voxlite.models.hubert import Hubert, HubertConfig

    torch.manual_seed(0)
    model = Hubert(HubertConfig.tiny(feat_extract_norm="layer", stable_layer_norm=True, conv_bias=True)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    centroids = random_centroids(model, 3, 9, seed=0)
    units = SemanticUnits(open_bundle(export_semantic_units(model, centroids, tmp_path / "b", layer=3,
                                                            normalize=True, log=None)))
    assert units.hparams.normalize and units.hparams.layer == 3
    wav = _speechy(5000, 16000, seed=6) + 0.05  # a DC offset the normalisation removes
    with torch.no_grad():
        want = model(torch.from_numpy(normalize_waveform(wav))[None], output_layer=3)[0].numpy()
    np.testing.assert_allclose(units.features(wav, 16000), want, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(units.units(wav, 16000), assign_units(want, centroids))
