"""Sampling kernels (voxlite.kernels.sampling) against the NumPy reference (tests/reference/sampling.py)."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference import sampling as ref
from voxlite.kernels import sampling as ks

# ---------------------------------------------------------------- input builders


def make_logits(seed: int, B: int, V: int, *, scale: float = 3.0, masked: float = 0.0,
                quantize: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((B, V)) * scale).astype(np.float32)
    if quantize:  # many exact ties (top-k boundary, argmax, equal probabilities)
        x = (np.round(x * 2) / 2).astype(np.float32)
    if masked > 0:
        mask = rng.random((B, V)) < masked
        mask[np.arange(B), rng.integers(0, V, B)] = False  # every row keeps a finite value
        x[mask] = -np.inf
    return x


def make_history(seed: int, B: int, H: int, V: int, dtype) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    h = rng.integers(0, V, (B, H))
    for b in range(B):  # left padding of random length
        h[b, : rng.integers(0, H + 1)] = -1
    return h.astype(dtype)


@st.composite
def cases(draw, max_B=6, max_V=300):
    seed = draw(st.integers(0, 2**32 - 1))
    B = draw(st.integers(1, max_B))
    V = draw(st.integers(1, max_V))
    H = draw(st.integers(0, 24))
    opts = dict(
        window=draw(st.integers(0, 30)),
        repetition_penalty=draw(st.one_of(st.just(1.0), st.floats(0.3, 3.0))),
        temperature=draw(st.one_of(st.just(1.0), st.just(0.0), st.floats(0.05, 4.0))),
        top_k=draw(st.one_of(st.just(0), st.integers(1, V + 3))),
        top_p=draw(st.one_of(st.just(1.0), st.floats(0.01, 1.0, exclude_min=True))),
        min_p=draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0))),
    )
    hist_kind = draw(st.sampled_from([None, np.int64, np.int32]))
    history = None if hist_kind is None else make_history(seed, B, H, V, hist_kind)
    logits = make_logits(seed, B, V, scale=draw(st.sampled_from([0.3, 1.0, 3.0, 10.0])),
                         masked=draw(st.sampled_from([0.0, 0.0, 0.3])),
                         quantize=draw(st.booleans()))
    return logits, history, opts


# ---------------------------------------------------------------- process_logits


@settings(max_examples=150, deadline=None)
@given(cases())
def test_process_logits_matches_reference(case):
    logits, history, opts = case
    got = ks.process_logits(logits, history=history, **opts)
    want = ref.process_logits(logits, history=history, **opts)
    assert got.dtype == np.float32 and got.shape == logits.shape
    np.testing.assert_array_equal(got, want)


STEPS = {
    "penalty": dict(repetition_penalty=1.7, window=8),
    "temperature": dict(temperature=0.37),
    "top_k": dict(top_k=7),
    "top_p": dict(top_p=0.6),
    "min_p": dict(min_p=0.05),
}


@pytest.mark.parametrize("step", sorted(STEPS))
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), B=st.integers(1, 6), V=st.integers(1, 300),
       quantize=st.booleans())
def test_each_step_alone_matches_reference(step, seed, B, V, quantize):
    logits = make_logits(seed, B, V, quantize=quantize, masked=0.1)
    history = make_history(seed, B, 16, V, np.int64)
    opts = STEPS[step]
    got = ks.process_logits(logits, history=history, **opts)
    want = ref.process_logits(logits, history=history, **opts)
    np.testing.assert_array_equal(got, want)
    if step != "penalty":  # only -inf is written by the truncation steps
        kept = np.isfinite(got)
        scaled = logits / np.float32(opts.get("temperature", 1.0))
        np.testing.assert_array_equal(got[kept], scaled[kept])


def test_repetition_penalty_hand_example():
    x = np.array([[2.0, -2.0, 1.0, 0.5, 3.0]], dtype=np.float32)
    # id 0 appears twice but is penalised once; -1 is padding
    got = ks.process_logits(x, history=np.array([[-1, 0, 1, 0]]), repetition_penalty=2.0)
    np.testing.assert_array_equal(got, [[1.0, -4.0, 1.0, 0.5, 3.0]])
    # window=1: only the most recent id (4) counts
    got = ks.process_logits(x, history=np.array([[0, 1, 4]], dtype=np.int32), window=1,
                            repetition_penalty=2.0)
    np.testing.assert_array_equal(got, [[2.0, -2.0, 1.0, 0.5, 1.5]])
    # penalty < 1 rewards: x > 0 -> x / 0.5
    got = ks.process_logits(x, history=np.array([[2, 1]]), repetition_penalty=0.5)
    np.testing.assert_array_equal(got, [[2.0, -1.0, 2.0, 0.5, 3.0]])


def test_top_k_keeps_boundary_ties():
    x = np.array([[1.0, 3.0, 2.0, 2.0, 0.0, 2.0]], dtype=np.float32)
    got = ks.process_logits(x, top_k=2)
    np.testing.assert_array_equal(np.isfinite(got[0]), [False, True, True, True, False, True])


def test_top_p_ties_prefer_lower_index():
    # ten equal probabilities of 0.1: the prefix reaching 0.35 has four tokens, the lowest indices
    x = np.zeros((1, 10), dtype=np.float32)
    got = ks.process_logits(x, top_p=0.35)
    np.testing.assert_array_equal(np.flatnonzero(np.isfinite(got[0])), [0, 1, 2, 3])
    # a single dominant token already covers top_p: only it stays
    # cumulative mass exactly equal to top_p (0.25 + 0.25 == 0.5) ends the prefix
    z = np.zeros((1, 4), dtype=np.float32)
    np.testing.assert_array_equal(np.isfinite(ks.process_logits(z, top_p=0.5)[0]), [True, True, False, False])
    y = np.array([[0.0, 10.0, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(np.isfinite(ks.process_logits(y, top_p=0.5)[0]), [False, True, False])


def test_min_p_one_keeps_only_the_maxima():
    x = np.array([[1.0, 4.0, 4.0, 3.999]], dtype=np.float32)
    np.testing.assert_array_equal(np.isfinite(ks.process_logits(x, min_p=1.0)[0]),
                                  [False, True, True, False])


def test_top_p_signed_zeros_tie():
    # -0.0 == +0.0: equal probabilities, so the lower indices win whatever the sign bit
    x = np.array([[-0.0, 0.0, 0.0, -0.0, -5.0]], dtype=np.float32)
    got = ks.process_logits(x, top_p=0.4)
    np.testing.assert_array_equal(np.isfinite(got[0]), [True, True, False, False, False])
    np.testing.assert_array_equal(got, ref.process_logits(x, top_p=0.4))


@pytest.mark.parametrize("V,top_k,top_p,scale", [(5000, 0, 0.99, 0.2), (5000, 3000, 0.95, 0.5),
                                                 (5000, 0, 0.9999999, 1.0), (3000, 0, 0.5, 0.0),
                                                 (150_000, 0, 0.9, 2.0), (20_000, 40, 0.8, 1.0)])
def test_large_vocab_matches_reference(V, top_k, top_p, scale):
    # flat logits make the top-p cut land deep in the sorted order (several selection rounds)
    logits = make_logits(V + top_k, 2, V, scale=scale, masked=0.05)
    opts = dict(temperature=0.9, top_k=top_k, top_p=top_p, min_p=0.001)
    np.testing.assert_array_equal(ks.process_logits(logits, **opts), ref.process_logits(logits, **opts))
    for seed in range(3):
        np.testing.assert_array_equal(ks.sample(logits, seed=seed, **opts),
                                      ref.sample(logits, seed=seed, **opts))


# ---------------------------------------------------------------- RNG and sample


def test_splitmix64_known_answers():
    # SplitMix64 (Steele, Lea, Flood 2014) seeded with 0 starts 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4;
    # output n is splitmix64(n * gamma).
    gamma = 0x9E3779B97F4A7C15
    out = ref.splitmix64(np.array([0, gamma], dtype=np.uint64))
    assert [int(v) for v in out] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]


@pytest.mark.parametrize("seed", [0, 1, 42, 2**63, 2**64 - 1])
@pytest.mark.parametrize("step", [0, 1, 977, 2**64 - 1])
def test_uniform_matches_reference_bit_exactly(seed, step):
    got = ks.uniform(seed, step, 257)
    want = ref.uniform(seed, step, 257)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))
    assert (got >= 0).all() and (got < 1).all()


@settings(max_examples=120, deadline=None)
@given(cases(), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_sample_matches_reference(case, seed, step):
    logits, history, opts = case
    got = ks.sample(logits, history=history, seed=seed, step=step, **opts)
    want = ref.sample(logits, history=history, seed=seed, step=step, **opts)
    assert got.dtype == np.int64 and got.shape == (logits.shape[0],)
    np.testing.assert_array_equal(got, want)


def test_sample_matches_reference_over_many_seeds():
    logits = make_logits(7, 4, 64, scale=1.5)
    history = make_history(7, 4, 12, 64, np.int64)
    opts = dict(history=history, window=8, repetition_penalty=1.2, temperature=0.8, top_k=20,
                top_p=0.9, min_p=0.02)
    processed = ref.process_logits(logits, **opts)
    for seed in range(300):
        got = ks.sample(logits, seed=seed, step=seed % 7, **opts)
        np.testing.assert_array_equal(got, ref.sample(logits, seed=seed, step=seed % 7, **opts))
        assert np.isfinite(processed[np.arange(4), got]).all()  # never a removed token


def test_same_seed_step_same_tokens_and_steps_differ():
    logits = np.zeros((256, 1000), dtype=np.float32)  # uniform over 1000 tokens
    a = ks.sample(logits, seed=5, step=3)
    np.testing.assert_array_equal(a, ks.sample(logits, seed=5, step=3))
    np.testing.assert_array_equal(a, ref.sample(logits, seed=5, step=3))
    # other steps / seeds give other streams (a collision per row has probability 1/1000)
    for other in (ks.sample(logits, seed=5, step=4), ks.sample(logits, seed=6, step=3)):
        assert np.mean(a == other) < 0.05
    # rows of one call are independent draws, not copies
    assert len(np.unique(a)) > 200
    # a row's token does not depend on the other rows in the batch
    np.testing.assert_array_equal(ks.sample(logits[:10], seed=5, step=3), a[:10])


def _chi2(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


def test_sampling_frequencies_follow_processed_softmax():
    V, N = 8, 20_000
    base = np.array([[2.0, 1.5, 1.0, 0.3, -0.5, 0.8, -3.0, 1.2]], dtype=np.float32)
    opts = dict(history=np.array([[1, 5, -1]]), repetition_penalty=1.3, temperature=0.7, top_k=6,
                top_p=0.97, min_p=0.02)
    processed = ref.process_logits(base, **opts)[0]
    keep = np.isfinite(processed)
    assert 2 < keep.sum() < V  # the options really cut something and leave a distribution
    p = np.exp(processed[keep].astype(np.float64) - processed[keep].max())
    p /= p.sum()
    df = keep.sum() - 1
    bound = df + 8 * np.sqrt(2 * df)  # loose: about 8 standard deviations of the chi-square

    # N rows of one call (row counter) ...
    tokens = ks.sample(np.repeat(base, N, axis=0), seed=123, step=0,
                       **{**opts, "history": np.repeat(opts["history"], N, axis=0)})
    counts = np.bincount(tokens, minlength=V)
    assert counts[~keep].sum() == 0
    assert _chi2(counts[keep], p) < bound
    # ... and the power of the check: a subtly wrong distribution (temperature ignored) is rejected
    wrong = ref.process_logits(base, **{**opts, "temperature": 1.0})[0].astype(np.float64)
    wrong = np.exp(wrong - wrong.max())
    wrong /= wrong.sum()
    assert _chi2(counts.astype(np.float64), np.maximum(wrong, 1e-12)) > 10 * bound

    # one row over many steps (step counter)
    tokens = np.concatenate([ks.sample(base, seed=9, step=s, **opts) for s in range(5000)])
    counts = np.bincount(tokens, minlength=V)
    assert counts[~keep].sum() == 0
    assert _chi2(counts[keep], p) < bound


# ---------------------------------------------------------------- greedy


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), B=st.integers(1, 6), V=st.integers(1, 300))
def test_greedy_matches_argmax(seed, B, V):
    logits = make_logits(seed, B, V, quantize=True, masked=0.3)  # ties and -inf
    got = ks.greedy(logits)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.argmax(logits, axis=1))


def test_temperature_zero_is_greedy_after_penalty():
    logits = make_logits(3, 6, 40, quantize=True)
    history = make_history(3, 6, 10, 40, np.int64)
    opts = dict(history=history, repetition_penalty=3.0, top_k=5, top_p=0.5, min_p=0.1)
    penalised = ref.process_logits(logits, history=history, repetition_penalty=3.0, temperature=0.0)
    for seed in range(5):
        got = ks.sample(logits, temperature=0.0, seed=seed, **opts)
        np.testing.assert_array_equal(got, np.argmax(penalised, axis=1))
    assert (np.argmax(penalised, axis=1) != np.argmax(logits, axis=1)).any()  # the penalty mattered


# ---------------------------------------------------------------- cfg_logits and log_softmax


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), B=st.integers(1, 6), V=st.integers(1, 300),
       scale=st.floats(-2.0, 12.0), space=st.sampled_from(["logits", "logprobs"]),
       masked=st.sampled_from([0.0, 0.2]))
def test_cfg_logits_matches_reference(seed, B, V, scale, space, masked):
    cond = make_logits(seed, B, V, masked=masked)
    uncond = make_logits(seed + 1, B, V, masked=masked)
    got = ks.cfg_logits(cond, uncond, scale, space=space)
    want = ref.cfg_logits(cond, uncond, scale, space=space)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_cfg_scale_one_returns_cond_and_zero_uncond():
    cond = make_logits(11, 3, 500, scale=5.0)
    uncond = make_logits(12, 3, 500, scale=5.0)
    np.testing.assert_array_equal(ks.cfg_logits(cond, uncond, 1.0), cond)
    np.testing.assert_array_equal(ks.cfg_logits(cond, uncond, 0.0), uncond)
    np.testing.assert_allclose(ks.cfg_logits(cond, uncond, 1.0, space="logprobs"),
                               ref.log_softmax(cond), rtol=1e-6, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), B=st.integers(1, 6), V=st.integers(1, 300),
       scale=st.sampled_from([0.1, 3.0, 100.0]))
def test_log_softmax_matches_reference(seed, B, V, scale):
    x = make_logits(seed, B, V, scale=scale, masked=0.2)
    got = ks.log_softmax(x)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(x))
    np.testing.assert_allclose(got, ref.log_softmax(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.exp(got.astype(np.float64)).sum(axis=1), 1.0, rtol=1e-5)


def test_log_softmax_is_stable_for_huge_logits():
    x = np.array([[1e30, 1e30, -1e30]], dtype=np.float32)
    got = ks.log_softmax(x)
    assert np.isfinite(got).all() and got[0, 0] == got[0, 1] == pytest.approx(-np.log(2))
    assert got[0, 2] == np.float32(-2e30)


# ---------------------------------------------------------------- bad input


GOOD = np.zeros((2, 5), dtype=np.float32)


def _with(i, j, v):
    x = GOOD.copy()
    x[i, j] = v
    return x


BAD = [
    ("nan", lambda f: f(_with(1, 3, np.nan)), r"\[1, 3\] is NaN"),
    ("posinf", lambda f: f(_with(0, 2, np.inf)), r"\+inf"),
    ("all -inf row", lambda f: f(np.array([[0, 1], [-np.inf, -np.inf]], np.float32)), "all"),
    ("1-D", lambda f: f(np.zeros(5, np.float32)), "2-D"),
    ("3-D", lambda f: f(np.zeros((1, 2, 5), np.float32)), "2-D"),
    ("V=0", lambda f: f(np.zeros((2, 0), np.float32)), "V must be >= 1"),
]


@pytest.mark.parametrize("name,call,match", BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("fn", ["process_logits", "sample", "greedy", "log_softmax", "cfg"])
def test_bad_logits_raise(name, call, match, fn):
    f = {"process_logits": ks.process_logits, "sample": ks.sample, "greedy": ks.greedy,
         "log_softmax": ks.log_softmax,
         "cfg": lambda x: ks.cfg_logits(x, x, 2.0, space="logprobs")}[fn]
    with pytest.raises(ValueError, match=match):
        call(f)


BAD_OPTIONS = [
    (dict(temperature=-0.5), "temperature"),
    (dict(temperature=np.nan), "temperature"),
    (dict(top_p=0.0), "top_p"),
    (dict(top_p=1.5), "top_p"),
    (dict(top_p=np.nan), "top_p"),
    (dict(min_p=-0.1), "min_p"),
    (dict(min_p=1.01), "min_p"),
    (dict(top_k=-1), "top_k"),
    (dict(repetition_penalty=0.0), "repetition_penalty"),
    (dict(repetition_penalty=-1.0), "repetition_penalty"),
    (dict(window=-1), "window"),
    (dict(history=np.array([[0, 5], [1, 2]])), r"history\[0, 1\] = 5 is out of range"),
    (dict(history=np.array([[0, 1], [-2, 0]], np.int32)), r"history\[1, 0\] = -2"),
    (dict(history=np.array([[0, 1]])), "rows"),
    (dict(history=np.array([0, 1])), "2-D"),
    (dict(history=np.array([[0.0, 1.0], [1.0, 2.0]])), "integer"),
    (dict(seed=-1), "seed"),
    (dict(step=2**64), "step"),
]


@pytest.mark.parametrize("kwargs,match", BAD_OPTIONS, ids=[str(b[0])[:40] for b in BAD_OPTIONS])
def test_bad_options_raise(kwargs, match):
    fns = [ks.sample] if {"seed", "step"} & kwargs.keys() else [ks.sample, ks.process_logits]
    for f in fns:
        with pytest.raises(ValueError, match=match):
            f(GOOD, **kwargs)


def test_overflow_after_temperature_raises():
    x = np.array([[1e30, 0.0]], dtype=np.float32)
    with pytest.raises(ValueError, match="overflow"):
        ks.sample(x, temperature=1e-20)


def test_cfg_bad_input_raises():
    with pytest.raises(ValueError, match="same shape"):
        ks.cfg_logits(np.zeros((2, 5), np.float32), np.zeros((2, 6), np.float32), 2.0)
    with pytest.raises(ValueError, match="same shape"):
        ks.cfg_logits(np.zeros((2, 5), np.float32), np.zeros((3, 5), np.float32), 2.0)
    with pytest.raises(ValueError, match="space"):
        ks.cfg_logits(GOOD, GOOD, 2.0, space="probs")
    with pytest.raises(ValueError, match=r"uncond\[0, 1\] is NaN"):
        ks.cfg_logits(GOOD, _with(0, 1, np.nan), 2.0)
    with pytest.raises(ValueError, match="finite"):
        ks.cfg_logits(GOOD, GOOD, np.inf)


# ---------------------------------------------------------------- threads


def test_concurrent_calls_match_reference():
    B, V = 8, 32_000
    logits = make_logits(99, B, V, scale=2.0)
    history = make_history(99, B, 64, V, np.int64)
    opts = dict(history=history, window=48, repetition_penalty=1.15, temperature=0.9, top_p=0.9)
    seeds = range(4)
    expected = {s: ref.sample(logits, seed=s, step=s + 10, **opts) for s in seeds}
    errors: list[str] = []

    def worker(tid: int):
        for rep in range(6):
            s = (tid + rep) % 4
            got = ks.sample(logits, seed=s, step=s + 10, **opts)
            if not np.array_equal(got, expected[s]):
                errors.append(f"thread {tid} seed {s}: {got} != {expected[s]}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
