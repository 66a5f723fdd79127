"""VibeVoice tokenizers vs transformers 5.x (``VibeVoiceAcousticTokenizerModel`` and the semantic
``VibeVoiceAcousticTokenizerEncoderModel``, alone and inside ``VibeVoiceForConditionalGeneration``).

Tiny configs, every tensor random and seeded (norm weights and layer scales too, so a swapped or misplaced tensor
shows), fp32. transformers' latents are (B, T, D) and its ``decode`` takes (B, T, D); ours are (B, D, T).
"""
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("transformers.models.vibevoice_acoustic_tokenizer")

from transformers import (VibeVoiceAcousticTokenizerConfig, VibeVoiceAcousticTokenizerModel,  # noqa: E402
                          VibeVoiceConfig, VibeVoiceForConditionalGeneration)
from transformers.models.vibevoice_acoustic_tokenizer.configuration_vibevoice_acoustic_tokenizer import (  # noqa: E402
    VibeVoiceAcousticTokenizerEncoderConfig)
from transformers.models.vibevoice_acoustic_tokenizer.modeling_vibevoice_acoustic_tokenizer import (  # noqa: E402
    VibeVoiceAcousticTokenizerEncoderModel)

from voxlite.convert.common import load_strict  # noqa: E402
from voxlite.convert.vibevoice_tokenizer import (config_from_transformers,  # noqa: E402
                                                 convert_transformers_state_dict, load_transformers_tokenizers)
from voxlite.models.vibevoice_tokenizer import (VibeVoiceAcousticTokenizer, VibeVoiceSemanticTokenizer,  # noqa: E402
                                                VibeVoiceTokenizerConfig)

TOL = dict(atol=1e-5, rtol=1e-5)
# uneven strides (encoder order) and uneven depths, so reversing either for the decoder is exercised
ACOUSTIC = dict(hidden_size=5, num_filters=3, downsampling_ratios=[3, 2, 5], depths=[1, 2, 1, 2], vae_std=0.7)
# the same hop (30) as the acoustic decoder, strides in another order: VibeVoice feeds it decoder-hop chunks
SEMANTIC = dict(hidden_size=4, num_filters=2, downsampling_ratios=[2, 5, 3], depths=[2, 1, 1, 1])
HOP = 30
STREAM_FRAMES = [1, 2, 3]


def _randomize(module: torch.nn.Module, seed: int) -> None:
    """Every parameter random: scales keep activations O(1) through the stacks."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(module.named_parameters()):
            r = torch.randn(p.shape, generator=g)
            if name.endswith("gamma"):
                p.copy_(0.5 * r)
            elif name.endswith("norm.weight"):
                p.copy_(1 + 0.3 * r)
            elif p.dim() == 1:
                p.copy_(0.1 * r)
            else:
                fan_in = p.shape[1] * (p.shape[2] if p.dim() == 3 else 1)
                p.copy_(r / fan_in ** 0.5)


def _wav(batch: int, length: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, 1, length, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def acoustic_pair():
    hf = VibeVoiceAcousticTokenizerModel(VibeVoiceAcousticTokenizerConfig(**ACOUSTIC)).eval()
    _randomize(hf, 0)
    ours = VibeVoiceAcousticTokenizer(config_from_transformers(hf.config, semantic=False)).eval()
    load_strict(ours, convert_transformers_state_dict(hf.state_dict(), semantic=False))
    return hf, ours


@pytest.fixture(scope="module")
def semantic_pair():
    hf = VibeVoiceAcousticTokenizerEncoderModel(VibeVoiceAcousticTokenizerEncoderConfig(**SEMANTIC)).eval()
    _randomize(hf, 1)
    ours = VibeVoiceSemanticTokenizer(config_from_transformers(hf.config.to_dict(), semantic=True)).eval()
    load_strict(ours, convert_transformers_state_dict(hf.state_dict(), semantic=True))
    return hf, ours


def _latents(ours, frames: int, seed: int = 2) -> torch.Tensor:
    return torch.randn(2, ours.config.vae_dim, frames, generator=torch.Generator().manual_seed(seed))


def test_acoustic_encode_mean(acoustic_pair):
    hf, ours = acoustic_pair
    wav = _wav(2, 5 * HOP, 3)
    with torch.no_grad():
        ref = hf.encode(wav, sample=False).latents  # (B, T, D)
        got = ours.encode(wav)
    assert ref.shape == (2, 5, 5) and got.shape == (2, 5, 5)
    assert got.std() > 0.1
    torch.testing.assert_close(got, ref.transpose(1, 2), **TOL)


def test_acoustic_encode_ragged_tail(acoustic_pair):
    """Behaviour difference: transformers pads on the left only and drops a ragged tail (floor(S / hop) frames;
    its feature extractor pads to whole hops first); ours pads it to a whole frame (ceil), as the official package.
    The frames both give agree (causal)."""
    hf, ours = acoustic_pair
    wav = _wav(2, 4 * HOP + 7, 4)
    with torch.no_grad():
        ref = hf.encode(wav, sample=False).latents.transpose(1, 2)
        got = ours.encode(wav)
    assert ref.shape[-1] == 4 and got.shape[-1] == 5
    torch.testing.assert_close(got[..., :4], ref, **TOL)


def test_acoustic_sample_matches_transformers_draw(acoustic_pair):
    """``encode(sample=True)``: sigma = vae_std * randn(B), then latents + sigma * randn_like of its (B, T, D) view of
    (B, D, T) memory -- the official draw with vae_std = fix_std / 0.8; ours reproduces it from the same seed."""
    hf, ours = acoustic_pair
    wav = _wav(2, 4 * HOP, 5)
    with torch.no_grad():
        torch.manual_seed(77)
        ref = hf.encode(wav, sample=True).latents.transpose(1, 2)
        mean = ours.encode(wav)
        got = ours.sample(mean, torch.Generator().manual_seed(77))
    assert (got - mean).abs().max() > 1e-2
    torch.testing.assert_close(got, ref, **TOL)


def test_acoustic_decode(acoustic_pair):
    hf, ours = acoustic_pair
    z = _latents(ours, 6)
    with torch.no_grad():
        ref = hf.decode(z.transpose(1, 2)).audio
        got = ours.decode(z)
    assert got.shape == ref.shape == (2, 1, 6 * HOP)
    assert ref.std() > 0.1
    torch.testing.assert_close(got, ref, **TOL)


@pytest.mark.parametrize("chunks", [STREAM_FRAMES, [1] * 6, [2, 4]])
def test_acoustic_streaming_decode(acoustic_pair, chunks):
    """Ours with explicit state vs transformers' decode with its padding cache, chunk by chunk (as generation)."""
    hf, ours = acoustic_pair
    z = _latents(ours, sum(chunks), seed=6)
    with torch.no_grad():
        offline = hf.decode(z.transpose(1, 2)).audio
        cache, state, refs, outs, start = None, ours.initial_state(2), [], [], 0
        for n in chunks:
            piece = z[..., start:start + n]
            out = hf.decode(piece.transpose(1, 2), padding_cache=cache, use_cache=True)
            cache = out.padding_cache
            refs.append(out.audio)
            y, state = ours.stream(piece, state)
            outs.append(y)
            start += n
    ref, got = torch.cat(refs, -1), torch.cat(outs, -1)
    torch.testing.assert_close(ref, offline, **TOL)  # transformers' own streaming is exact too
    torch.testing.assert_close(got, ref, **TOL)


def test_semantic_encode(semantic_pair):
    hf, ours = semantic_pair
    wav = _wav(2, 4 * HOP, 8)
    with torch.no_grad():
        ref = hf(wav).latents
        got = ours.encode(wav)
    assert ref.shape == (2, 4, 4)
    assert got.std() > 0.1
    torch.testing.assert_close(got, ref.transpose(1, 2), **TOL)


@pytest.mark.parametrize("hops", [[1] * 5, [1, 2, 2]])
def test_semantic_encode_stream(semantic_pair, hops):
    """Generation runs the semantic encoder on each newly decoded chunk (decoder-hop audio) with a padding cache."""
    hf, ours = semantic_pair
    wav = _wav(2, sum(hops) * HOP, 9)
    with torch.no_grad():
        cache, state, refs, outs, start = None, ours.encoder_initial_state(2), [], [], 0
        for n in hops:
            piece = wav[..., start:start + n * HOP]
            out = hf(piece, padding_cache=cache, use_cache=True)
            cache = out.padding_cache
            refs.append(out.latents.transpose(1, 2))
            y, state = ours.encode_stream(piece, state)
            outs.append(y)
            start += n * HOP
        offline = ours.encode(wav)
    ref, got = torch.cat(refs, -1), torch.cat(outs, -1)
    torch.testing.assert_close(got, ref, **TOL)
    torch.testing.assert_close(got, offline, **TOL)


@pytest.fixture(scope="module")
def whole():
    text = dict(model_type="qwen2", vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                num_attention_heads=2, num_key_value_heads=1)
    config = VibeVoiceConfig(text_config=text, audio_config=ACOUSTIC, semantic_model_config=SEMANTIC,
                             diffusion_head_config=dict(num_hidden_layers=1, intermediate_size=8,
                                                        frequency_embedding_size=8),
                             pad_token_id=0, eos_token_id=1, audio_bos_token_id=2, audio_eos_token_id=3,
                             audio_token_id=4)
    model = VibeVoiceForConditionalGeneration(config).eval()
    _randomize(model.model.audio_tower, 10)
    _randomize(model.model.semantic_tokenizer_encoder, 11)
    return config, model


@pytest.mark.parametrize("as_dict", [False, True])
def test_load_whole_model(whole, as_dict):
    config, model = whole
    state = model.state_dict()
    assert any(k.startswith("model.language_model.") for k in state)  # the rest is there, and ignored
    acoustic, semantic = load_transformers_tokenizers(
        {k: v.to(torch.bfloat16) if "diffusion_head" in k else v for k, v in state.items()},
        config.to_dict() if as_dict else config)
    assert type(acoustic) is VibeVoiceAcousticTokenizer and type(semantic) is VibeVoiceSemanticTokenizer
    assert acoustic.config == config_from_transformers(ACOUSTIC, semantic=False)
    assert semantic.config == config_from_transformers(SEMANTIC, semantic=True)
    wav, z = _wav(2, 3 * HOP, 12), _latents(acoustic, 3, seed=13)
    tower, sem = model.model.audio_tower, model.model.semantic_tokenizer_encoder
    with torch.no_grad():
        torch.testing.assert_close(acoustic.encode(wav), tower.encode(wav, sample=False).latents.transpose(1, 2),
                                   **TOL)
        torch.testing.assert_close(acoustic.decode(z), tower.decode(z.transpose(1, 2)).audio, **TOL)
        torch.testing.assert_close(semantic.encode(wav), sem(wav).latents.transpose(1, 2), **TOL)


def test_configs():
    ours = config_from_transformers(VibeVoiceAcousticTokenizerConfig(), semantic=False)
    assert ours == VibeVoiceTokenizerConfig.preset("acoustic")  # the published sizes, vae_std 0.625 = 0.5 / 0.8
    assert config_from_transformers({}, semantic=False) == ours
    semantic = config_from_transformers(VibeVoiceConfig().semantic_model_config, semantic=True)
    assert semantic == VibeVoiceTokenizerConfig.preset("semantic")
    assert config_from_transformers({"model_type": "vibevoice"}, semantic=True) == semantic
    tiny = config_from_transformers(ACOUSTIC, semantic=False)
    assert tiny.encoder_ratios == (5, 2, 3) and tiny.dec_ratios == (5, 2, 3) and tiny.dec_depths == (2, 1, 2, 1)
    assert tiny.fix_std / 0.8 == pytest.approx(0.7)
    for bad in ({"kernel_size": 5}, {"ffn_expansion": 2}, {"hidden_act": "silu"}, {"model_type": "qwen2"}):
        with pytest.raises(ValueError):
            config_from_transformers(bad, semantic=False)


def test_unexpected_and_missing_keys_fail(acoustic_pair):
    hf, ours = acoustic_pair
    state = hf.state_dict()
    with pytest.raises(KeyError):
        convert_transformers_state_dict({**state, "encoder.conv_layers.0.stage.0.extra": torch.zeros(1)},
                                        semantic=False)
    converted = convert_transformers_state_dict(state, semantic=False)
    assert converted.keys() == ours.state_dict().keys()
    converted.pop("decoder.stages.2.0.ffn_gamma")
    with pytest.raises(ValueError, match="missing"):
        load_strict(ours, converted)
    with pytest.raises(KeyError):
        load_transformers_tokenizers({f"model.audio_tower.{k}": v for k, v in state.items()},
                                     VibeVoiceConfig().to_dict())  # no semantic encoder entries
