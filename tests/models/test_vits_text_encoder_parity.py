"""The VITS text encoder vs transformers' ``VitsModel.text_encoder`` called as diffusers' AudioLDM 2 pipeline calls it
(``attention_mask=m, padding_mask=m[..., None]``, output ``[0]``), at a tiny config with every parameter perturbed;
an ONNX export with dynamic batch and length against onnxruntime; loading a save_pretrained folder."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from voxlite.convert.vits_text import config_of, convert_state_dict, load_official, load_official_dir  # noqa: E402
from voxlite.models.vits_text_encoder import VitsTextEncoder, VitsTextEncoderConfig  # noqa: E402

VOCAB = 40


def _official(seed: int = 0):
    from transformers import VitsConfig, VitsModel

    # the text encoder at the brief's sizes; the rest of VITS as small as it goes (it is dropped anyway)
    config = VitsConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, window_size=4,
                        ffn_dim=24, ffn_kernel_size=3, flow_size=8, spectrogram_bins=9, upsample_initial_channel=8,
                        upsample_rates=[2], upsample_kernel_sizes=[4], resblock_kernel_sizes=[3],
                        resblock_dilation_sizes=[[1]], duration_predictor_filter_channels=8,
                        posterior_encoder_num_wavenet_layers=1, prior_encoder_num_flows=1,
                        prior_encoder_num_wavenet_layers=1)
    torch.manual_seed(seed)
    model = VitsModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))  # so that any mix-up of weights shows
    return model


def _batch(batch: int, length: int, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (batch, length), generator=g)
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[-1, length // 2 + 1:] = 0  # the last row padded
    return ids, mask


def _pipeline_call(official, ids, mask):
    return official.text_encoder(ids, attention_mask=mask, padding_mask=mask.unsqueeze(-1))[0]


def test_config_and_keys():
    official = _official()
    cfg = config_of(official.config.to_dict())
    assert cfg == VitsTextEncoderConfig.tiny()
    converted = convert_state_dict(official.state_dict())
    assert {k: tuple(v.shape) for k, v in converted.items()} == \
        {k: tuple(v.shape) for k, v in VitsTextEncoder(cfg).state_dict().items()}
    assert VitsTextEncoderConfig.audioldm2_speech() == VitsTextEncoderConfig(vocab_size=183)


# lengths below, at and above the window (w + 1 = 5) take different pad / slice paths in transformers
@pytest.mark.parametrize("length", [3, 5, 11])
@torch.no_grad()
def test_matches_transformers(length):
    official = _official()
    ours = load_official(official.state_dict(), official.config.to_dict())
    ids, mask = _batch(2, length)
    want = _pipeline_call(official, ids, mask)
    got = ours(ids, mask)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert not got[-1, length // 2 + 1:].any()


@torch.no_grad()
def test_bare_text_encoder_state_dict():
    official = _official(seed=2)
    ours = load_official(official.text_encoder.state_dict(), official.config.to_dict())
    ids, mask = _batch(2, 9)
    torch.testing.assert_close(ours(ids, mask), _pipeline_call(official, ids, mask), atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_load_official_dir(tmp_path):
    official = _official(seed=3)
    official.save_pretrained(tmp_path)
    ours = load_official_dir(tmp_path)
    ids, mask = _batch(2, 8)
    torch.testing.assert_close(ours(ids, mask), _pipeline_call(official, ids, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_onnx_export_dynamic_batch_and_length(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    official = _official(seed=4)
    model = load_official(official.state_dict(), official.config.to_dict())
    path = tmp_path / "vits_text_encoder.onnx"
    torch.onnx.export(model, _batch(2, 7), str(path), dynamo=False, opset_version=17,
                      input_names=["input_ids", "padding_mask"], output_names=["hidden_states"],
                      dynamic_axes={name: {0: "batch", 1: "length"}
                                    for name in ("input_ids", "padding_mask", "hidden_states")})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, length in [(1, 1), (1, 4), (3, 13), (2, 40)]:
        ids, mask = _batch(batch, length, seed=length)
        (hidden,) = session.run(None, {"input_ids": ids.numpy(), "padding_mask": mask.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(hidden), _pipeline_call(official, ids, mask),
                                       atol=1e-5, rtol=1e-5)
