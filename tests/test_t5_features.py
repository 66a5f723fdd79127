"""T5 text features (pipelines/t5_features.py, export/t5_features.py): a tiny gated-GELU transformers
``T5EncoderModel`` (T5 v1.1's MLP) and a T5 tokenizer trained here, saved as a transformers folder -> a
``t5-features`` component in a bundle of its own -> ``T5Features`` gives transformers' ``last_hidden_state`` of the
tokenizer's own truncated ids, on ONNX Runtime and OpenVINO; the int8 variant within its bound; typed errors for bad
captions and for components missing their parts."""
from __future__ import annotations

import logging

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("onnx")

from tests.models import audioldm2_official as official  # noqa: E402
from voxlite.bundle import BundleWriter, open_bundle  # noqa: E402
from voxlite.errors import BundleError, InvalidInput  # noqa: E402
from voxlite.hparams import COMPONENT_HPARAMS, T5FeaturesHParams, check_components  # noqa: E402
from voxlite.pipelines.t5_features import GRAPH, KIND, TOKENIZER, T5Features  # noqa: E402

MAX_LENGTH = 100
SHORT = "a dog barks in the distance"
# the tiny tokenizer cuts words it has not seen into letters: well over 100 ids
LONG = ("techno music with a strong upbeat tempo while thunder and heavy rain fall at night, birds singing in the "
        "forest at dawn, people talking in a cafe and a car passes by on a wet road; quiet hum of a refrigerator")
SIZES = dict(d_model=32, d_kv=8, num_heads=4, d_ff=64, num_layers=2, feed_forward_proj="gated-gelu",
             relative_attention_num_buckets=8, relative_attention_max_distance=16)


def _hf_t5(vocab: int, seed: int = 0):
    torch.manual_seed(seed)
    model = transformers.T5EncoderModel(transformers.T5Config(vocab_size=vocab, **SIZES)).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # every weight away from its init (norm gains too), so a mix-up of layers cannot pass
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A transformers T5 folder (config.json, model.safetensors, tokenizer.json) and the live objects."""
    root = tmp_path_factory.mktemp("t5-ckpt")
    tokenizer = official.t5_tokenizer(root, max_length=MAX_LENGTH)
    folder = root / "tiny-t5"
    model = _hf_t5(len(tokenizer))
    model.save_pretrained(str(folder))
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    return folder, model, tokenizer


@pytest.fixture(scope="module")
def bundle(checkpoint, tmp_path_factory):
    from export.t5_features import write_t5_features_component

    folder, _, _ = checkpoint
    out = tmp_path_factory.mktemp("t5-bundle") / "bundle"
    with BundleWriter(out, model_type="graph", name="tiny-t5", sample_rate=None, default_precision="fp32") as w:
        hp = write_t5_features_component(w, folder, tmp_path_factory.mktemp("t5-tmp"), precisions=("fp32", "int8"),
                                         log=None)
        w.finish()
    assert (hp.dim, hp.max_length, hp.config["feed_forward_proj"]) == (32, MAX_LENGTH, "gated-gelu")
    return open_bundle(out)


def _want(model, tokenizer, text: str) -> tuple[np.ndarray, np.ndarray]:
    ids = tokenizer(text, truncation=True, max_length=MAX_LENGTH).input_ids
    with torch.no_grad():
        hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
    return np.asarray(ids, np.int64), hidden.numpy()


@pytest.mark.parametrize("backend", ["cpu", "openvino"])
def test_features_equal_transformers(checkpoint, bundle, backend):
    if backend == "openvino":
        pytest.importorskip("openvino")
    _, model, tokenizer = checkpoint
    t5 = T5Features(bundle, backend=backend, precision="fp32")
    assert (t5.component, t5.dim, t5.max_length) == ("t5", 32, MAX_LENGTH)
    for text in (SHORT, LONG, "x"):
        want_ids, want = _want(model, tokenizer, text)
        np.testing.assert_array_equal(t5.tokens(text), want_ids)
        got = t5.features(text)
        assert got.dtype == np.float32 and got.shape == (want_ids.size, 32)
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
        assert np.abs(want).max() > 0.1  # not a near-zero output
    assert t5.sessions.graph_precisions["t5/encoder"] == "fp32"


def test_truncation_is_the_tokenizers(checkpoint, bundle, caplog):
    _, _, tokenizer = checkpoint
    t5 = T5Features(bundle)
    full = tokenizer(LONG).input_ids
    assert len(full) > MAX_LENGTH + 20
    with caplog.at_level(logging.WARNING, logger="voxlite.pipelines.t5_features"):
        ids = t5.tokens(LONG)
    assert ids.tolist() == tokenizer(LONG, truncation=True, max_length=MAX_LENGTH).input_ids
    assert ids.size == MAX_LENGTH and ids[-1] == tokenizer.eos_token_id  # cut text, </s> kept
    assert ids[:-1].tolist() == full[:MAX_LENGTH - 1]
    assert "cut to its first 100" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="voxlite.pipelines.t5_features"):
        short = t5.tokens(SHORT)
    assert short.tolist() == tokenizer(SHORT).input_ids and short[-1] == tokenizer.eos_token_id
    assert not caplog.text
    assert t5.features(LONG).shape == (MAX_LENGTH, 32)


def test_int8_variant(checkpoint, bundle):
    from export.t5_features import MIN_SNR_DB

    _, model, tokenizer = checkpoint
    t5 = T5Features(bundle, precision="int8")
    for text in (SHORT, LONG):
        _, want = _want(model, tokenizer, text)
        got = t5.features(text)
        snr = 10 * np.log10(np.sum(want.astype(np.float64) ** 2) / np.sum((got - want).astype(np.float64) ** 2))
        assert snr >= MIN_SNR_DB["int8"]["features"], snr
    assert t5.sessions.graph_precisions["t5/encoder"] == "int8"


def test_bad_captions_and_ids(bundle):
    t5 = T5Features(bundle)
    for bad in ("", "  \n", None, 3, b"rain", ["rain"]):
        with pytest.raises(InvalidInput, match="caption"):
            t5.features(bad)
    for ids in (np.zeros(0, np.int64), np.zeros((1, 3), np.int64), np.array([0.5]), np.array([-1]),
                np.array([t5.hparams.vocab])):
        with pytest.raises(InvalidInput, match="token ids"):
            t5.features_of(ids)
    np.testing.assert_array_equal(t5.features_of([5, 6, 1]), t5.features_of(np.array([5, 6, 1], np.int32)))


def _rewrite(src, out, *, kind=KIND, hparams=None, graph=True, tokenizer=True, name="t5", extra=None):
    """A copy of ``src``'s component with parts changed or left out."""
    c = src.component("t5")
    w = BundleWriter(out, model_type="graph", name="edited", sample_rate=None)
    for n in (name, *([extra] if extra else [])):
        w.component(n, kind=kind, hparams=c.hparams if hparams is None else hparams)
        if graph:
            w.add_graph(GRAPH, "fp32", src.root / c.graphs[GRAPH].files["fp32"], component=n)
        if tokenizer:
            w.add_component_file(n, TOKENIZER, src.component_file("t5", TOKENIZER), "tokenizer.json")
    return open_bundle(w.finish())


def test_component_checks(bundle, tmp_path):
    hp = bundle.component("t5").hparams
    with pytest.raises(BundleError, match="no 'tokenizer' file"):
        T5Features(_rewrite(bundle, tmp_path / "a", tokenizer=False))
    with pytest.raises(BundleError, match="no 'encoder' graph"):
        T5Features(_rewrite(bundle, tmp_path / "b", graph=False))
    with pytest.raises(BundleError, match="max_length"):
        T5Features(_rewrite(bundle, tmp_path / "c", hparams={**hp, "max_length": 0}))
    with pytest.raises(BundleError, match="dim is missing"):
        T5Features(_rewrite(bundle, tmp_path / "d", hparams={k: v for k, v in hp.items() if k != "dim"}))
    two = _rewrite(bundle, tmp_path / "e", extra="t5b")
    with pytest.raises(BundleError, match="has 2"):
        T5Features(two)
    assert T5Features(two, component="t5b").component == "t5b"  # named: either one
    other = _rewrite(bundle, tmp_path / "f", kind="graph", name="model")
    with pytest.raises(BundleError, match="has 0"):
        T5Features(other)
    with pytest.raises(BundleError, match="not 't5-features'"):
        T5Features(other, component="model")
    # a tokenizer that gives ids the encoder has no row for (a hand-assembled bundle; the exporter refuses it)
    small = _rewrite(bundle, tmp_path / "g", hparams={**hp, "vocab": 20, "config": {**hp["config"], "vocab": 20}})
    with pytest.raises(BundleError, match="embedding rows"):
        T5Features(small).features(LONG)


def test_hparams():
    assert COMPONENT_HPARAMS[KIND] is T5FeaturesHParams
    hp = T5FeaturesHParams(dim=768, vocab=32128, config={"dim": 768, "vocab": 32128})
    assert hp.max_length == 100 and T5FeaturesHParams.from_json(hp.to_json()) == hp
    with pytest.raises(BundleError, match="dim: 512 differs"):
        T5FeaturesHParams.from_json({"dim": 512, "vocab": 32128, "config": {"dim": 768}})
    with pytest.raises(BundleError, match="model must be one of"):
        T5FeaturesHParams.from_json({"dim": 8, "vocab": 9, "model": "bert"})


def test_bundle_loads_with_checked_components(bundle):
    check_components(bundle)  # what voxlite.load runs: the t5-features hparams are typed


def test_random_parts_and_export_refusals(checkpoint, tmp_path):
    from export import ExportError
    from export.t5_features import random_t5_parts, write_t5_features_component

    folder, _, tokenizer = checkpoint
    parts = random_t5_parts(3, folder / "tokenizer.json")
    assert parts.model.config.vocab == len(tokenizer) and parts.model.config.feed_forward_proj == "gated-gelu"
    assert random_t5_parts(1, folder / "tokenizer.json", dim=48).model.config.dim == 48  # e.g. a consumer's width
    with BundleWriter(tmp_path / "r", model_type="graph", name="r", sample_rate=None) as w:
        write_t5_features_component(w, parts, tmp_path / "tmp", name="caption", max_length=12, log=None)
        out = w.finish()
    t5 = T5Features(open_bundle(out))
    assert t5.component == "caption" and t5.max_length == 12
    ids = t5.tokens(LONG)
    assert ids.tolist() == tokenizer(LONG, truncation=True, max_length=12).input_ids
    with torch.no_grad():
        want = parts.model(torch.from_numpy(ids)[None])[0].numpy()
    np.testing.assert_allclose(t5.features(LONG), want, atol=1e-4, rtol=0)

    from voxlite.models.t5_encoder import T5EncoderConfig

    narrow = random_t5_parts(0, folder / "tokenizer.json", T5EncoderConfig.tiny(vocab=len(tokenizer) - 1))
    w = BundleWriter(tmp_path / "x", model_type="graph", name="x", sample_rate=None)
    with pytest.raises(ExportError, match="embedding rows"):
        write_t5_features_component(w, narrow, tmp_path / "tmp2", log=None)
    with pytest.raises(ExportError, match="max_length"):
        write_t5_features_component(w, parts, tmp_path / "tmp2", max_length=0, log=None)
    with pytest.raises(ExportError, match="cannot read a T5 encoder"):
        write_t5_features_component(w, tmp_path, tmp_path / "tmp2", log=None)
    w.abort()
