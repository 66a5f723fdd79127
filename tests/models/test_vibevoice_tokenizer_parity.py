"""VibeVoice tokenizers vs vibevoice 0.0.1, through a committed fixture.

vibevoice pins transformers 4.51.3, which cannot live beside this environment's transformers 5.x, so the official
outputs come from ``tests/fixtures/vibevoice_tokenizer_tiny.npz``, written by
``tests/fixtures/make_vibevoice_tokenizer_fixture.py`` in an environment holding the official package (tiny configs,
seeded random weights, fixed inputs). Here: convert its state dicts, build ours from its configs, compare.
"""
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from voxlite.convert.common import load_strict  # noqa: E402
from voxlite.convert.vibevoice_tokenizer import convert_state_dict, load_official  # noqa: E402
from voxlite.models.vibevoice_tokenizer import (VibeVoiceAcousticTokenizer, VibeVoiceSemanticTokenizer,  # noqa: E402
                                                VibeVoiceTokenizerConfig)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "vibevoice_tokenizer_tiny.npz"
SAMPLE_SEED = 1234  # as in the generator
STREAM_FRAMES = [1, 2, 3]
STREAM_HOPS = [1, 2]
TOL = dict(atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def fixture():
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


def _case(fixture, name):
    prefix = f"{name}/"
    arrays = {k[len(prefix):]: v for k, v in fixture.items() if k.startswith(prefix)}
    state = {k[len("state/"):]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("state/")}
    other = {k: v for k, v in arrays.items() if not k.startswith("state/")}
    return json.loads(str(other.pop("config"))), state, {k: torch.from_numpy(v) for k, v in other.items()}


def _build(fixture, name):
    config, state, data = _case(fixture, name)
    semantic = name.startswith("semantic")
    cfg = VibeVoiceTokenizerConfig.from_official(config, semantic=semantic)
    model = (VibeVoiceSemanticTokenizer if semantic else VibeVoiceAcousticTokenizer)(cfg).eval()
    load_strict(model, convert_state_dict(state, "semantic_tokenizer" if semantic else "acoustic_tokenizer"))
    return model, data


@pytest.fixture(scope="module", params=["acoustic", "acoustic_alt", "semantic"])
def built(request, fixture):
    return request.param, *_build(fixture, request.param)


@pytest.fixture(scope="module", params=["acoustic", "acoustic_alt"])
def acoustic(request, fixture):
    return request.param, *_build(fixture, request.param)


def test_encode_matches_official_mean(built):
    _, model, data = built
    with torch.no_grad():
        got = model.encode(data["wav"])
    ref = data["mean"].transpose(1, 2)  # the official mean is (B, T, D)
    hop = model.config.hop_length
    assert data["wav"].shape[-1] % hop  # a ragged tail: the right padding to whole frames is exercised
    assert got.shape == ref.shape == (2, model.config.vae_dim, -(-data["wav"].shape[-1] // hop))
    torch.testing.assert_close(got, ref, **TOL)


def test_decode_matches_official(acoustic):
    _, model, data = acoustic
    with torch.no_grad():
        got = model.decode(data["latents"])
    assert got.shape == data["decoded"].shape == (2, 1, data["latents"].shape[-1] * model.config.decoder_hop)
    assert data["decoded"].std() > 0.3  # the random weights give a signal, not silence
    torch.testing.assert_close(got, data["decoded"], **TOL)


def test_sample_matches_official(acoustic):
    """The sigma-VAE draw, from the same seed: "gaussian" (one sigma per utterance) and "fix"."""
    _, model, data = acoustic
    with torch.no_grad():
        got = model.sample(model.encode(data["wav"]), torch.Generator().manual_seed(SAMPLE_SEED))
    torch.testing.assert_close(got, data["sampled"].transpose(1, 2), **TOL)


@pytest.mark.parametrize("chunks", [STREAM_FRAMES, [1] * 6, [4, 2]])
def test_streaming_decode_equals_offline_and_official(fixture, chunks):
    model, data = _build(fixture, "acoustic")
    z = data["latents"]
    assert sum(chunks) == z.shape[-1]
    with torch.no_grad():
        offline = model.decode(z)
        state = model.initial_state(2)
        outs, start = [], 0
        for n in chunks:
            y, state = model.stream(z[..., start:start + n], state)
            assert y.shape[-1] == n * model.config.decoder_hop
            outs.append(y)
            start += n
    streamed = torch.cat(outs, dim=-1)
    torch.testing.assert_close(streamed, offline, **TOL)
    torch.testing.assert_close(streamed, data["decoded_stream"], **TOL)  # the official cache-based streaming
    assert len(state) == len(model.state_names()) == len(model.decoder.state_shapes())
    assert all(s.shape[0] == 2 for s in state)


@pytest.mark.parametrize("name", ["acoustic", "semantic"])
def test_streaming_encode_equals_offline_and_official(fixture, name):
    model, data = _build(fixture, name)
    wav, hop = data["stream_wav"], model.config.hop_length
    with torch.no_grad():
        offline = model.encode(wav)
        state = model.encoder_initial_state(2)
        outs, start = [], 0
        for n in STREAM_HOPS:
            y, state = model.encode_stream(wav[..., start:start + n * hop], state)
            outs.append(y)
            start += n * hop
    streamed = torch.cat(outs, dim=-1)
    torch.testing.assert_close(streamed, offline, **TOL)
    torch.testing.assert_close(streamed, data["stream_mean"].transpose(1, 2), **TOL)


def test_whole_checkpoint_prefixes_and_load_official(fixture, tmp_path):
    """Both tokenizers out of one VibeVoice-style checkpoint (``model.<component>.`` keys among LM weights)."""
    safetensors_torch = pytest.importorskip("safetensors.torch")
    acoustic_cfg, acoustic_state, _ = _case(fixture, "acoustic")
    semantic_cfg, semantic_state, _ = _case(fixture, "semantic")
    whole = {f"model.acoustic_tokenizer.{k}": v for k, v in acoustic_state.items()}
    whole |= {f"model.semantic_tokenizer.{k}": v for k, v in semantic_state.items()}
    whole["model.language_model.embed_tokens.weight"] = torch.zeros(3, 2)
    whole["model.speech_scaling_factor"] = torch.tensor(0.2)
    ours_a, data_a = _build(fixture, "acoustic")
    assert convert_state_dict(whole).keys() == ours_a.state_dict().keys()
    # bf16 on disk, as published; split in two shards
    items = sorted(whole.items())
    half = len(items) // 2
    for i, part in enumerate((items[:half], items[half:])):
        safetensors_torch.save_file({k: v.to(torch.bfloat16).contiguous() for k, v in part},
                                    str(tmp_path / f"model-0000{i + 1}-of-00002.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(
        {"acoustic_tokenizer_config": acoustic_cfg, "semantic_tokenizer_config": semantic_cfg}))
    acoustic = load_official(tmp_path)
    semantic = load_official(tmp_path, "semantic_tokenizer")
    assert isinstance(acoustic, VibeVoiceAcousticTokenizer) and type(semantic) is VibeVoiceSemanticTokenizer
    ours_s, _ = _build(fixture, "semantic")
    for loaded, ours in ((acoustic, ours_a), (semantic, ours_s)):
        for k, v in ours.state_dict().items():
            torch.testing.assert_close(loaded.state_dict()[k], v.to(torch.bfloat16).float())
    with torch.no_grad():
        assert acoustic.decode(data_a["latents"]).shape == data_a["decoded"].shape


def test_unexpected_and_missing_keys_fail(fixture):
    _, state, _ = _case(fixture, "acoustic")
    with pytest.raises(KeyError):
        convert_state_dict({**state, "encoder.extra.weight": torch.zeros(1)})
    model = VibeVoiceAcousticTokenizer(VibeVoiceTokenizerConfig.preset("tiny"))
    converted = convert_state_dict(state)
    converted.pop("decoder.stages.1.0.gamma")
    with pytest.raises(ValueError, match="missing"):
        load_strict(model, converted)


def test_configs(fixture):
    config, _, _ = _case(fixture, "acoustic")
    assert VibeVoiceTokenizerConfig.from_official(config, sample_rate=3000) == VibeVoiceTokenizerConfig.preset("tiny")
    acoustic = VibeVoiceTokenizerConfig.preset("acoustic")
    assert VibeVoiceTokenizerConfig.from_official({}) == acoustic  # the official class defaults
    assert VibeVoiceTokenizerConfig.from_official({}, semantic=True) == VibeVoiceTokenizerConfig.preset("semantic")
    assert (acoustic.sample_rate, acoustic.hop_length, acoustic.decoder_hop, acoustic.frame_rate) == (
        24000, 3200, 3200, 7.5)
    with pytest.raises(ValueError):
        VibeVoiceTokenizerConfig.from_official({"conv_norm": "time_group_norm"})
    with pytest.raises(ValueError):
        VibeVoiceTokenizerConfig(encoder_depths=(1, 1))


def test_published_sizes_build():
    """The published acoustic tokenizer, shapes only (on the meta device: no memory for its weights)."""
    with torch.device("meta"):
        model = VibeVoiceAcousticTokenizer(VibeVoiceTokenizerConfig.preset("acoustic"))
        semantic = VibeVoiceSemanticTokenizer(VibeVoiceTokenizerConfig.preset("semantic"))
    sd = model.state_dict()
    assert sd["encoder.stem.conv.weight"].shape == (32, 1, 7)
    assert sd["encoder.downsamples.0.conv.weight"].shape == (64, 32, 4)  # the encoder's first stride is 2
    assert sd["encoder.stages.6.7.fc1.weight"].shape == (8192, 2048)
    assert sd["encoder.head.conv.weight"].shape == (64, 2048, 7)
    assert sd["decoder.stem.conv.weight"].shape == (2048, 64, 7)
    assert sd["decoder.upsamples.0.convtr.weight"].shape == (2048, 1024, 16)  # the decoder's first stride is 8
    assert sd["decoder.head.conv.weight"].shape == (1, 32, 7)
    assert semantic.state_dict()["encoder.head.conv.weight"].shape == (128, 2048, 7)
    n_enc = sum(p.numel() for p in model.encoder.parameters())
    n_dec = sum(p.numel() for p in model.decoder.parameters())
    assert n_enc == sum(p.numel() for n, p in model.named_parameters() if n.startswith("encoder."))
    assert 300e6 < n_enc < 400e6 and 300e6 < n_dec < 400e6  # ~340 M each (the paper's tokenizer is ~0.7 B)
