"""UniAudio LM reference (``voxlite.models.uniaudio``) against outputs of the official UniAudio code.

Fixture (``tests/fixtures/uniaudio/lm_*``): the official ``MegaByteModel`` of UniAudio (commit c1146a8, July 2024)
was built at a tiny configuration (3 global layers + 1 local layer, 4 heads, width 72, a 241-id joint vocabulary
with 23 codes per codebook), every parameter redrawn at random, and run on CPU by its own classes: a teacher-forced
batch of three collated tasks (TTS, VC, TTM with a T5 continuous segment), with and without the prefix-LM mask,
with intermediate hidden states recorded; and its inference loop on the TTS example, greedy (top-30) and sampling
(top-5, temperature 0.8, the multinomial draws recorded), min = max length 6 frames. The files hold the state dict
(official key names), the constructor arguments with the token list, and the inputs / outputs; no official code.

Tolerance: 1e-4 absolute on LM floats (observed differences are about 2e-6: logits have std ~1, max |4.3|), ids
exact.
"""
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from voxlite.convert.common import load_strict  # noqa: E402
from voxlite.convert.uniaudio import config_from_official, convert_state_dict, load_official  # noqa: E402
from voxlite.models.uniaudio import ContinuousSegment, UniAudioConfig, UniAudioLM  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "uniaudio"
ATOL = 1e-4


@pytest.fixture(scope="module")
def cfg():
    return json.loads((FIXTURE / "lm_config.json").read_text())


@pytest.fixture(scope="module")
def io():
    with np.load(FIXTURE / "lm_io.npz") as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def official_state():
    return safetensors_torch.load_file(str(FIXTURE / "lm_state_dict.safetensors"))


@pytest.fixture(scope="module")
def model(cfg, official_state):
    return load_official(official_state, cfg["constructor_kwargs"], cfg["token_list"])


def _t(a):
    return torch.from_numpy(np.asarray(a))


def _close(ours, ref, atol=ATOL):
    diff = (ours.detach().float() - _t(ref).float()).abs().max().item()
    assert ours.shape == tuple(ref.shape), (ours.shape, ref.shape)
    assert diff <= atol, diff
    return diff


def _segments(io):
    s, e = (int(v) for v in io["lm/tf/conti_b2_s0_start_end"])
    return [ContinuousSegment(2, s, e, _t(io["lm/tf/conti_b2_s0_feats"]))]


def _prefix(io, run):
    n = int(io[f"lm/{run}/prefix_len_tokens"]) + 3  # the conditioning part plus the <audio_start> frame
    return _t(io[f"lm/{run}/prompt_input_ids"][:n])


# ---------------------------------------------------------------------------------------------- config / converter
def test_config_and_presets(cfg, model):
    c = model.config
    assert c == UniAudioConfig.tiny()
    assert (c.n_local_layers, c.chunk, c.audio_offset, c.audio_bins, c.audio_start, c.audio_end) == \
        (1, 24, 128, 23, 8, 9)
    v1 = UniAudioConfig.v1()
    assert (v1.n_layer, v1.n_head, v1.n_state, v1.n_ctx, v1.n_vocab, v1.na_repeat, v1.n_local_layers) == \
        (16, 12, 768, 8000, 4213, 3, 8)
    with torch.device("meta"):
        big = UniAudioLM(v1)
    C, V = 768, 4213
    block = 12 * C * C + 12 * C  # q, v, o with bias, k without; two LayerNorms; 4C MLP with biases
    expected = (V * C // 3 + 8000 * C + 16 * block + 2 * C  # global
                + (C // 3) * C + C  # global -> local
                + V * C + 3 * C + 8 * block + 2 * C  # local
                + V * C + 768 * C + C)  # lm_head, T5 mapping
    assert sum(p.numel() for p in big.parameters()) == expected


def test_converter_maps_every_key_strictly(cfg, official_state, model):
    converted = convert_state_dict(official_state)
    assert set(converted) == set(model.state_dict())
    assert sum(v.numel() for v in official_state.values()) == sum(p.numel() for p in model.parameters()) == 357_720
    assert "global_stack.layers.0.self_attn.k_proj.bias" not in converted  # the official key has no bias
    # training checkpoints: nested under "model", DDP "module." prefix
    nested = {"model": {f"module.{k}": v for k, v in official_state.items()}, "optimizer": {}}
    again = load_official(nested, cfg["constructor_kwargs"], cfg["token_list"])
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    fresh = UniAudioLM(model.config)
    broken = dict(converted)
    del broken["local_stack.layers.0.mlp.up_proj.bias"]
    with pytest.raises(ValueError, match="missing"):
        load_strict(fresh, broken)
    with pytest.raises(ValueError, match="unexpected parameter"):
        convert_state_dict({**official_state, "extra.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="token list"):
        config_from_official(cfg["constructor_kwargs"], cfg["token_list"][:-1])


# ---------------------------------------------------------------------------------------------- teacher forced
def test_teacher_forced_logits_and_hidden_states(io, model):
    hidden = {}
    with torch.no_grad():
        logits = model(_t(io["lm/tf/input_ids"]), _segments(io), hidden=hidden)
    _close(logits, io["lm/tf/logits"])
    names = ["global_input", "global_layer0", "global_layer1", "global_layer2", "global_ln", "global_to_local",
             "local_input", "local_layer0"]
    for name in names:
        _close(hidden[name], io[f"lm/tf/{name}"])
    # the continuous segment replaced 4 frame embeddings: without it the TTM item changes, the others do not
    with torch.no_grad():
        plain = model(_t(io["lm/tf/input_ids"]))
    assert torch.equal(plain[:2], logits[:2])
    assert (plain[2] - logits[2]).abs().max() > 1e-2
    # the loss the official criterion reported (cross entropy, pad id 0 ignored)
    x = _t(io["lm/tf/input_ids"])
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), x.reshape(-1), ignore_index=0)
    assert abs(loss.item() - float(io["lm/tf/loss_prefix_lm_false"])) < 1e-4


def test_teacher_forced_prefix_lm(io, model):
    with torch.no_grad():
        logits = model(_t(io["lm/tf/input_ids"]), _segments(io), prefix_lm=True,
                       loss_mask=_t(io["lm/tf/loss_mask"]))
    _close(logits, io["lm/tf/logits_prefix_lm_true"])
    assert (logits - _t(io["lm/tf/logits"])).abs().max() > 1e-2  # the mask matters
    with pytest.raises(ValueError, match="loss mask"):
        model(_t(io["lm/tf/input_ids"]), prefix_lm=True)


# ---------------------------------------------------------------------------------------------- inference
def test_forbidden_ids_per_local_step(io, model):
    for l in range(3):
        assert np.array_equal((~model.allowed_ids(l)).numpy(), io["lm/greedy/pred_valid_masks"][l])


def test_greedy_generation(io, model):
    g = model.generate(_prefix(io, "greedy"), mode="greedy", topk=30, minlen=6, maxlen=6)
    assert g.tokens.tolist() == io["lm/greedy/tokens"].tolist()  # 18 ids + 3 appended <audio_end>
    assert not g.ended and g.n_partial_codebooks == 0
    assert g.frames.tolist() == io["lm/greedy/tokens_frames"].tolist()
    assert g.codes.tolist() == io["lm/greedy/codes"].tolist()
    _close(g.local_logits, io["lm/greedy/local_logits"])
    _close(g.scores, io["lm/greedy/scores"])
    _close(g.prefix_global_to_local, io["lm/greedy/prefix_global_to_local"])
    _close(g.step_global_to_local, io["lm/greedy/step_global_to_local"])


def test_sampled_generation_replays_the_recorded_draws(io, model):
    draws = iter(io["lm/sample/multinomial_draws"].tolist())
    g = model.generate(_prefix(io, "sample"), mode="sampling", topk=5, temperature=0.8, minlen=6, maxlen=6,
                       draw=lambda probs: next(draws))
    assert next(draws, None) is None  # one draw per local step, all consumed
    assert g.tokens.tolist() == io["lm/sample/tokens"].tolist()
    _close(g.probs, io["lm/sample/multinomial_probs"])
    _close(g.local_logits, io["lm/sample/local_logits"])
    _close(g.scores, io["lm/sample/scores"])
    _close(g.step_global_to_local, io["lm/sample/step_global_to_local"])
    # <audio_end> drawn at frame 5, local step 2: 5 whole frames and a frame cut after 2 codebooks
    frames = io["lm/sample/tokens_frames"]
    assert g.ended and g.tokens[-1].item() == model.config.audio_end
    assert g.frames.tolist() == frames[:5].tolist()
    assert g.partial.tolist() == frames[5, :2].tolist() and g.n_partial_codebooks == 2
    assert g.codes.tolist() == io["lm/sample/codes"][:5].tolist()


def test_min_length_and_an_end_mid_frame(io, model):
    """In the greedy run <audio_end> is the best allowed id at frame 2 / local step 1 and frame 4 / step 2, so the
    fixture's tokens pin the rule (forbidden in frames 0 .. minlen-2); without it generation stops mid-frame."""
    prefix = _prefix(io, "greedy")
    lp = torch.log_softmax(_t(io["lm/greedy/local_logits"]), dim=-1)
    best_allowed = [int(lp[s].masked_fill(~model.allowed_ids(s % 3), -torch.inf).argmax()) for s in range(18)]
    assert best_allowed[7] == best_allowed[14] == model.config.audio_end
    g = model.generate(prefix, mode="greedy", topk=30, minlen=0, maxlen=6)
    ref = io["lm/greedy/tokens"]
    assert g.ended and g.tokens.tolist() == ref[:7].tolist() + [model.config.audio_end]
    assert g.frames.tolist() == io["lm/greedy/tokens_frames"][:2].tolist()
    assert g.partial.tolist() == ref[6:7].tolist() and g.n_partial_codebooks == 1
    _close(g.local_logits, io["lm/greedy/local_logits"][:8])


def test_cached_search_matches_one_full_forward(io, model):
    """The KV-cached global / local steps equal one teacher-forced pass over prefix + generated tokens."""
    prefix = _prefix(io, "greedy")
    g = model.generate(prefix, mode="greedy", topk=30, minlen=6, maxlen=6)
    full = torch.cat((prefix, g.frames.reshape(-1)))
    with torch.no_grad():
        logits = model(full[None])[0]
    _close(logits[prefix.numel():], io["lm/greedy/local_logits"])
    assert (logits[prefix.numel():] - g.local_logits).abs().max() < 1e-5
