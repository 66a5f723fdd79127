"""UniAudio's SoundStream codec vs outputs of the official UniAudio code, through committed fixture files.

``tests/fixtures/uniaudio/codec_*`` were made by running the official ``SoundStream`` (commit c1146a8c of the
UniAudio repository) at a tiny size (n_filters 3, D 12, 3 codebooks of 1024) with random weights on 0.5 s of
noise: the state dict with official key names (weight_g / weight_v, RVQ buffers), the encoder latent, the codes,
the dequantized latent, the decoded audio, and AudioTokenizer's flat token layout. The codebooks were spread over
the latent so that every stage picks varied codes.

Codes flip when the latent moves by ~5e-6 (codec_config.json), so codes are computed from the *stored* encoder
latent and decoding starts from the *stored* codes; the end-to-end codes from the waveform are checked as well
(they match on this machine). Tolerances: 1e-5 absolute on floats, ids exact.
"""
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from safetensors.torch import load_file  # noqa: E402

from voxlite.convert.common import load_strict  # noqa: E402
from voxlite.convert.soundstream import config_from_state, convert_state_dict, load_official, unwrap  # noqa: E402
from voxlite.models.soundstream import (SoundStream, config_from_official, flatten_codes, tiny,  # noqa: E402
                                        uniaudio_16khz, unflatten_codes)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "uniaudio"
ATOL = 1e-5


@pytest.fixture(scope="module")
def fixture():
    state = load_file(str(FIXTURES / "codec_state_dict.safetensors"))
    io = dict(np.load(FIXTURES / "codec_io.npz"))
    config = json.loads((FIXTURES / "codec_config.json").read_text())
    return state, {k.split("/", 1)[1]: torch.from_numpy(v) for k, v in io.items()}, config


@pytest.fixture(scope="module")
def codec(fixture):
    state, _, config = fixture
    return load_official(state, config_from_official(config["constructor_kwargs"]))


def _close(got, want):
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=ATOL, rtol=0)


def test_config_matches_the_official_constructor(fixture):
    state, _, config = fixture
    cfg = config_from_official(config["constructor_kwargs"])
    derived = config["derived"]
    assert cfg.hop_length == derived["hop_length"] and cfg.frame_rate == derived["frame_rate"]
    assert cfg.n_q == derived["n_q_total"] and cfg.dimension == derived["quantizer_kwargs"]["dimension"]
    assert SoundStream(cfg).n_q_for_bandwidth(1.5) == derived["n_q_at_1.5kbps"]
    assert cfg == tiny()
    # the same sizes from the weights' shapes alone
    assert config_from_state(state) == cfg
    big = uniaudio_16khz()
    assert (big.n_filters, big.dimension, big.n_q, big.hop_length, big.causal) == (32, 256, 12, 320, False)


@torch.no_grad()
def test_encoder(codec, fixture):
    _, io, _ = fixture
    _close(codec.encode_latents(io["input_wav"]), io["encoder_out"])


@torch.no_grad()
def test_codes_from_the_stored_latent(codec, fixture):
    _, io, _ = fixture
    want = io["codes"].permute(1, 0, 2)  # official (n_q, B, T) -> ours (B, n_q, T)
    assert torch.equal(codec.quantizer.encode(io["encoder_out"], 3), want)
    assert all(len(want[0, q].unique()) > 5 for q in range(3))  # a wrong codebook mapping cannot hide
    # end to end from the waveform, at the LM's bandwidth (1.5 kbps = 3 codebooks)
    assert torch.equal(codec.encode_bandwidth(io["input_wav"], 1.5), want)


@torch.no_grad()
def test_dequantize_and_decode_from_the_stored_codes(codec, fixture):
    _, io, _ = fixture
    codes = io["codes"].permute(1, 0, 2)
    _close(codec.quantizer.decode(codes), io["quantized"])
    _close(codec.decode(codes), io["decoded_wav"])
    assert io["decoded_wav"].std() > 1e-3  # not a trivially small output


@torch.no_grad()
def test_audiotokenizer_flat_layout(codec, fixture):
    _, io, _ = fixture
    flat = io["audiotokenizer_flat_tokens"]
    codes = io["codes"][:, 0]  # (n_q, T)
    assert torch.equal(flatten_codes(codes), flat)  # frame-major, code + 1024 * codebook
    assert torch.equal(unflatten_codes(flat, 3), codes)
    assert torch.equal(codec.tokenize(io["input_wav"][0]), flat)
    _close(codec.detokenize(flat), io["audiotokenizer_detokenized_wav"])
    with pytest.raises(ValueError):
        unflatten_codes(flat[:-1], 3)  # not whole frames
    masked = flat.clone()
    masked[:3] = 3 * 1024  # the speech-edit mask id is not a code
    with pytest.raises(ValueError):
        unflatten_codes(masked, 3)


def test_converter_keys_and_checkpoint_wrapping(fixture):
    state, _, _ = fixture
    converted = convert_state_dict(state)
    assert converted["quantizer.codebooks"].shape == (3, 1024, 12)
    assert not any(k.endswith(("weight_g", "weight_v")) or "_codebook" in k for k in converted)
    wrapped = {"codec_model": {f"module.{k}": v for k, v in state.items()}, "step": 5}
    assert unwrap(wrapped).keys() == state.keys()
    ours = SoundStream(tiny())
    load_strict(ours, convert_state_dict(wrapped))
    with pytest.raises(ValueError):
        config_from_official({"n_filters": 3, "D": 12, "target_bandwidths": [1.5], "causal": True})
    with pytest.raises(ValueError):
        unwrap({"decoder.model.0.conv.conv.bias": torch.zeros(1)})


def test_checkpoint_file_with_config_yaml(fixture, tmp_path):
    """The release layout: ckpt .pth holding ``codec_model`` + config.yaml (generator.config) beside it."""
    state, io, config = fixture
    torch.save({"codec_model": state}, tmp_path / "ckpt_00000001.pth")
    kw = config["constructor_kwargs"]
    lines = ["generator:", "  name: SoundStream", "  config:"] + [f"    {k}: {json.dumps(v)}" for k, v in kw.items()]
    (tmp_path / "config.yaml").write_text("\n".join(lines) + "\n")
    model = load_official(tmp_path)
    assert model.cfg == tiny()
    with torch.no_grad():
        assert torch.equal(model.quantizer.encode(io["encoder_out"], 3), io["codes"].permute(1, 0, 2))


def test_exported_bundle_matches_the_official_outputs(fixture, tmp_path):
    """Official checkpoint layout -> ``export codec --family soundstream`` -> bundle (ONNX graphs + native RVQ):
    the fixture's codes from its waveform, and its decoded audio from its codes."""
    pytest.importorskip("onnx")
    import voxlite
    from export.codec import FAMILIES, export_codec

    state, io, config = fixture
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    torch.save({"codec_model": state}, ckpt / "ckpt_00000001.pth")
    parts = FAMILIES["soundstream"](str(ckpt), "tiny", 0)  # no config.yaml: the --config preset
    assert parts.config_source == "preset tiny" and parts.hop_length == 320 and parts.rvq.n_q == 3
    bundle = export_codec(parts, tmp_path / "bundle", precisions=("fp32",), log=lambda *_: None,
                          provenance={"weights": "UniAudio parity fixture (random)"})
    model = voxlite.load(bundle, backend="cpu")
    assert model.sample_rate == 16_000
    codes = io["codes"].permute(1, 0, 2).numpy()
    np.testing.assert_array_equal(model.encode(io["input_wav"][0, 0].numpy(), 16_000), codes)
    np.testing.assert_allclose(model.decode(codes).samples, io["decoded_wav"][0, 0].numpy(), atol=ATOL, rtol=0)
