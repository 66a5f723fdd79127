"""AudioLDM 2's projection model vs diffusers 0.42's ``AudioLDM2ProjectionModel`` with shared random weights: the T5
variant and the VITS variant (learned positions), with and without attention masks."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from voxlite.convert.common import load_strict  # noqa: E402
from voxlite.models.audioldm2_projection import AudioLDM2Projection  # noqa: E402


def _pair(vits: bool):
    from diffusers.pipelines.audioldm2.modeling_audioldm2 import AudioLDM2ProjectionModel

    torch.manual_seed(0)
    official = AudioLDM2ProjectionModel(12, 10, 16, use_learned_position_embedding=True if vits else None,
                                        max_seq_length=9 if vits else None).eval()
    with torch.no_grad():
        for p in official.parameters():
            p.add_(torch.randn_like(p))
    ours = AudioLDM2Projection(12, 10, 16, learned_positions=9 if vits else None)
    load_strict(ours, official.state_dict())
    return official, ours.eval()


@pytest.mark.parametrize("vits", [False, True])
@pytest.mark.parametrize("masks", ["none", "first", "both"])
@torch.no_grad()
def test_projection(vits, masks):
    official, ours = _pair(vits)
    g = torch.Generator().manual_seed(1)
    h0, h1 = torch.randn(2, 5, 12, generator=g), torch.randn(2, 9 if vits else 7, 10, generator=g)
    m0 = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]) if masks != "none" else None
    m1 = torch.ones(2, h1.shape[1], dtype=torch.long) if masks == "both" else None
    if m1 is not None:
        m1[0, -2:] = 0
    got, mask = ours(h0, h1, m0, m1)
    if masks == "first":
        # diffusers 0.42 builds the missing mask with new_ones(hidden_states[:2]) (a slice, not a shape) and raises;
        # ours treats a missing mask as all ones, which is what passing one of ones gives there
        with pytest.raises(TypeError):
            official(hidden_states=h0, hidden_states_1=h1, attention_mask=m0, attention_mask_1=None)
        m1 = torch.ones(2, h1.shape[1], dtype=torch.long)
    want = official(hidden_states=h0, hidden_states_1=h1, attention_mask=m0, attention_mask_1=m1)
    torch.testing.assert_close(got, want.hidden_states, atol=1e-6, rtol=1e-6)
    if masks == "none":
        assert mask is None and want.attention_mask is None
    else:
        assert torch.equal(mask, want.attention_mask)
