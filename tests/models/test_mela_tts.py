"""MELA-TTS reference (random tiny weights): configs, shapes, the reused VoxCPM LocDiT, sequence layouts (offline and
the N:M streaming interleave), incremental graphs == one causal pass, training losses (CFM, stop, representation
alignment) and that generation follows the training layout."""
import json

import pytest

torch = pytest.importorskip("torch")

from voxlite.models.blocks.dit import PrefixDiT  # noqa: E402
from voxlite.models.blocks.transformer import Transformer, append_kv  # noqa: E402
from voxlite.models.mela_tts import (N_COND, SPEECH, TEXT, TOS, MelaTTS, MelaTTSConfig, interleave,  # noqa: E402
                                     random_segment)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = MelaTTS(MelaTTSConfig.tiny()).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # spread the norm gains: a wrong wiring cannot hide behind gains of 1
        for name, p in m.named_parameters():
            if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
    return m


def test_qwen2_preset_and_round_trip():
    c = MelaTTSConfig.qwen2_0_5b()
    t = c.lm_transformer_config()
    assert (t.dim, t.n_layers, t.n_heads, t.n_kv_heads, t.ffn_dim, t.vocab_size) == (896, 24, 14, 2, 4864, 151936)
    assert (t.rope_theta, t.norm_eps, t.qkv_bias, t.bias, t.causal, t.kv_head_dim) == (1e6, 1e-6, True, False, True, 64)
    assert (c.n_mels, c.chunk_size, c.align_factor, c.speaker_dim) == (80, 8, 4, 192)
    assert c.tos_token < c.lm.vocab_size
    for cfg in (c, MelaTTSConfig.tiny()):
        assert MelaTTSConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="whole number"):
        MelaTTSConfig(chunk_size=5)  # 0.1 s is 2.5 ASR frames at 25 Hz


def test_qwen2_lm_has_qwen2_0_5b_parameter_count():
    """Built on the meta device (no memory): the LM holds Qwen2-0.5B's 494,032,768 parameters (tied embedding
    counted once; the LM has no head here)."""
    with torch.device("meta"):
        m = MelaTTS(MelaTTSConfig.qwen2_0_5b())
    assert sum(p.numel() for p in m.lm.parameters()) == 494_032_768


def test_modules_are_the_shared_blocks(model):
    """The LM is the shared Transformer with Qwen2's q/k/v-only biases; the local DiT is VoxCPM's PrefixDiT at
    feature size 80."""
    assert type(model.lm) is Transformer
    attn = model.lm.layers[0].self_attn
    assert attn.q_proj.bias is not None and attn.k_proj.bias is not None and attn.v_proj.bias is not None
    assert attn.o_proj.bias is None and model.lm.layers[0].mlp.up_proj.bias is None
    assert type(model.loc_dit) is PrefixDiT and model.loc_dit.in_proj.in_features == 80


def test_locdit_velocity_is_the_prefix_dit(model):
    """velocity(x, t, mu, cond) = PrefixDiT over [mu + temb, cond (8 frames), x (8 frames)]: 1 + 16 tokens."""
    g = torch.Generator().manual_seed(2)
    x, cond = torch.randn(3, 8, 80, generator=g), torch.randn(3, 8, 80, generator=g)
    mu, t = torch.randn(3, model.config.dit.dim, generator=g), torch.rand(3, generator=g)
    seen = {}

    def record(module, args):
        seen["tokens"] = args[0].shape

    hook = model.loc_dit.decoder.register_forward_pre_hook(record)
    with torch.no_grad():
        v = model.velocity(x, t, mu, cond)
        assert torch.equal(v, model.loc_dit(x, mu, t, cond))
        other = model.velocity(x, t, mu, cond + 1)  # the previous chunk conditions the velocity
    hook.remove()
    assert v.shape == (3, 8, 80) and seen["tokens"] == (3, 17, model.config.dit.dim)
    assert not torch.allclose(v, other)


def test_downsampler_and_utterance_encoder(model):
    H = model.config.lm.hidden_size
    g = torch.Generator().manual_seed(3)
    chunks = torch.randn(4, 8, 80, generator=g)
    with torch.no_grad():
        e = model.downsample(chunks)
        changed = chunks.clone()
        changed[2] += 1
        e2 = model.downsample(changed)
    assert e.shape == (4, H)
    assert torch.equal(e[[0, 1, 3]], e2[[0, 1, 3]]) and not torch.allclose(e[2], e2[2])  # chunk-local
    assert [c.stride[0] for c in model.downsample.convs] == [2, 2] and model.downsample.out.kernel_size == (2,)
    # masked mean pooling: a padded prompt gives its unpadded embedding
    mel = torch.randn(1, 13, 80, generator=g)
    padded = torch.cat((mel, 50 * torch.randn(1, 6, 80, generator=g)), dim=1)
    mask = (torch.arange(19) < 13)[None]
    with torch.no_grad():
        u, u_pad = model.utterance(mel), model.utterance(padded, mask)
    assert u.shape == (1, H)
    torch.testing.assert_close(u_pad, u, atol=1e-5, rtol=1e-5)
    seg = random_segment(torch.arange(40.0)[:, None].expand(40, 80), 10, 30, torch.Generator().manual_seed(0))
    assert 10 <= seg.shape[0] <= 30 and torch.equal(seg[:, 0], seg[0, 0] + torch.arange(seg.shape[0]))


def test_offline_layout():
    lay = interleave(3, 4)
    assert lay.kinds == [TEXT] * 3 + [TOS] + [SPEECH] * 4
    assert lay.index == [0, 1, 2, -1, 0, 1, 2, 3]
    assert lay.target == [-1, -1, -1, 0, 1, 2, 3, -1]  # TOS predicts the first chunk; the last chunk nothing
    assert lay.stop == [-1, -1, -1, 0, 0, 0, 1, -1]  # 1 on the output that predicts the last chunk
    assert lay.filling == []


def test_streaming_layout():
    """N:M = 3:2, 7 text tokens, 6 chunks: t0-2 c0-1 t3-5 c2-3 t6 TOS c4-5 (CosyVoice 2's order)."""
    lay = interleave(7, 6, 3, 2)
    T, S = TEXT, SPEECH
    assert lay.kinds == [T, T, T, S, S, T, T, T, S, S, T, TOS, S, S]
    assert lay.index == [0, 1, 2, 0, 1, 3, 4, 5, 2, 3, 6, -1, 4, 5]
    assert lay.target == [-1, -1, 0, 1, -1, -1, -1, 2, 3, -1, -1, 4, 5, -1]
    assert lay.filling == [4, 9]  # the last chunk of each group, followed by text: no target, out of the losses
    assert all(lay.target[p] == -1 and lay.stop[p] == -1 for p in lay.filling)
    assert lay.stop[12] == 1 and sum(s == 1 for s in lay.stop) == 1
    # every chunk is predicted exactly once, in order
    assert sorted(t for t in lay.target if t >= 0) == list(range(6))
    # text a multiple of N: TOS right after the last text group
    assert interleave(6, 5, 3, 2).kinds == [T, T, T, S, S, T, T, T, TOS, S, S, S]
    # text within one group: the offline layout; speech running out early: groups of text only
    assert interleave(3, 4, 3, 2) == interleave(3, 4)
    assert interleave(7, 1, 3, 2).kinds == [T, T, T, S, T, T, T, T, TOS]
    with pytest.raises(ValueError):
        interleave(3, 4, 3, None)


def test_incremental_graphs_equal_one_causal_pass(model):
    """prefill + step + feed_text (past K/V) and their fixed-buffer variants == the LM over the whole sequence."""
    c = model.config
    g = torch.Generator().manual_seed(4)
    speaker, prompt = torch.randn(1, c.speaker_dim, generator=g), torch.randn(1, 17, 80, generator=g)
    chunk = torch.randn(1, 8, 80, generator=g)
    t1, t2 = torch.tensor([[5, 9, 11]]), torch.tensor([[20, 21, c.tos_token]])
    with torch.no_grad():
        utt = model.utterance(prompt)
        mu0, stop0, kv = model.prefill(speaker, utt, t1)
        mu1, stop1, new = model.step(chunk, kv)
        kv1 = append_kv(kv, new)
        mu2, stop2, new2 = model.feed_text(t2, kv1)
        x = torch.cat((model.conditions(speaker, utt), model.lm.embed(t1), model.downsample(chunk)[:, None],
                       model.lm.embed(t2)), dim=1)
        h, _ = model.lm(x)
        mu_all, stop_all = model.heads(h)
        # the exported variants read fixed-size buffers whose unused slots hold noise
        L = kv1[0].shape[2]
        bufs = []
        for k, v in zip(kv1[0::2], kv1[1::2]):
            b = 100 * torch.randn(2, 1, k.shape[1], L + 5, k.shape[3], generator=g)
            b[0, :, :, :L], b[1, :, :, :L] = k, v
            bufs.append(b)
        mu2b, stop2b, new2b = model.feed_text_buffer(t2, torch.tensor([L]), tuple(bufs))
        mu1b, _, new1b = model.step_buffer(chunk, torch.tensor([L - 1]), tuple(b.clone() for b in bufs))
    for got, ref in ((mu0, mu_all[:, 4]), (mu1, mu_all[:, 5]), (mu2, mu_all[:, -1]), (stop2, stop_all[:, -1]),
                     (mu2b, mu2), (stop2b, stop2), (mu1b, mu1)):
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(new2b, new2):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert stop0.shape == (1, 1) and mu0.shape == (1, c.dit.dim) and new2[0].shape[2] == 3


@pytest.mark.parametrize("streaming", [False, True])
def test_generation_follows_the_training_layout(model, streaming):
    """Chunks generated step by step are what the teacher-forced pass over ``interleave``'s layout of the same
    chunks predicts (same noise, previous chunk as condition): inference and training see one sequence."""
    from voxlite.kernels.noise import standard_normal

    c = model.config
    text = [5, 17, 33, 64, 99, 12, 40]
    g = torch.Generator().manual_seed(5)
    speaker, prompt = torch.randn(c.speaker_dim, generator=g), torch.randn(20, 80, generator=g)
    chunks = list(model.generate(text, speaker, prompt, seed=3, max_chunks=6, n_steps=3, cfg=1.5,
                                 streaming=streaming, min_chunks=10))
    assert len(chunks) == 6 and all(ch.shape == (1, 8, 80) for ch in chunks)
    again = list(model.generate(text, speaker, prompt, seed=3, max_chunks=6, n_steps=3, cfg=1.5,
                                streaming=streaming, min_chunks=10))
    assert all(torch.equal(a, b) for a, b in zip(chunks, again))
    lay = interleave(len(text), 6, *((c.text_per_group, c.chunks_per_group) if streaming else (None, None)))
    all_chunks = torch.cat(chunks)  # (6, 8, 80)
    with torch.no_grad():
        rows = [model.downsample(all_chunks[i][None])[0] if k == SPEECH else
                model.lm.embed(torch.tensor([c.tos_token if k == TOS else text[i]]))[0]
                for k, i in zip(lay.kinds, lay.index)]
        x = torch.cat((model.conditions(speaker[None], model.utterance(prompt[None])), torch.stack(rows)[None]), 1)
        h, _ = model.lm(x)
        mu, _ = model.heads(h[0])
        for p, k in enumerate(lay.target):
            if k < 0:
                continue
            cond = torch.zeros(1, 8, 80) if k == 0 else chunks[k - 1]
            z = torch.from_numpy(standard_normal(3, k, (1, 8, 80)))
            redo = model.sample_chunk(mu[N_COND + p][None], cond, z, n_steps=3, cfg=1.5)
            torch.testing.assert_close(redo, chunks[k], atol=1e-4, rtol=1e-4)
    other = list(model.generate(text, speaker, prompt, seed=3, max_chunks=6, n_steps=3, cfg=1.5,
                                streaming=not streaming, min_chunks=10))
    assert not torch.allclose(other[-1], chunks[-1])  # the two layouts are different sequences


def test_stop_rule(model, monkeypatch):
    """Stop once all text is read, >= min_chunks, and the stop logit of the producing state is > 0; streaming
    never stops while text groups remain."""
    monkeypatch.setattr(model.stop_head.bias, "data", torch.full((1,), 1e4))  # always "stop"
    text = list(range(5, 12))
    assert len(list(model.generate(text, seed=1, max_chunks=8, n_steps=2, min_chunks=3))) == 3
    # 7 tokens at 3:2: the third group (with TOS) comes in after 4 chunks
    assert len(list(model.generate(text, seed=1, max_chunks=8, n_steps=2, min_chunks=1, streaming=True))) == 5
    monkeypatch.setattr(model.stop_head.bias, "data", torch.full((1,), -1e4))
    assert len(list(model.generate(text, seed=1, max_chunks=8, n_steps=2))) == 8


def test_cfm_loss(model, monkeypatch):
    g = torch.Generator().manual_seed(6)
    target, cond, z = (torch.randn(4, 8, 80, generator=g) for _ in range(3))
    mu, t = torch.randn(4, model.config.dit.dim, generator=g), torch.rand(4, generator=g)
    mask = torch.ones(4, 8)
    mask[3, 5:] = 0
    loss = model.cfm_loss(mu, target, cond, t, z, mask)
    assert loss.ndim == 0 and loss > 0
    # the regression target is noise - data at x_t = (1 - t) data + t noise
    seen = {}

    def exact(x, t_, mu_, cond_):
        seen["x"] = x
        return z - target

    monkeypatch.setattr(model, "velocity", exact)
    assert float(model.cfm_loss(mu, target, cond, t, z, mask)) == 0.0
    torch.testing.assert_close(seen["x"], (1 - t[:, None, None]) * target + t[:, None, None] * z)

    def off_on_padding(x, t_, mu_, cond_):
        v = (z - target).clone()
        v[3, 5:] += 7.0
        return v

    monkeypatch.setattr(model, "velocity", off_on_padding)
    assert float(model.cfm_loss(mu, target, cond, t, z, mask)) == 0.0  # padded frames are masked
    assert float(model.cfm_loss(mu, target, cond, t, z)) > 0


@torch.no_grad()
def test_repa_loss(model):
    c = model.config
    g = torch.Generator().manual_seed(7)
    h = torch.randn(2, 5, c.lm.hidden_size, generator=g)
    with torch.no_grad():
        aligned = model.align(h)
    assert aligned.shape == (2, 5 * 4, c.asr_dim)  # 6.25 Hz -> 25 Hz
    assert float(model.repa_loss(h, aligned)) == pytest.approx(0.0, abs=1e-6)
    assert float(model.repa_loss(h, -aligned)) == pytest.approx(2.0, abs=1e-5)
    assert float(model.repa_loss(h, 3 * aligned[:, :17])) == pytest.approx(0.0, abs=1e-6)  # scale-free, shorter ASR
    # invalid frames do not count: a chunk mask (item 1 has 3 chunks) and an ASR mask
    feats = aligned.clone()
    feats[1, 12:] = torch.randn(8, c.asr_dim, generator=g)
    cmask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    assert float(model.repa_loss(h, feats, cmask)) == pytest.approx(0.0, abs=1e-6)
    amask = (torch.arange(20) < 12)[None].expand(2, 20)
    assert float(model.repa_loss(h, feats, asr_mask=amask)) == pytest.approx(0.0, abs=1e-6)
    assert float(model.repa_loss(h, feats)) > 0.05


def test_training_losses_and_excluded_positions(model):
    """One batch mixing both modes: finite losses, gradients reach every trained part, and the LM outputs at text
    and filling positions get no gradient (excluded from the losses)."""
    c = model.config
    g = torch.Generator().manual_seed(8)
    model.train()
    model.zero_grad()
    seen = {}

    def keep(module, args, out):
        out[0].retain_grad()
        seen["h"] = out[0]

    handle = model.lm.register_forward_hook(keep)
    text = [torch.randint(3, 100, (7,), generator=g), torch.randint(3, 100, (4,), generator=g)]
    mel = [torch.randn(45, 80, generator=g), torch.randn(20, 80, generator=g)]  # 6 (last partial) and 3 chunks
    asr = [torch.randn(23, c.asr_dim, generator=g), torch.randn(10, c.asr_dim, generator=g)]
    try:
        losses = model.training_losses(torch.randn(2, c.speaker_dim, generator=g), text, mel, streaming=[True, False],
                                       asr=asr, generator=g)
        losses["total"].backward()
    finally:
        handle.remove()
        model.eval()
    assert set(losses) == {"cfm", "stop", "repa", "total"} and all(torch.isfinite(v) for v in losses.values())
    for part in (model.lm.layers[0].self_attn.q_proj.bias, model.loc_dit.in_proj.weight, model.align.proj.weight,
                 model.utterance_encoder.in_proj.weight, model.speaker_proj.weight, model.downsample.out.weight,
                 model.stop_head.weight):
        assert part.grad is not None and part.grad.abs().sum() > 0
    grad = seen["h"].grad  # (2, S_max, H)
    lay = interleave(7, 6, c.text_per_group, c.chunks_per_group)
    for p, t in enumerate(lay.target):
        has = bool(grad[0, N_COND + p].abs().sum() > 0)
        assert has == (t >= 0), (p, t)
    assert grad[0, :N_COND].abs().sum() == 0
    lay1 = interleave(4, 3)
    assert grad[1, N_COND + len(lay1.kinds):].abs().sum() == 0  # right padding of the shorter item
