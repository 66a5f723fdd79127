"""The decoder-only unit LM (one stage of the semantic-token cascades) at tiny random configs: the reference's cached
paths against teacher forcing, frame rules honoured, exported graphs whose runtime loop gives the reference's tokens
for a seed (onnxruntime and OpenVINO), typed refusals, and int8 graphs that run and stay close."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from voxlite.errors import BundleError, InvalidInput  # noqa: E402
from voxlite.pipelines.generation import GenerationOptions  # noqa: E402
from voxlite.pipelines.unit_rules import STAGE_STEPS, FrameRules, choose  # noqa: E402

# a joint vocabulary like Make-A-Voice's S2: semantic units, three codec codebooks flattened per frame, an end id
SEMANTIC = (0, 40)
CODEBOOKS = ((40, 60), (60, 80), (80, 100))
END = 100
N_VOCAB = 120
ACOUSTIC = FrameRules(ranges=CODEBOOKS, end=END, min_frames=2, max_frames=30)  # k = 3
SEMANTIC_RULES = FrameRules(ranges=(SEMANTIC,), end=END, max_frames=60)  # k = 1
NO_END = FrameRules(ranges=CODEBOOKS, end=END, min_frames=10**6)  # runs until the positions run out


def _model(seed=0, **overrides):
    from export.unit_lm import random_unit_lm
    from voxlite.models.unit_lm import UnitLMConfig

    return random_unit_lm(UnitLMConfig.tiny(**overrides), seed)


def _prefix(seed, length=12):
    g = np.random.default_rng(seed)
    return np.concatenate((g.integers(*SEMANTIC, length - 6), g.integers(40, 100, 6)))


def _sampler(seed, temperature=1.0, top_k=0, offset=0):
    return lambda masked, i: choose(masked, temperature=temperature, top_k=top_k, seed=seed, step=offset + i)


def _reference(model, prefix, rules, sampler, max_length=None):
    return model.generate(torch.tensor(prefix), rules, sampler, max_length=max_length)


def _in_rules(tokens, rules):
    return all(rules.ranges[i % rules.k][0] <= t < rules.ranges[i % rules.k][1] for i, t in enumerate(tokens))


# -- the reference ------------------------------------------------------------------------------------------------

def test_cached_logits_equal_teacher_forcing():
    model = _model(3)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, N_VOCAB, (1, 20), generator=g)
    with torch.no_grad():
        full = model(ids)  # (1, 20, V)
        assert full.shape == (1, 20, N_VOCAB)
        logits, kv = model.prefill(ids[:, :12])
        torch.testing.assert_close(logits, full[:, 11], atol=1e-5, rtol=1e-5)
        # fixed buffers with loud noise past the filled slots, as the runtime's KV cache hands them to the step graph
        c = model.config
        buffers = [10 * torch.randn(2, 1, c.n_heads, 24, c.head_dim, generator=g) for _ in range(c.n_layers)]
        for b, k, v in zip(buffers, kv[0::2], kv[1::2]):
            b[0, :, :, :12], b[1, :, :, :12] = k, v
        past = kv
        for t in range(12, 20):
            got, new = model.step_buffer(ids[:, t:t + 1], torch.tensor([t]), torch.tensor([t]), tuple(buffers))
            torch.testing.assert_close(got, full[:, t], atol=1e-5, rtol=1e-5)
            for b, k, v in zip(buffers, new[0::2], new[1::2]):
                b[0, :, :, t:t + 1], b[1, :, :, t:t + 1] = k, v
            got, step_kv = model.step(ids[:, t:t + 1], torch.tensor([t]), past)
            torch.testing.assert_close(got, full[:, t], atol=1e-5, rtol=1e-5)
            past = tuple(torch.cat((p, n), dim=2) for p, n in zip(past, step_kv))
    assert torch.std(full).item() > 0.5  # randomised weights: the logits are not flat


def test_config_presets_and_refusals():
    from voxlite.models.unit_lm import UnitLMConfig

    base = UnitLMConfig.base(n_vocab=2000)
    assert (base.dim, base.n_heads, base.n_layers, base.head_dim) == (1024, 16, 12, 64)
    assert UnitLMConfig.from_dict(UnitLMConfig.tiny().to_dict()) == UnitLMConfig.tiny()
    with pytest.raises(ValueError, match="heads"):
        UnitLMConfig.tiny(n_heads=3)
    with pytest.raises(ValueError, match="n_ctx"):
        UnitLMConfig.tiny(n_ctx=1)


def test_frame_rules_honoured_by_the_reference():
    model = _model(1)
    for seed in range(6):
        tokens = _reference(model, _prefix(seed), ACOUSTIC, _sampler(seed))
        assert _in_rules(tokens, ACOUSTIC) and END not in tokens
        assert len(tokens) % 3 == 0 and ACOUSTIC.min_frames * 3 <= len(tokens) <= ACOUSTIC.max_tokens


def test_end_only_at_frame_boundaries_after_min_frames():
    model = _model(1)
    seen = []

    def eager_to_end(masked, i):  # ends the stage the first time the rules allow the end id
        allowed = np.isfinite(masked[0, END])
        seen.append((i, bool(allowed)))
        return END if allowed else choose(masked, temperature=1.0, seed=0, step=i)

    tokens = _reference(model, _prefix(0), ACOUSTIC, eager_to_end)
    assert len(tokens) == 3 * ACOUSTIC.min_frames and _in_rules(tokens, ACOUSTIC)
    assert [i for i, allowed in seen if allowed] == [3 * ACOUSTIC.min_frames]
    k1 = _reference(model, _prefix(0), SEMANTIC_RULES, eager_to_end)
    assert k1 == []  # k = 1, no min_frames: the end may come first


def test_caps_are_whole_frames():
    model = _model(1)
    prefix = _prefix(2)
    assert len(_reference(model, prefix, NO_END, _sampler(2), max_length=7)) == 6
    n_ctx = model.config.n_ctx
    tokens = _reference(model, np.arange(n_ctx - 8) % 40, NO_END, _sampler(2))
    assert len(tokens) == 6 and _in_rules(tokens, NO_END)  # 8 positions left: two whole frames


# -- the exported component and its runtime loop -------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """One bundle holding two unit-LM stages, as a cascade's would: "s2" (fp32 + int8) and "s1" (fp32)."""
    from export.unit_lm import write_unit_lm_component
    from voxlite.bundle import BundleWriter, open_bundle

    root = tmp_path_factory.mktemp("unit-lm")
    models = {"s2": _model(5), "s1": _model(6, n_ctx=64, n_layers=1)}
    with BundleWriter(root / "bundle", model_type="unit-lm-test", name="unit-lm-test", sample_rate=None) as w:
        hparams = {"s2": write_unit_lm_component(w, "s2", models["s2"], root / "tmp", precisions=("fp32", "int8"),
                                                 log=lambda *_: None),
                   "s1": write_unit_lm_component(w, "s1", models["s1"], root / "tmp", log=lambda *_: None)}
        path = w.finish()
    return open_bundle(path), models, hparams


def _runner(bundle, component="s2", backend="cpu", precision="fp32"):
    from voxlite.hparams.unit_lm import UnitLMHParams
    from voxlite.pipelines.sessions import GraphSessions
    from voxlite.pipelines.unit_lm import UnitLMRunner

    b, _, _ = bundle
    hparams = UnitLMHParams.from_json(b.component(component).hparams)
    return UnitLMRunner(GraphSessions(b, backend=backend, precision=precision), component, hparams)


def test_component_manifest_and_hparams(bundle):
    from voxlite.hparams.unit_lm import UnitLMHParams

    b, models, written = bundle
    for name in ("s1", "s2"):
        comp = b.component(name)
        assert comp.kind == "unit-lm"
        assert UnitLMHParams.from_json(comp.hparams) == written[name]
        c = models[name].config
        assert written[name].n_vocab == c.n_vocab and written[name].n_ctx == c.n_ctx
        step = b.graph(f"{name}/step")
        assert [t.name for t in step.inputs] == ["token", "position", "length",
                                                 *(f"cache.lm.{i}" for i in range(c.n_layers))]
        assert [t.name for t in b.graph(f"{name}/prefill").inputs] == ["ids"]
        assert [t.name for t in step.outputs] == ["logits", *(f"present.lm.{i}.{kv}" for i in range(c.n_layers)
                                                              for kv in ("key", "value"))]
    raw = written["s2"].to_json()
    with pytest.raises(BundleError, match="kv"):
        UnitLMHParams.from_json({**raw, "kv": {"ar": raw["kv"]["lm"]}})
    with pytest.raises(BundleError, match="n_ctx"):
        UnitLMHParams.from_json({**raw, "n_ctx": 1})


@pytest.mark.parametrize("backend", ["cpu", "openvino"])
def test_runtime_tokens_equal_the_reference(bundle, backend):
    if backend == "openvino":
        pytest.importorskip("openvino")
    _, models, _ = bundle
    runner = _runner(bundle, backend=backend)
    reference = models["s2"]
    cases = [(ACOUSTIC, 0.0, None, 0), (ACOUSTIC, 1.0, 20, 3), (ACOUSTIC, 1.0, None, 7), (SEMANTIC_RULES, 1.0, 10, 4)]
    if backend == "openvino":  # greedy and top-k sampled suffice to show the backends agree
        cases = cases[:2]
    for rules, temperature, top_k, seed in cases:
        prefix = _prefix(seed)
        options = GenerationOptions(seed=seed, temperature=temperature, top_k=top_k)
        got = list(runner.generate(prefix, rules, options, step_offset=STAGE_STEPS))
        want = _reference(reference, prefix, rules, _sampler(seed, temperature, top_k or 0, offset=STAGE_STEPS))
        assert got == want and len(got) > 0 and _in_rules(got, rules), (rules, temperature, top_k, seed)


def test_runtime_stops_where_the_reference_does(bundle):
    """Positions running out (the cache grows past its first capacity on the way), max_length in whole frames, and
    the second stage of the bundle."""
    _, models, _ = bundle
    runner = _runner(bundle)
    prefix = _prefix(9, length=57)  # 256 - 57 = 199 positions: 66 frames
    got = list(runner.generate(prefix, NO_END, GenerationOptions(seed=9, temperature=1.0)))
    assert len(got) == 198
    assert got == _reference(models["s2"], prefix, NO_END, _sampler(9))
    got = list(runner.generate(prefix, NO_END, GenerationOptions(seed=9, temperature=1.0, max_length=8)))
    assert got == _reference(models["s2"], prefix, NO_END, _sampler(9), max_length=8) and len(got) == 6

    s1 = _runner(bundle, "s1")
    text = np.arange(20) + 40  # "text ids" outside the semantic range
    got = list(s1.generate(text, SEMANTIC_RULES, GenerationOptions(seed=2, temperature=1.0, top_k=5)))
    assert got == _reference(models["s1"], text, SEMANTIC_RULES, _sampler(2, 1.0, 5))
    assert len(got) <= 64 - 20


@pytest.mark.parametrize("prefix,rules,options,match", [
    (np.array([], np.int64), ACOUSTIC, {}, "non-empty"),
    (np.zeros((2, 3), np.int64), ACOUSTIC, {}, "1-D"),
    (np.array([0.5, 1.0]), ACOUSTIC, {}, "integer"),
    (np.array([3, N_VOCAB]), ACOUSTIC, {}, "outside"),
    (np.array([-1, 3]), ACOUSTIC, {}, "outside"),
    (np.zeros(256, np.int64), SEMANTIC_RULES, {}, "fills"),
    (np.zeros(254, np.int64), ACOUSTIC, {}, "fills"),  # 2 positions left: less than a frame
    (np.zeros(4, np.int64), FrameRules(ranges=((0, 130),), end=131), {}, "rules"),
    (np.zeros(4, np.int64), ACOUSTIC, {"max_length": 2}, "frame"),
    (np.zeros(4, np.int64), ACOUSTIC, {"repetition_penalty": 1.3}, "repetition_penalty"),
])
def test_bad_input_refused_before_anything_runs(bundle, prefix, rules, options, match):
    runner = _runner(bundle)
    with pytest.raises(InvalidInput, match=match):
        runner.generate(prefix, rules, GenerationOptions(**options))  # raised at the call, not when iterated
    with pytest.raises(InvalidInput, match="step_offset"):
        runner.generate(np.zeros(4, np.int64), ACOUSTIC, GenerationOptions(), step_offset=-1)


def test_int8_runs_and_stays_close(bundle):
    from export.graphs import compare

    fp32, int8 = _runner(bundle), _runner(bundle, precision="int8")
    _, models, _ = bundle
    c = models["s2"].config
    for seed in range(3):  # prefill, then one step on the fp32 cache: int8 logits within the export's bound
        prefix = _prefix(seed)
        ref = fp32.sessions.get("s2/prefill").run({"ids": prefix[None]})
        got = int8.sessions.get("s2/prefill").run({"ids": prefix[None]})
        assert compare(ref["logits"], got["logits"]).snr_db > 25
        cache = {f"cache.lm.{i}": np.stack((ref[f"present.lm.{i}.key"], ref[f"present.lm.{i}.value"]))
                 for i in range(c.n_layers)}
        feeds = {**cache, "token": np.array([[45]]), "position": np.array([prefix.size]),
                 "length": np.array([prefix.size])}
        a, b = (r.sessions.get("s2/step").run(feeds)["logits"] for r in (fp32, int8))
        assert compare(a, b).snr_db > 25
    prefix = _prefix(11)
    options = GenerationOptions(seed=11, temperature=1.0, top_k=20)
    tokens = list(int8.generate(prefix, ACOUSTIC, options))
    assert {int8.sessions.graph_precisions[f"s2/{g}"] for g in ("prefill", "step")} == {"int8"}
    assert tokens == list(int8.generate(prefix, ACOUSTIC, options))  # reproducible
    assert _in_rules(tokens, ACOUSTIC) and len(tokens) % 3 == 0 and len(tokens) >= 6
