"""CLAP text tower reference (AudioLDM 2's text_encoder) vs transformers' ClapModel.get_text_features at a tiny config
(tiny audio tower too, whose keys the converter drops) with shared random weights: padded batches (RoBERTa's
padding-aware positions), the hidden states before pooling, a save_pretrained folder."""
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from voxlite.convert.clap_text import config_of, convert_state_dict, load_official, load_official_dir  # noqa: E402
from voxlite.models.clap_text import ClapTextConfig, roberta_positions  # noqa: E402

_TEXT = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             max_position_embeddings=64, type_vocab_size=1, pad_token_id=1)
_AUDIO = dict(window_size=4, num_mel_bins=16, spec_size=32, patch_size=4, patch_stride=(4, 4), hidden_size=16,
              depths=[1, 1], num_attention_heads=[2, 2], patch_embeds_hidden_size=8, num_classes=5)
PAD = 1


@pytest.fixture(scope="module")
def official():
    torch.manual_seed(0)
    model = transformers.ClapModel(transformers.ClapConfig(text_config=_TEXT, audio_config=_AUDIO,
                                                           projection_dim=24)).eval()
    with torch.no_grad():  # every weight distinct and far from its init, so a mix-up of layers cannot pass
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    return model


def _batch(T=11, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 99, (2, T), generator=g)
    ids[:, 0] = 0  # <s>
    mask = torch.ones(2, T, dtype=torch.long)
    ids[0, T - 4:], mask[0, T - 4:] = PAD, 0  # the first item padded, as the tokenizer pads
    return ids, mask


def _features(model, ids, mask):
    out = model.get_text_features(input_ids=ids, attention_mask=mask)
    return out.pooler_output, out.last_hidden_state  # transformers 5: the normalised projection is pooler_output


@torch.no_grad()
def test_text_features_with_padding(official):
    ours = load_official(official.state_dict(), official.config.to_dict())
    ids, mask = _batch()
    want, want_hidden = _features(official, ids, mask)
    got = ours(ids, mask)
    assert got.shape == (2, 24)
    torch.testing.assert_close(ours.hidden_states(ids, mask), want_hidden, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got.norm(dim=-1), torch.ones(2))  # get_text_features L2-normalises
    # no mask: every key attended (pad tokens included), positions still from the ids
    torch.testing.assert_close(ours(ids), _features(official, ids, None)[0], atol=1e-5, rtol=1e-5)
    # the published AudioLDM 2 text encoders are stored in float64: loading casts to our float32
    doubled = load_official({k: v.double() for k, v in official.state_dict().items()}, official.config.to_dict())
    torch.testing.assert_close(doubled(ids, mask), got, atol=0, rtol=0)


def test_positions_are_padding_aware():
    ids = torch.tensor([[0, 5, 6, PAD, PAD], [0, 5, 6, 7, 2]])
    assert roberta_positions(ids, PAD).tolist() == [[2, 3, 4, 1, 1], [2, 3, 4, 5, 6]]


def test_config_and_keys(official):
    cfg = config_of(official.config.to_dict())
    assert cfg == ClapTextConfig.tiny()
    # transformers' ClapConfig defaults are laion/clap-htsat-unfused's text sizes, as AudioLDM 2 ships them
    assert config_of(transformers.ClapConfig().to_dict()) == ClapTextConfig.audioldm2()
    state = dict(official.state_dict())
    assert not any(k.startswith("audio") for k in convert_state_dict(state))
    state["text_model.encoder.layer.0.attention.self.rotary.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="unexpected CLAP key"):
        convert_state_dict(state)


@torch.no_grad()
def test_load_official_dir(official, tmp_path):
    official.save_pretrained(tmp_path)
    ours = load_official_dir(tmp_path)
    ids, mask = _batch(T=7, seed=2)
    torch.testing.assert_close(ours(ids, mask), _features(official, ids, mask)[0], atol=1e-5, rtol=1e-5)
