"""VoxCPM with rate-scaled audio positions (``audio_position_rate``, the default voice's alignment prior):
the cached path (prefill, then steps fed their positions) equals one causal pass over the whole sequence."""
import pytest

torch = pytest.importorskip("torch")

from voxlite.models.voxcpm import VoxCPM, VoxCPMConfig, append_kv  # noqa: E402


def _model(rate: float) -> VoxCPM:
    from dataclasses import replace

    torch.manual_seed(0)
    return VoxCPM(replace(VoxCPMConfig.tiny(), audio_position_rate=rate)).eval()


def test_positions():
    m = _model(0.6)
    tmask = torch.tensor([[1, 1, 1, 0, 0, 0]])
    pos = m.positions(tmask, 1 - tmask)
    assert torch.allclose(pos, torch.tensor([[0, 1, 2, 0.3, 0.9, 1.5]]))
    assert _model(0.0).positions(tmask, 1 - tmask) is None


@pytest.mark.parametrize("rate", [0.0, 0.6])
def test_steps_equal_one_pass(rate):
    m = _model(rate)
    cfg = m.config
    g = torch.Generator().manual_seed(1)
    n_text, n_audio = 5, 4
    T = n_text + n_audio
    tokens = torch.randint(3, cfg.lm.vocab_size, (1, T), generator=g)
    tmask = torch.zeros(1, T)
    tmask[0, :n_text] = 1
    feats = torch.randn(1, T, cfg.patch_size, cfg.feat_dim, generator=g) * (1 - tmask)[..., None, None]
    with torch.no_grad():
        h_all, r_all, _ = m.lm_states(tokens, tmask, feats, 1 - tmask)
        mu_all, stop_all = m.heads(h_all, r_all)
        # prefill the text and the first audio patch, then feed the rest one step at a time
        k = n_text + 1
        mu, stop, kv = m.prefill(tokens[:, :k], tmask[:, :k], feats[:, :k], 1 - tmask[:, :k])
        assert torch.allclose(mu, mu_all[:, k - 1], atol=1e-5)
        for j in range(k, T):
            position = torch.tensor([(j - n_text + 0.5) * rate]) if rate else None
            mu, stop, new = m.step(feats[:, j], kv, position)
            kv = append_kv(kv, new)
            assert torch.allclose(mu, mu_all[:, j], atol=1e-5), j
            assert torch.allclose(stop, stop_all[:, j], atol=1e-5)
