"""GPT-2 reference (AudioLDM 2's language model) vs transformers' GPT2Model / GPT2LMHeadModel at a tiny config with
shared random weights: hidden states over input embeddings, cached steps, and the LOA generation loop as diffusers'
AudioLDM2Pipeline.generate_language_model runs it (last hidden state fed back)."""
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from voxlite.convert.gpt2 import config_of, convert_state_dict, load_official  # noqa: E402
from voxlite.models.blocks.transformer import append_kv  # noqa: E402


def _official(seed=0, head=False):
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(n_embd=32, n_layer=3, n_head=4, n_positions=64, vocab_size=50,
                                  activation_function="gelu_new")
    model = (transformers.GPT2LMHeadModel if head else transformers.GPT2Model)(cfg).eval()
    with torch.no_grad():  # move the LayerNorm affines off 1 / 0 and make every layer distinct
        for name, p in model.named_parameters():
            p.add_((0.3 if "ln_" in name else 0.05) * torch.randn_like(p))
    return model


@pytest.mark.parametrize("head", [False, True])
@torch.no_grad()
def test_hidden_states_and_cached_steps(head):
    official = _official(head=head)
    ours = load_official(official.state_dict(), n_heads=4)
    assert ours.config.n_layers == 3 and ours.config.n_positions == 64
    x = torch.randn(2, 7, 32, generator=torch.Generator().manual_seed(1))
    base = official.transformer if head else official
    want = base(inputs_embeds=x).last_hidden_state
    got, kv = ours(x)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # the same positions in two pieces through the cache
    first, kv = ours(x[:, :4])
    rest, _ = ours(x[:, 4:], past=kv)
    torch.testing.assert_close(torch.cat((first, rest), 1), want, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_loa_generation_matches_the_pipelines_loop():
    official = _official(seed=3)
    ours = load_official(official.state_dict(), n_heads=4)
    x = torch.randn(1, 5, 32, generator=torch.Generator().manual_seed(2))
    # diffusers' generate_language_model: append hidden_states[-1][:, -1:] to the inputs, 8 times
    embeds = x
    for _ in range(8):
        hidden = official(inputs_embeds=embeds, output_hidden_states=True).hidden_states[-1]
        embeds = torch.cat((embeds, hidden[:, -1:]), dim=1)
    want = embeds[:, -8:]
    torch.testing.assert_close(ours.generate_loa(x, 8), want, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_fixed_buffer_step_equals_cached_step():
    official = _official(seed=4)
    ours = load_official(official.state_dict(), n_heads=4)
    x = torch.randn(1, 6, 32, generator=torch.Generator().manual_seed(5))
    _, kv = ours(x[:, :5])
    want, _ = ours(x[:, 5:], past=kv)
    capacity = 9
    cache = []
    for k, v in zip(kv[0::2], kv[1::2]):
        buf = 10 * torch.randn(2, 1, k.shape[1], capacity, k.shape[3])
        buf[0, :, :, :5], buf[1, :, :, :5] = k, v
        cache.append(buf)
    got, new = ours.forward_buffer(x[:, 5:], torch.tensor([5]), tuple(cache))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert len(append_kv(kv, new)) == 6


def test_unexpected_keys_are_refused():
    state = dict(_official().state_dict())
    state["h.0.attn.rotary.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="unexpected GPT-2 key"):
        convert_state_dict(state)
    assert config_of(_official().state_dict(), n_heads=4).dim == 32


@torch.no_grad()
def test_loa_with_a_padding_mask_matches_diffusers():
    """The published pipeline pads the negative prompt's T5 part: the language model sees masked positions in the
    middle of its prompt (diffusers' own generate_language_model, with transformers' cache and mask updates)."""
    import types

    diffusers = pytest.importorskip("diffusers")
    official = _official(seed=6, head=True)
    ours = load_official(official.state_dict(), n_heads=4)
    x = torch.randn(2, 9, 32, generator=torch.Generator().manual_seed(7))
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[0, 4:7] = 0  # item 0: three padded positions before the end token
    owner = types.SimpleNamespace(language_model=official, device=torch.device("cpu"))
    want = diffusers.AudioLDM2Pipeline.generate_language_model(owner, x, max_new_tokens=8, attention_mask=mask)
    torch.testing.assert_close(ours.generate_loa(x, 8, attention_mask=mask), want, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_compacted_cache_step_equals_the_masked_step():
    """The runtime drops masked keys from the cache after the prefill (they are never attended) and steps with the
    position counted past them: the same hidden state as the masked, uncompacted step."""
    official = _official(seed=8)
    ours = load_official(official.state_dict(), n_heads=4)
    g = torch.Generator().manual_seed(9)
    x, nxt = torch.randn(1, 9, 32, generator=g), torch.randn(1, 1, 32, generator=g)
    mask = torch.ones(1, 9, dtype=torch.long)
    mask[0, 3:6] = 0
    _, kv = ours(x, attention_mask=mask)
    want, _ = ours(nxt, past=kv, attention_mask=torch.cat((mask, torch.ones(1, 1, dtype=torch.long)), 1))
    keep = mask[0].bool()
    cache = []
    for k, v in zip(kv[0::2], kv[1::2]):
        buf = 10 * torch.randn(2, 1, k.shape[1], 12, k.shape[3], generator=g)
        n = int(keep.sum())
        buf[0, :, :, :n], buf[1, :, :, :n] = k[:, :, keep], v[:, :, keep]
        cache.append(buf)
    got, _ = ours.forward_buffer(nxt, torch.tensor([int(keep.sum())]), tuple(cache), position=torch.tensor([9]))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
