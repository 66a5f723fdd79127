"""wav2vec 2.0 (XLSR-53's family) on the HuBERT reference (models/hubert.py) vs transformers' Wav2Vec2Model at tiny
configs with random weights (every weight, norm gains and biases included, moved far from its init): both variants
(group-norm extractor + post-norm encoder, layer-norm extractor + stable layer norm as XLSR-53), ``hidden_states[k]``
against ours at ``output_layer=k`` for every k and the full output; the pre-training / CTC checkpoints' prefix and
heads; the refusals (adapters, another model's config). Then the exported semantic-units component
(``python -m export hubert --checkpoint <wav2vec2 folder>``): the model type and waveform normalisation read from
the folder, its fp32 graph's features against transformers' hidden state tight, int8 within the exporter's bound."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from voxlite.convert import hubert as hubert_conv  # noqa: E402
from voxlite.convert.wav2vec2 import config_of, convert_state_dict, load_official, load_official_dir  # noqa: E402
from voxlite.models.hubert import HubertConfig  # noqa: E402

VARIANTS = {"group": dict(do_stable_layer_norm=False, feat_extract_norm="group", conv_bias=False),
            "layer": dict(do_stable_layer_norm=True, feat_extract_norm="layer", conv_bias=True)}
_TINY = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37, conv_dim=(16, 16, 16),
             conv_stride=(5, 2, 2), conv_kernel=(10, 3, 3), num_conv_pos_embeddings=16,
             num_conv_pos_embedding_groups=4, codevector_dim=12, proj_codevector_dim=12, num_codevectors_per_group=5,
             vocab_size=11)


def _official(variant: str, seed: int = 0, cls=None, scale: float = 0.5, **overrides):
    torch.manual_seed(seed)
    cls = cls or transformers.Wav2Vec2Model
    model = cls(transformers.Wav2Vec2Config(**{**_TINY, **VARIANTS[variant], **overrides})).eval()
    with torch.no_grad():
        for p in model.parameters():  # norm gains and biases too: a swapped or missing norm cannot pass
            p.add_(scale * torch.randn_like(p))
    return model


@pytest.fixture(scope="module", params=list(VARIANTS))
def official(request):
    return request.param, _official(request.param)


def _close(got, want):
    # fp32, same operations in another order; pre-norm residuals grow, so the bound scales with the output
    torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-6 * max(1.0, want.abs().max().item()))


@torch.no_grad()
def test_every_layer_matches_hidden_states(official):
    variant, model = official
    ours = load_official(model.state_dict(), model.config.to_dict())
    assert ours.config.stable_layer_norm == (variant == "layer")
    assert ours.config.feat_extract_norm == variant and ours.config.feat_proj_layer_norm
    wav = torch.randn(2, 1003, generator=torch.Generator().manual_seed(1))
    out = model(wav, output_hidden_states=True)
    assert len(out.hidden_states) == ours.config.n_layers + 1
    for k, want in enumerate(out.hidden_states):
        got = ours(wav, output_layer=k)
        assert got.shape == want.shape == (2, ours.config.n_frames(1003), 32)
        _close(got, want)
    _close(ours(wav, output_layer=None), out.last_hidden_state)


@torch.no_grad()
@pytest.mark.parametrize("cls", ["Wav2Vec2ForPreTraining", "Wav2Vec2ForCTC"])
def test_task_checkpoints_drop_their_heads(cls):
    """XLSR-53 is published as Wav2Vec2ForPreTraining (quantizer, project_hid, project_q beside ``wav2vec2.``)."""
    model = _official("layer", seed=2, cls=getattr(transformers, cls))
    state = model.state_dict()
    assert any(not k.startswith("wav2vec2.") for k in state)  # the heads are there to drop
    ours = load_official(state, model.config.to_dict(), output_layer=3)
    wav = torch.randn(1, 800, generator=torch.Generator().manual_seed(3))
    _close(ours(wav), model.wav2vec2(wav, output_hidden_states=True).hidden_states[3])


def test_published_sizes():
    assert config_of(transformers.Wav2Vec2Config().to_dict()) == HubertConfig.base()  # wav2vec2-base
    # facebook/wav2vec2-large-xlsr-53's encoder fields (its config.json, written out here: nothing is downloaded)
    xlsr = transformers.Wav2Vec2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                       intermediate_size=4096, feat_extract_norm="layer", do_stable_layer_norm=True,
                                       conv_bias=True, mask_time_prob=0.075, layerdrop=0.1)
    assert config_of(xlsr.to_dict()) == HubertConfig.large()


def test_refusals(official):
    _, model = official
    cfg = model.config.to_dict()
    with pytest.raises(ValueError, match="add_adapter"):
        config_of({**cfg, "add_adapter": True})
    with pytest.raises(ValueError, match="adapter_attn_dim"):
        config_of({**cfg, "adapter_attn_dim": 16})
    with pytest.raises(ValueError, match="not 'wav2vec2'"):
        config_of({**cfg, "model_type": "wavlm"})
    with pytest.raises(ValueError, match="voxlite.convert.wav2vec2"):  # HuBERT's converter sends it here
        hubert_conv.config_of(cfg)
    with pytest.raises(ValueError, match="not 'hubert'"):
        hubert_conv.config_of({**cfg, "model_type": "data2vec-audio"})
    state = dict(model.state_dict())
    state["classifier.weight"] = torch.zeros(2, 32)  # a sequence-classification head is not dropped silently
    with pytest.raises(ValueError, match="unexpected wav2vec 2.0 key"):
        convert_state_dict(state, model.config.do_stable_layer_norm)
    state = {k: v for k, v in model.state_dict().items()}
    state["adapter.layers.0.conv.weight"] = torch.zeros(64, 32, 3)
    with pytest.raises(ValueError, match="unexpected wav2vec 2.0 key"):
        convert_state_dict(state, model.config.do_stable_layer_norm)


@torch.no_grad()
def test_load_official_dir(tmp_path):
    model = _official("group", seed=4, cls=transformers.Wav2Vec2ForPreTraining)
    model.save_pretrained(tmp_path)
    ours = load_official_dir(tmp_path, output_layer=1)
    wav = torch.randn(1, 400, generator=torch.Generator().manual_seed(5))
    _close(ours(wav), model.wav2vec2(wav, output_hidden_states=True).hidden_states[1])


# -- the exported component --------------------------------------------------------------------------------------
def _speechy(n: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    wav = sum(np.sin(2 * np.pi * np.cumsum(f0) / 16000 * h) / h for h in range(1, 5)) * (0.6 + 0.4 * np.sin(5 * t))
    return (0.2 * wav + 0.03 * g.standard_normal(n) + 0.05).astype(np.float32)  # a DC offset to normalise away


def _checkpoint_dir(path, variant: str, do_normalize: bool | None, seed: int):
    model = _official(variant, seed=seed, cls=transformers.Wav2Vec2ForPreTraining, scale=0.1)
    model.save_pretrained(path)
    if do_normalize is not None:  # as the published folders have it (XLSR-53: true)
        (path / "preprocessor_config.json").write_text(json.dumps({
            "do_normalize": do_normalize, "feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1,
            "padding_side": "right", "padding_value": 0.0, "return_attention_mask": True, "sampling_rate": 16000}))
    return model


LAYER = 2


@pytest.mark.parametrize("variant,do_normalize,flag,normalize", [
    ("layer", True, None, True),  # XLSR-53's layout: the folder's do_normalize is the component's
    ("group", None, None, False),  # no preprocessor config: off
    ("group", True, "--no-normalize", False),  # the command line wins
])
def test_exported_component_against_transformers(tmp_path, variant, do_normalize, flag, normalize):
    pytest.importorskip("onnx")
    from export.hubert import MIN_SNR_DB, main, random_centroids
    from voxlite.bundle import open_bundle
    from voxlite.pipelines.semantic_units import SemanticUnits, assign_units, normalize_waveform

    folder = tmp_path / "w2v"
    model = _checkpoint_dir(folder, variant, do_normalize, seed=6)
    ours = load_official_dir(folder)
    centroids = random_centroids(ours, LAYER, 13, seed=6)
    np.save(tmp_path / "km.npy", centroids)
    xlsr = variant == "layer"
    precisions = ["fp32", "int8"] if xlsr else ["fp32"]
    argv = ["--checkpoint", str(folder), "--layer", str(LAYER), "--centroids", str(tmp_path / "km.npy"),
            "--out", str(tmp_path / "bundle"), "--precision", *precisions] + ([flag] if flag else [])
    assert main(argv) == 0
    bundle = open_bundle(tmp_path / "bundle")
    assert bundle.name == f"wav2vec2-l{LAYER}-km13" and bundle.manifest.raw["provenance"]["family"] == "wav2vec2"
    units = SemanticUnits(bundle, precision="fp32")
    hp = units.hparams
    assert (hp.model, hp.normalize, hp.layer, hp.n_clusters, hp.dim) == ("wav2vec2", normalize, LAYER, 13, 32)

    wav = _speechy(6000, seed=7)
    graph_in = normalize_waveform(wav) if normalize else wav
    with torch.no_grad():
        want = model.wav2vec2(torch.from_numpy(graph_in)[None], output_hidden_states=True).hidden_states[LAYER]
    want = want[0].numpy()
    feats = units.features(wav, 16000)
    assert feats.shape == want.shape == (hp.n_units(6000), 32)
    np.testing.assert_allclose(feats, want, atol=1e-5 * max(1.0, np.abs(want).max()), rtol=0)  # measured <= 2.2e-6
    np.testing.assert_array_equal(units.units(wav, 16000), assign_units(feats, centroids))
    if xlsr:
        q = SemanticUnits(bundle, precision="int8").features(wav, 16000)
        snr = 10 * np.log10(np.sum(want ** 2) / np.sum((q - want) ** 2))
        assert snr >= MIN_SNR_DB["int8"]["features"], snr  # measured 26.6-29.3 dB over 3 model seeds x 2 inputs


def test_export_refuses_other_model_types(tmp_path):
    from export import ExportError
    from export.hubert import load_checkpoint

    model = _official("group", seed=8, scale=0.0)
    model.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "model_type": "wavlm"}))
    with pytest.raises(ExportError, match="model_type 'wavlm' is not supported"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "add_adapter": True}))
    with pytest.raises(ExportError, match="add_adapter"):
        load_checkpoint(tmp_path)
