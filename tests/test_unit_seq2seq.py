"""Unit seq2seq (cascade stage S1): cached steps equal teacher forcing, the exact-length rule, an exported tiny
component whose runner's units equal the reference ``generate`` for fixed seeds (ONNX Runtime and OpenVINO), int8
graphs, and refused input."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from voxlite.errors import BundleError, InvalidInput  # noqa: E402
from voxlite.hparams.unit_seq2seq import UnitSeq2SeqHParams  # noqa: E402
from voxlite.pipelines.generation import GenerationOptions  # noqa: E402
from voxlite.pipelines.unit_rules import STAGE_STEPS, FrameRules, choose  # noqa: E402

CONFIG = dict(n_tgt_ctx=96)  # > the runner's first cache allocation (64): exact-length runs grow the cache


def _config(**kw):
    from voxlite.models.unit_seq2seq import UnitSeq2SeqConfig

    return UnitSeq2SeqConfig.tiny(**{**CONFIG, **kw})


def _rules(c, min_frames=0, max_frames=1_000_000):
    return FrameRules(((0, c.n_units),), end=c.eos, min_frames=min_frames, max_frames=max_frames)


def _sampler(options: GenerationOptions, offset: int = 0):
    return lambda masked, i: choose(masked, temperature=options.temperature, top_k=options.top_k,
                                    top_p=options.top_p, seed=options.seed, step=offset + i)


@pytest.fixture(scope="module")
def reference():
    from export.unit_seq2seq import random_unit_seq2seq

    return random_unit_seq2seq(_config(), seed=0)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, reference):
    from export.unit_seq2seq import write_unit_seq2seq_component
    from voxlite.bundle import BundleWriter, open_bundle

    tmp = tmp_path_factory.mktemp("unit-seq2seq")
    with BundleWriter(tmp / "bundle", model_type="graph", name="s1", sample_rate=None) as writer:
        hp = write_unit_seq2seq_component(writer, "s1", reference, tmp, precisions=("fp32", "int8"),
                                          log=lambda *_: None)
        writer.finish()
    bundle = open_bundle(tmp / "bundle")
    assert UnitSeq2SeqHParams.from_json(bundle.component("s1").hparams) == hp
    return bundle, hp


def _runner(bundle, backend="cpu", precision="fp32"):
    from voxlite.pipelines.sessions import GraphSessions
    from voxlite.pipelines.unit_seq2seq import UnitSeq2SeqRunner

    b, hp = bundle
    sessions = GraphSessions(b, backend=backend, precision=precision)
    return UnitSeq2SeqRunner(sessions, "s1", hp), sessions


def test_cached_steps_equal_teacher_forcing(reference):
    from export.graphs import kv_buffers

    c = reference.config
    g = torch.Generator().manual_seed(0)
    src = torch.randint(0, c.n_src_vocab, (1, 9), generator=g)
    tgt = torch.cat((torch.tensor([[c.bos]]), torch.randint(0, c.n_units, (1, 7), generator=g)), dim=1)
    with torch.no_grad():
        full = reference(src, tgt)[0]
        cross = reference.encode(src)
        kv, steps, buffered = None, [], []
        for t in range(tgt.shape[1]):
            if kv is not None:  # the fixed-buffer step against noisy spare slots
                cache = kv_buffers(kv, t, g)
                logits, _ = reference.step_buffer(tgt[:, t:t + 1], torch.tensor([t]), torch.tensor([t]),
                                                  tuple(cache), cross)
                buffered.append(logits[0])
            logits, new = reference.step(tgt[:, t:t + 1], torch.tensor([t]), kv, cross)
            kv = new if kv is None else tuple(torch.cat((a, b), dim=2) for a, b in zip(kv, new))
            steps.append(logits[0])
        # a padded batch with its source mask gives the unpadded logits
        padded = torch.cat((src, torch.randint(0, c.n_src_vocab, (1, 4), generator=g)), dim=1)
        mask = torch.cat((torch.ones(1, 9), torch.zeros(1, 4)), dim=1)
        masked = reference(padded, tgt, src_mask=mask)[0]
    torch.testing.assert_close(torch.stack(steps), full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.stack(buffered), full[1:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(masked, full, atol=1e-5, rtol=1e-5)
    assert full.shape == (tgt.shape[1], c.n_units + 2)


def test_exact_length_rule(reference):
    import copy

    c = reference.config
    model = copy.deepcopy(reference)
    with torch.no_grad():  # EOS the argmax whenever it is allowed
        model.predict.weight[c.eos] = model.predict.weight[:c.n_units].sum(0)
    src = torch.arange(5)
    seen = []

    def greedy(masked, i):
        seen.append(masked)
        return choose(masked, temperature=0.0)

    assert model.generate(src, _rules(c), greedy) == []  # free: ends at once
    seen.clear()
    units = model.generate(src, _rules(c, 12, 12), greedy)
    assert len(units) == 12 and all(0 <= u < c.n_units for u in units)
    assert len(seen) == 12 and all(np.isneginf(m[0, c.eos]) and np.isneginf(m[0, c.bos]) for m in seen)


@pytest.mark.parametrize("backend", ["cpu", "openvino"])
def test_runner_units_equal_the_reference(bundle, reference, backend):
    if backend == "openvino":
        pytest.importorskip("openvino")
    runner, _ = _runner(bundle, backend)
    c = reference.config
    rng = np.random.default_rng(1)
    cases = [(GenerationOptions(seed=0, temperature=0.0), _rules(c), 0),
             (GenerationOptions(seed=3, temperature=1.0, top_k=8), _rules(c), 0),
             (GenerationOptions(seed=5, temperature=0.9, top_k=5, top_p=0.9), _rules(c), STAGE_STEPS),
             (GenerationOptions(seed=7, temperature=1.0), _rules(c, 80, 80), 0)]  # exact length: the cache grows
    lengths = []
    for options, rules, offset in cases:
        src = rng.integers(0, c.n_src_vocab, int(rng.integers(3, 12)))
        got = list(runner.generate(src, rules, options, step_offset=offset))
        want = reference.generate(torch.tensor(src), rules, _sampler(options, offset))
        assert got == want
        lengths.append(len(got))
    assert lengths[-1] == 80 and max(lengths[:-1]) > 1  # the random weights do not end at once


def test_runner_limits(bundle, reference):
    runner, _ = _runner(bundle)
    c = reference.config
    src = np.array([1, 2, 3])
    rules = _rules(c, 30, 30)
    assert len(list(runner.generate(src, rules, GenerationOptions(temperature=0.0, max_length=7)))) == 7
    assert len(list(runner.generate(src, _rules(c, 0, 5), GenerationOptions(temperature=0.0)))) <= 5
    full = list(runner.generate(src, _rules(c, c.n_tgt_ctx, c.n_tgt_ctx), GenerationOptions(temperature=0.0)))
    assert len(full) == c.n_tgt_ctx  # the target positions run out
    assert full == reference.generate(torch.tensor(src), _rules(c, c.n_tgt_ctx, c.n_tgt_ctx),
                                      _sampler(GenerationOptions(temperature=0.0)))


def test_int8_graphs_run(bundle, reference):
    runner, sessions = _runner(bundle, precision="int8")
    c = reference.config
    src = np.array([4, 8, 15, 16, 23])
    options = GenerationOptions(seed=2, temperature=1.0, top_k=10)
    a = list(runner.generate(src, _rules(c, 20, 20), options))
    assert {sessions.graph_precisions[f"s1/{g}"] for g in ("encode", "step")} == {"int8"}
    assert a == list(runner.generate(src, _rules(c, 20, 20), options))
    assert len(a) == 20 and all(0 <= u < c.n_units for u in a)


def test_refusals(bundle, reference):
    runner, _ = _runner(bundle)
    c = reference.config
    options = GenerationOptions(temperature=0.0)
    bad = [np.array([], np.int64), np.array([1, -1]), np.array([1, c.n_src_vocab]), np.array([[1, 2]]),
           np.array([0.5, 1.0]), np.zeros(c.n_src_ctx + 1, np.int64)]
    for src in bad:
        with pytest.raises(InvalidInput):
            runner.generate(src, _rules(c), options)
    with pytest.raises(InvalidInput, match="at most"):
        runner.generate(np.array([1]), _rules(c, c.n_tgt_ctx + 1, c.n_tgt_ctx + 1), options)
    with pytest.raises(InvalidInput, match="EOS"):
        runner.generate(np.array([1]), FrameRules(((0, c.n_units),), end=c.bos), options)
    with pytest.raises(InvalidInput, match="EOS"):
        runner.generate(np.array([1]), FrameRules(((0, c.n_units + 1),), end=c.eos + 1), options)
    assert len(list(runner.generate(np.zeros(c.n_src_ctx, np.int64), _rules(c, 0, 3), options))) <= 3
    hp = bundle[1].to_json()
    for change in ({"bos": hp["eos"]}, {"kv": {"ar": hp["kv"]["dec"]}}, {"n_dec_layers": 3}, {"n_units": 0}):
        with pytest.raises(BundleError):
            UnitSeq2SeqHParams.from_json({**hp, **change})
