"""VALL-E reference vs VALL-E-X 0.0.2a1's ``vallex.models.vallex.VALLE`` at tiny configs with shared random weights.

The official model is built with random weights, converted with ``voxlite.convert.valle`` and compared: teacher-forced
AR logits (prefix mask, BOS, language embeddings), the NAR logits of every stage (adaptive norms, stage embeddings,
prompt handling of prefix modes 0 and 1), and a whole ``inference`` call. For the latter both sides draw their
tokens through one deterministic sampler (Gumbel-max with a numpy generator seeded per call), installed in place of
the official ``topk_sampling``; the test first proves that the official loop consumes exactly one draw per frame.
"""
import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if importlib.util.find_spec("vallex") is None:
    pytest.skip("VALL-E-X not installed", allow_module_level=True)

from voxlite.convert.valle import config_of, convert_state_dict, load_official  # noqa: E402
from voxlite.convert.common import load_strict  # noqa: E402
from voxlite.models.valle import VallE  # noqa: E402

from tests.models.official import import_vallex_model  # noqa: E402


OFFICIAL = import_vallex_model()
N_TEXT, N_AUDIO = OFFICIAL.NUM_TEXT_TOKENS, OFFICIAL.NUM_AUDIO_TOKENS  # fixed by the package: 2048, 1024


def _models(prefix_mode=1, d_model=32, nhead=2, num_layers=2, seed=0):
    torch.manual_seed(seed)
    official = OFFICIAL.VALLE(d_model, nhead, num_layers, norm_first=True, add_prenet=False, prefix_mode=prefix_mode,
                              share_embedding=True, nar_scale_factor=1.0, prepend_bos=True, num_quantizers=8)
    with torch.no_grad():
        # the official stacks deep-copy one layer (all layers start equal) and alphas / norm affines start at 1 / 0:
        # make every layer and every parameter distinct, so a converter that mixes layers up cannot pass
        for name, p in official.named_parameters():
            big = name.endswith("alpha") or "norm" in name
            p.add_((0.3 if big else 0.05) * torch.randn_like(p))
    official.eval()
    state = official.state_dict()
    ours = VallE(config_of(state, n_heads=nhead, prefix_mode=prefix_mode))
    load_strict(ours, convert_state_dict(state))
    return official.eval(), ours.eval()


def _inputs(seed=1, n_prompt_text=5, n_text=7, n_prompt=9):
    g = torch.Generator().manual_seed(seed)
    text = torch.randint(0, N_TEXT, (1, n_prompt_text + n_text), generator=g)
    prompt = torch.randint(0, N_AUDIO, (1, n_prompt, 8), generator=g)
    language = torch.cat((torch.full((1, n_prompt_text), 1), torch.full((1, n_text), 0)), dim=1)  # zh prompt, en text
    return text, language, prompt


def test_config_is_read_from_the_weights():
    official, ours = _models()
    c = ours.config
    assert (c.dim, c.n_layers, c.n_text_tokens, c.n_audio_tokens, c.n_quantizers, c.n_languages, c.n_task_tokens) \
        == (32, 2, N_TEXT, N_AUDIO, 8, 3, 0)


def _official_ar_logits(official, text, language, audio, n_prompt_text):
    """The official AR stack teacher-forced: its inference code path's embedding + mask, one full pass."""
    x = official.ar_text_embedding(text)
    x[:, :n_prompt_text] += official.ar_language_embedding(language[0, :1])
    x[:, n_prompt_text:] += official.ar_language_embedding(language[0, n_prompt_text:])
    x = official.ar_text_position(official.ar_text_prenet(x))
    y = official.ar_audio_position(official.ar_audio_prenet(official.ar_audio_embedding(audio)))
    S, T = x.shape[1], y.shape[1]
    mask = torch.cat((torch.nn.functional.pad(torch.zeros(S, S, dtype=torch.bool), (0, T), value=True),
                      torch.nn.functional.pad(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), (S, 0))), 0)
    h, _ = official.ar_decoder.infer(torch.cat((x, y), 1), mask=mask, past_kv=None, use_cache=True)
    return official.ar_predict_layer(h[:, S:])


@torch.no_grad()
def test_ar_logits_teacher_forced():
    official, ours = _models()
    text, language, prompt = _inputs()
    audio = torch.cat((torch.tensor([[N_AUDIO + 1]]), prompt[..., 0]), dim=1)  # BOS + codebook 1
    want = _official_ar_logits(official, text, language, audio, 5)
    got = ours.ar_logits(text, language, audio)
    assert got.shape == (1, audio.shape[1], N_AUDIO + 1)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_ar_cached_steps_match_a_full_pass():
    _, ours = _models()
    text, language, prompt = _inputs()
    audio = torch.cat((torch.tensor([[N_AUDIO + 1]]), prompt[..., 0]), dim=1)
    full = ours.ar_logits(text, language, audio)
    logits, kv = ours.ar_prefill(text, language, audio[:, :4])
    torch.testing.assert_close(logits, full[:, 3], atol=1e-5, rtol=1e-5)
    from voxlite.models.blocks.transformer import append_kv
    for t in range(4, audio.shape[1]):
        logits, new = ours.ar_step(audio[:, t:t + 1], torch.tensor([t]), kv)
        kv = append_kv(kv, new)
        torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5)


def _official_nar_logits(official, text, language, prompt, codes, stage, n_prompt_text, prefix_mode):
    """One NAR stage as the official inference computes it (prompt summed per ``prefix_mode``)."""
    P = prompt.shape[1]
    y_emb = official.nar_audio_embeddings[0](torch.cat((prompt[..., 0], codes[..., 0]), 1))
    for j in range(1, 8):
        if prefix_mode == 1 or j < stage:
            y_emb[:, :P] += official.nar_audio_embeddings[j](prompt[..., j])
        if j < stage:
            y_emb[:, P:] += official.nar_audio_embeddings[j](codes[..., j])
    x = official.nar_text_embedding(text)
    x[:, :n_prompt_text] += official.nar_language_embedding(language[0, :1])
    x[:, n_prompt_text:] += official.nar_language_embedding(language[0, n_prompt_text:])
    x = official.nar_text_position(official.nar_text_prenet(x))
    y = official.nar_audio_position(official.nar_audio_prenet(y_emb))
    h, _ = official.nar_decoder((torch.cat((x, y), 1), official.nar_stage_embeddings[stage - 1].weight))
    return official.nar_predict_layers[stage - 1](h[:, text.shape[1] + P:])


@pytest.mark.parametrize("prefix_mode", [0, 1])
@torch.no_grad()
def test_nar_logits_every_stage(prefix_mode):
    official, ours = _models(prefix_mode=prefix_mode)
    text, language, prompt = _inputs()
    codes = torch.randint(0, N_AUDIO, (1, 6, 8), generator=torch.Generator().manual_seed(3))
    for stage in range(1, 8):
        want = _official_nar_logits(official, text, language, prompt, codes, stage, 5, prefix_mode)
        got = ours.nar_logits(text, language, prompt, codes, torch.tensor([stage]))
        assert got.shape == (1, 6, N_AUDIO)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


class GumbelSampler:
    """Deterministic draws for both sides: argmax(logits / T + Gumbel noise), top-k applied first; ``draws`` counts."""

    def __init__(self, seed: int, top_k: int = -100, temperature: float = 1.0):
        self.rng = np.random.default_rng(seed)
        self.top_k, self.temperature, self.draws = top_k, temperature, 0

    def __call__(self, logits: torch.Tensor) -> int:  # (V,)
        self.draws += 1
        logits = logits.double() / self.temperature
        if self.top_k > 0:
            logits = logits.masked_fill(logits < torch.topk(logits, self.top_k).values[-1], float("-inf"))
        noise = torch.from_numpy(-np.log(-np.log(self.rng.uniform(1e-12, 1.0, logits.shape[0]))))
        return int(torch.argmax(logits + noise))


@pytest.mark.parametrize("prefix_mode,seed", [(1, 0), (1, 5), (0, 2)])
@torch.no_grad()
def test_whole_inference_with_the_same_draws(monkeypatch, prefix_mode, seed):
    official, ours = _models(prefix_mode=prefix_mode, seed=seed)
    text, language, prompt = _inputs(seed=seed + 1, n_text=3)  # 8 text tokens: the 16-per-token cap is 128 frames
    theirs = GumbelSampler(seed, top_k=50)

    def official_topk_sampling(logits, top_k=10, top_p=1.0, temperature=1.0):
        token = theirs(logits[0])
        return torch.tensor([[token]]), torch.zeros(1)

    monkeypatch.setattr(OFFICIAL, "topk_sampling", official_topk_sampling)
    monkeypatch.setattr("builtins.print", lambda *a, **k: None)  # the official loop prints its EOS line
    want = official.inference(text, torch.tensor([text.shape[1]]), prompt, enroll_x_lens=5, top_k=50,
                              prompt_language="zh", text_language=["en"] * 3)
    mine = GumbelSampler(seed, top_k=50)
    got = ours.generate(text, language, prompt, mine)
    # one draw per generated frame plus the one that ended the loop (EOS, or the frame past the cap)
    assert theirs.draws == want.shape[1] + 1 == mine.draws
    assert got.shape == want.shape and want.shape[1] > 0
    assert torch.equal(got, want.long())


def test_load_official_accepts_the_checkpoint_layout():
    official, ours = _models()
    loaded = load_official({"model": official.state_dict()}, n_heads=2)
    for k, v in ours.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_prenet_checkpoints_are_refused():
    torch.manual_seed(0)
    official = OFFICIAL.VALLE(16, 2, 1, add_prenet=True, prefix_mode=1, num_quantizers=8)
    with pytest.raises(ValueError, match="prenet"):
        convert_state_dict(official.state_dict())
