"""RVQ decode/encode and FSQ kernels against the NumPy reference (tests/reference/rvq.py)."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tests.reference import rvq as ref
from voxlite.kernels import rvq

SEED = st.integers(0, 2**32 - 1)
TIE_RTOL = 1e-5


# --- helpers -----------------------------------------------------------------------------------

def dac_params(rng, n_q, K, Dc, D):
    """Random DAC-style quantizer: codebooks, in_proj, in_bias, folded out_codebooks."""
    codebooks = rng.standard_normal((n_q, K, Dc)).astype(np.float32)
    in_proj = (rng.standard_normal((n_q, Dc, D)) / np.sqrt(D)).astype(np.float32)
    in_bias = (0.1 * rng.standard_normal((n_q, Dc))).astype(np.float32)
    out_w = (rng.standard_normal((n_q, D, Dc)) / np.sqrt(Dc)).astype(np.float32)
    out_b = (0.1 * rng.standard_normal((n_q, D))).astype(np.float32)
    return codebooks, in_proj, in_bias, rvq.fold_projection(codebooks, out_w, out_b)


def check_encode(latents, codes, codebooks, in_proj=None, in_bias=None, normalize=False,
                 out_codebooks=None):
    """Every chosen code is the reference's nearest codeword for the residual it saw, unless the
    two candidates' distances differ by < TIE_RTOL relative; and the codes equal the free-running
    reference's wherever no such near-tie made the two diverge. Returns the number of ties."""
    n_stages = codes.shape[1]
    B, D, T = latents.shape
    residuals = ref.stage_residuals(latents, codes, codebooks, out_codebooks)
    ties = np.zeros((B * T, n_stages), dtype=bool)
    for q in range(n_stages):
        dist = ref.stage_distances(
            residuals[q].reshape(B * T, D), codebooks[q],
            None if in_proj is None else in_proj[q], None if in_bias is None else in_bias[q],
            normalize)
        chosen = codes[:, q, :].reshape(B * T)
        best = dist.argmin(axis=1)
        rows = np.arange(B * T)
        d_chosen, d_best = dist[rows, chosen], dist[rows, best]
        differ = chosen != best
        rel = np.abs(d_chosen - d_best) / np.maximum(np.maximum(np.abs(d_chosen), np.abs(d_best)), 1e-30)
        bad = differ & ~(rel < TIE_RTOL)
        assert not bad.any(), (
            f"stage {q}: codes {chosen[bad][:5]} vs reference {best[bad][:5]}, "
            f"distances {d_chosen[bad][:5]} vs {d_best[bad][:5]}")
        ties[:, q] = differ
    expected = ref.rvq_encode(latents, codebooks, n_stages, in_proj, in_bias, normalize,
                              out_codebooks)
    mismatch = (codes != expected).transpose(0, 2, 1).reshape(B * T, n_stages)
    for frame in np.flatnonzero(mismatch.any(axis=1)):
        first = np.flatnonzero(mismatch[frame])[0]
        assert ties[frame, first], f"frame {frame} diverges from the reference at stage {first}"
    return int(ties.sum())


def separated_codebooks(rng, n_q, K, D):
    """Stages of shrinking scale such that greedy search recovers any sum of codewords:
    the later stages' total norm stays below half the current stage's minimum codeword gap."""
    unit = rng.standard_normal((n_q, K, D))
    max_norm = np.linalg.norm(unit, axis=-1).max()
    scales = [1.0]
    for q in range(n_q - 1):
        gaps = np.linalg.norm(unit[q][:, None] - unit[q][None], axis=-1)
        min_gap = gaps[~np.eye(K, dtype=bool)].min() if K > 1 else 2 * max_norm
        scales.append(scales[-1] * min_gap / (4 * max_norm))
    return (unit * np.array(scales)[:, None, None]).astype(np.float32)


def encodec_exact(rng, B, n_q, K, D, T):
    codebooks = separated_codebooks(rng, n_q, K, D)
    codes = rng.integers(0, K, (B, n_q, T))
    latents = ref.rvq_decode(codes, codebooks)
    return latents, codebooks, codes


def separated_directions(rng, K, Dc, max_cos=0.999):
    """K random codewords (random norms) whose directions differ by more than ~2.6 degrees, so
    that cosine search can tell them apart in float32 (rejection sampling)."""
    unit = []
    while len(unit) < K:
        c = rng.standard_normal(Dc)
        c /= np.linalg.norm(c)
        if all(c @ u < max_cos for u in unit):
            unit.append(c)
    return np.array(unit) * rng.uniform(0.5, 2.0, (K, 1))


def dac_exact(rng, B, n_q, K, Dc, D, T):
    """Stage q reads and writes its own orthonormal block of the latent space, with biases
    arranged so that in_proj[q] @ residual + in_bias[q] is exactly the chosen codeword."""
    assert D >= n_q * Dc
    Q, _ = np.linalg.qr(rng.standard_normal((D, D)))
    codebooks = np.stack([separated_directions(rng, K, Dc) for _ in range(n_q)]).astype(np.float32)
    scales = rng.uniform(0.5, 2.0, n_q)
    out_b = 0.3 * rng.standard_normal((n_q, D))
    out_w = np.stack([Q[:, q * Dc:(q + 1) * Dc] * scales[q] for q in range(n_q)])  # (n_q, D, Dc)
    in_proj = np.stack([Q[:, q * Dc:(q + 1) * Dc].T / scales[q] for q in range(n_q)])
    in_bias = np.stack([-in_proj[q] @ out_b[q:].sum(axis=0) for q in range(n_q)])
    out_cb = rvq.fold_projection(codebooks, out_w, out_b)
    codes = rng.integers(0, K, (B, n_q, T))
    latents = ref.rvq_decode(codes, out_cb)
    return (latents, codebooks, in_proj.astype(np.float32), in_bias.astype(np.float32), out_cb,
            codes)


# --- decode ------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(seed=SEED, B=st.integers(1, 3), n_q=st.integers(1, 5), extra_q=st.integers(0, 2),
       T=st.integers(0, 70), K=st.integers(1, 40), D=st.integers(1, 24),
       int32=st.booleans(), data=st.data())
def test_decode_matches_reference(seed, B, n_q, extra_q, T, K, D, int32, data):
    rng = np.random.default_rng(seed)
    n_stages = data.draw(st.one_of(st.none(), st.integers(1, n_q)))
    codebooks = rng.standard_normal((n_q + extra_q, K, D)).astype(np.float32)
    codes = rng.integers(0, K, (B, n_q, T)).astype(np.int32 if int32 else np.int64)
    out = rvq.rvq_decode(codes, codebooks, n_stages=n_stages)
    assert out.dtype == np.float32 and out.shape == (B, D, T)
    np.testing.assert_allclose(out, ref.rvq_decode(codes, codebooks, n_stages), rtol=1e-6, atol=1e-6)


def test_decode_prefix_is_partial_sum():
    rng = np.random.default_rng(0)
    codebooks = rng.standard_normal((6, 50, 12)).astype(np.float32)
    codes = rng.integers(0, 50, (2, 6, 33))
    for s in range(1, 7):
        partial = sum(codebooks[q][codes[:, q, :]].astype(np.float64) for q in range(s))  # (B, T, D)
        out = rvq.rvq_decode(codes, codebooks, n_stages=s)
        np.testing.assert_allclose(out, partial.transpose(0, 2, 1), rtol=1e-5, atol=1e-5)
    # Unused stages are not looked at, even if their codes are invalid.
    bad_tail = codes.copy()
    bad_tail[:, 3:] = -7
    np.testing.assert_array_equal(rvq.rvq_decode(bad_tail, codebooks, n_stages=3),
                                  rvq.rvq_decode(codes[:, :3], codebooks))


def test_decode_bad_input():
    cb = np.zeros((4, 16, 8), np.float32)
    codes = np.zeros((1, 4, 10), np.int64)
    for bad_value in (16, -1, 2**40):
        bad = codes.copy()
        bad[0, 2, 7] = bad_value
        with pytest.raises(ValueError, match=rf"code {bad_value} at \[b=0, q=2, t=7\].*\[0, 16\)"):
            rvq.rvq_decode(bad, cb)
    bad32 = codes.astype(np.int32)
    bad32[0, 0, 0] = 99
    with pytest.raises(ValueError, match="outside"):
        rvq.rvq_decode(bad32, cb)
    with pytest.raises(ValueError, match="n_stages"):
        rvq.rvq_decode(codes, cb, n_stages=0)
    with pytest.raises(ValueError, match="n_stages"):
        rvq.rvq_decode(codes, cb, n_stages=5)
    with pytest.raises(ValueError, match="codes"):
        rvq.rvq_decode(codes[0], cb)
    with pytest.raises(ValueError, match="codebooks"):
        rvq.rvq_decode(codes, cb[0])
    with pytest.raises(ValueError, match="codebooks only 2"):
        rvq.rvq_decode(codes, cb[:2])
    with pytest.raises(ValueError, match="integer"):
        rvq.rvq_decode(codes.astype(np.float32), cb)


# --- encode ------------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(seed=SEED, B=st.integers(1, 2), n_q=st.integers(1, 4), T=st.integers(0, 45),
       K=st.integers(1, 80), D=st.integers(1, 40), data=st.data())
def test_encode_encodec_matches_reference(seed, B, n_q, T, K, D, data):
    rng = np.random.default_rng(seed)
    n_stages = data.draw(st.one_of(st.none(), st.integers(1, n_q)))
    codebooks = rng.standard_normal((n_q, K, D)).astype(np.float32)
    latents = (1.5 * rng.standard_normal((B, D, T))).astype(np.float32)
    codes = rvq.rvq_encode(latents, codebooks, n_stages=n_stages)
    assert codes.dtype == np.int64 and codes.shape == (B, n_stages or n_q, T)
    check_encode(latents, codes, codebooks)


@settings(max_examples=30, deadline=None)
@given(seed=SEED, B=st.integers(1, 2), n_q=st.integers(1, 4), T=st.integers(1, 45),
       K=st.integers(1, 80), Dc=st.integers(1, 12), D=st.integers(1, 48),
       normalize=st.booleans(), bias=st.booleans())
def test_encode_dac_matches_reference(seed, B, n_q, T, K, Dc, D, normalize, bias):
    rng = np.random.default_rng(seed)
    codebooks, in_proj, in_bias, out_cb = dac_params(rng, n_q, K, Dc, D)
    in_bias = in_bias if bias else None
    latents = rng.standard_normal((B, D, T)).astype(np.float32)
    codes = rvq.rvq_encode(latents, codebooks, in_proj=in_proj, in_bias=in_bias,
                           normalize=normalize, out_codebooks=out_cb)
    check_encode(latents, codes, codebooks, in_proj, in_bias, normalize, out_cb)


def test_encode_normalize_without_projection():
    rng = np.random.default_rng(3)
    codebooks = rng.standard_normal((3, 64, 16)).astype(np.float32)
    latents = rng.standard_normal((2, 16, 50)).astype(np.float32)
    codes = rvq.rvq_encode(latents, codebooks, normalize=True)
    check_encode(latents, codes, codebooks, normalize=True)


def test_encode_benchmark_size_matches_reference():
    """EnCodec-like sizes (exercises full tiles and the 8-lane main loop at Dc = 128)."""
    rng = np.random.default_rng(7)
    codebooks = rng.standard_normal((4, 1024, 128)).astype(np.float32)
    latents = rng.standard_normal((1, 128, 100)).astype(np.float32)
    codes = rvq.rvq_encode(latents, codebooks)
    check_encode(latents, codes, codebooks)


def test_tie_goes_to_lowest_index():
    codebooks = np.zeros((1, 6, 2), np.float32)
    codebooks[0, [1, 3, 4]] = [1.0, 0.0]  # three identical nearest codewords
    codebooks[0, [0, 2, 5]] = [-5.0, 5.0]
    latents = np.array([[[1.0, 0.9, 3.0], [0.0, 0.1, 0.0]]], np.float32)  # (1, 2, 3)
    assert rvq.rvq_encode(latents, codebooks).tolist() == [[[1, 1, 1]]]
    assert ref.rvq_encode(latents, codebooks).tolist() == [[[1, 1, 1]]]


@settings(max_examples=25, deadline=None)
@given(seed=SEED, B=st.integers(1, 2), n_q=st.integers(1, 4), K=st.integers(2, 48),
       D=st.integers(8, 24), T=st.integers(1, 40))
def test_encode_recovers_exact_codes_encodec(seed, B, n_q, K, D, T):
    latents, codebooks, codes = encodec_exact(np.random.default_rng(seed), B, n_q, K, D, T)
    np.testing.assert_array_equal(rvq.rvq_encode(latents, codebooks), codes)
    np.testing.assert_array_equal(ref.rvq_encode(latents, codebooks), codes)


@settings(max_examples=25, deadline=None)
@given(seed=SEED, B=st.integers(1, 2), n_q=st.integers(1, 4), K=st.integers(2, 64),
       Dc=st.integers(2, 8), extra=st.integers(0, 6), T=st.integers(1, 40))
def test_encode_recovers_exact_codes_dac(seed, B, n_q, K, Dc, extra, T):
    latents, codebooks, in_proj, in_bias, out_cb, codes = dac_exact(
        np.random.default_rng(seed), B, n_q, K, Dc, n_q * Dc + extra, T)
    got = rvq.rvq_encode(latents, codebooks, in_proj=in_proj, in_bias=in_bias, normalize=True,
                         out_codebooks=out_cb)
    np.testing.assert_array_equal(got, codes)
    np.testing.assert_allclose(rvq.rvq_decode(got, out_cb), latents, rtol=1e-4, atol=1e-4)


@settings(max_examples=15, deadline=None)
@given(seed=SEED, n_q=st.integers(2, 6), K=st.integers(32, 96), D=st.integers(2, 8),
       T=st.integers(16, 60))
def test_more_stages_smaller_residual(seed, n_q, K, D, T):
    """With a zero codeword in every stage, each stage can only shrink a frame's residual;
    random codewords of matching scale make the total strictly smaller."""
    rng = np.random.default_rng(seed)
    codebooks = (rng.standard_normal((n_q, K, D)) * 0.6 ** np.arange(n_q)[:, None, None]).astype(np.float32)
    codebooks[:, 0] = 0.0
    latents = rng.standard_normal((1, D, T)).astype(np.float32)
    codes = rvq.rvq_encode(latents, codebooks)
    check_encode(latents, codes, codebooks)
    errors = []
    for s in range(1, n_q + 1):
        np.testing.assert_array_equal(rvq.rvq_encode(latents, codebooks, n_stages=s), codes[:, :s])
        recon = rvq.rvq_decode(codes, codebooks, n_stages=s)
        errors.append(((latents.astype(np.float64) - recon) ** 2).sum(axis=1))  # (1, T)
    errors.insert(0, (latents.astype(np.float64) ** 2).sum(axis=1))
    for s in range(1, n_q + 1):
        assert np.all(errors[s] <= errors[s - 1] * (1 + 1e-5) + 1e-9), f"stage {s} grew a residual"
        assert errors[s].sum() < errors[s - 1].sum(), f"stage {s} did not reduce the total error"


def test_encode_bad_input():
    rng = np.random.default_rng(0)
    cb = rng.standard_normal((3, 16, 8)).astype(np.float32)
    lat = rng.standard_normal((1, 8, 5)).astype(np.float32)
    with pytest.raises(ValueError, match="latents"):
        rvq.rvq_encode(lat[0], cb)
    with pytest.raises(ValueError, match="n_stages"):
        rvq.rvq_encode(lat, cb, n_stages=4)
    with pytest.raises(ValueError, match="n_stages"):
        rvq.rvq_encode(lat, cb, n_stages=0)
    with pytest.raises(ValueError, match=r"codebook dim \(8\) must equal the latent dim \(6\)"):
        rvq.rvq_encode(lat[:, :6], cb)
    proj = rng.standard_normal((3, 8, 6)).astype(np.float32)
    with pytest.raises(ValueError, match="out_codebooks"):
        rvq.rvq_encode(lat[:, :6], cb, in_proj=proj)
    with pytest.raises(ValueError, match=r"in_proj has shape \(3, 8, 5\)"):
        rvq.rvq_encode(lat, cb, in_proj=proj[:, :, :5])
    with pytest.raises(ValueError, match="in_bias has shape"):
        rvq.rvq_encode(lat, cb, in_proj=proj[..., :1].repeat(8, -1), in_bias=np.zeros((3, 7)))
    with pytest.raises(ValueError, match="only meaningful together with in_proj"):
        rvq.rvq_encode(lat, cb, in_bias=np.zeros((3, 8)))
    with pytest.raises(ValueError, match=r"out_codebooks has shape"):
        rvq.rvq_encode(lat, cb, out_codebooks=np.zeros((3, 15, 8)))
    nan = lat.copy()
    nan[0, 3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rvq.rvq_encode(nan, cb)
    with pytest.raises(ValueError, match="NaN"):
        rvq.rvq_encode(lat, np.where(cb > 2, np.inf, cb))
    bad_rows = cb.copy()
    bad_rows[1] = np.nan  # every stage-1 row: whichever is chosen poisons the residual
    with pytest.raises(ValueError, match="residual became NaN"):
        rvq.rvq_encode(lat, cb, out_codebooks=bad_rows)
    with pytest.raises(ValueError, match="fold_projection"):
        rvq.fold_projection(cb, np.zeros((3, 4, 7)), np.zeros((3, 4)))


def test_fold_projection_matches_reference():
    rng = np.random.default_rng(1)
    cb = rng.standard_normal((3, 20, 8))
    w = rng.standard_normal((3, 32, 8))
    b = rng.standard_normal((3, 32))
    np.testing.assert_allclose(rvq.fold_projection(cb, w, b), ref.fold_projection(cb, w, b),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(rvq.fold_projection(cb, w[..., None], b), ref.fold_projection(cb, w, b),
                               rtol=1e-6, atol=1e-6)


# --- FSQ ---------------------------------------------------------------------------------------

LEVELS = st.lists(st.integers(2, 16), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(seed=SEED, N=st.integers(0, 300), levels=LEVELS, scale=st.sampled_from([0.3, 1.0, 3.0, 30.0]))
def test_fsq_matches_reference(seed, N, levels, scale):
    rng = np.random.default_rng(seed)
    z = (scale * rng.standard_normal((N, len(levels)))).astype(np.float32)
    codes, zhat = rvq.fsq_quantize(z, levels)
    want_codes, want_zhat = ref.fsq_quantize(z, levels)
    assert codes.dtype == np.int64 and zhat.dtype == np.float32 and zhat.shape == z.shape
    assert np.all((codes >= 0) & (codes < np.prod(levels)))
    assert np.all(np.abs(zhat) <= 1.0)
    # Equal except where the pre-rounding value sits within 1e-6 of a rounding boundary.
    bounded = ref.fsq_bounded(z, levels)
    near_boundary = np.abs(np.abs(bounded - np.floor(bounded)) - 0.5) < 1e-6
    same = ~near_boundary.any(axis=1)
    np.testing.assert_array_equal(codes[same], want_codes[same])
    np.testing.assert_array_equal(zhat[same], want_zhat[same])
    # Round trip and digits.
    np.testing.assert_array_equal(rvq.fsq_dequantize(codes, levels), zhat)
    np.testing.assert_array_equal(ref.fsq_dequantize(codes, levels), zhat)
    basis = np.cumprod([1] + list(levels[:-1]))
    np.testing.assert_array_equal(rvq.fsq_codes_to_digits(codes, levels),
                                  (codes[:, None] // basis) % np.array(levels))


@pytest.mark.parametrize("levels", [[2], [3], [4, 3], [8, 5, 5], [2, 3, 4, 5], [7, 6]])
def test_fsq_every_code_reachable(levels):
    """Place z exactly on each level (inverting the bound) and get every code once."""
    lv = np.array(levels)
    size = int(np.prod(lv))
    all_codes = np.arange(size)
    digits = rvq.fsq_codes_to_digits(all_codes, lv)  # (size, d)
    half_l = (lv - 1) * (1 + 1e-3) / 2
    offset = np.where(lv % 2 == 0, 0.5, 0.0)
    shift = np.arctanh(offset / half_l)
    z = np.arctanh((digits - lv // 2 + offset) / half_l) - shift
    codes, zhat = rvq.fsq_quantize(z.astype(np.float32), lv)
    np.testing.assert_array_equal(codes, all_codes)
    np.testing.assert_array_equal(zhat, ref.fsq_dequantize(all_codes, lv))
    # Random inputs spread evenly over the bounded range hit every code, and only valid ones.
    rng = np.random.default_rng(size)
    z = np.arctanh(rng.uniform(-1, 1, (20000, lv.size))) - shift
    codes = rvq.fsq_quantize(z.astype(np.float32), lv)[0]
    assert set(np.unique(codes).tolist()) == set(all_codes.tolist())


def test_fsq_known_values():
    # levels [8, 5]: half_width (4, 2); z = 0 -> bounded 0 in both dims -> digits (4, 2).
    codes, zhat = rvq.fsq_quantize(np.zeros((1, 2), np.float32), [8, 5])
    assert zhat.tolist() == [[0.0, 0.0]] and codes.tolist() == [4 + 2 * 8]
    codes, zhat = rvq.fsq_quantize(np.array([[100.0, -100.0]], np.float32), [8, 5])
    assert zhat.tolist() == [[0.75, -1.0]] and codes.tolist() == [7]


def test_fsq_bad_input():
    with pytest.raises(ValueError, match=r"code 40 at index 1 is outside \[0, 40\)"):
        rvq.fsq_dequantize([0, 40], [8, 5])
    with pytest.raises(ValueError, match="outside"):
        rvq.fsq_dequantize([-1], [8, 5])
    with pytest.raises(ValueError, match="outside"):
        rvq.fsq_codes_to_digits([40], [8, 5])
    with pytest.raises(ValueError, match=r"levels\[1\]=1 must be in \[2, 1000\]"):
        rvq.fsq_quantize(np.zeros((2, 2)), [8, 1])
    with pytest.raises(ValueError, match="must be in"):
        rvq.fsq_quantize(np.zeros((2, 1)), [1001])
    with pytest.raises(ValueError, match="2\\^62"):
        rvq.fsq_dequantize([0], [1000] * 7)
    with pytest.raises(ValueError, match="expected \\[N, d\\]"):
        rvq.fsq_quantize(np.zeros((2, 3)), [8, 5])
    with pytest.raises(ValueError, match="NaN"):
        rvq.fsq_quantize(np.array([[0.0, np.nan]]), [8, 5])
    with pytest.raises(ValueError, match="integers"):
        rvq.fsq_quantize(np.zeros((2, 2)), [8.0, 5.0])


# --- threads -----------------------------------------------------------------------------------

def test_threads():
    """Several Python threads in the kernels at once (GIL released): all results correct."""
    rng = np.random.default_rng(11)
    latents, codebooks, codes = encodec_exact(rng, 2, 3, 64, 16, 400)
    dac = dac_exact(rng, 1, 4, 256, 8, 40, 300)
    z = rng.standard_normal((5000, 4)).astype(np.float32)
    want_fsq = ref.fsq_quantize(z, [8, 5, 5, 5])
    want_dec = ref.rvq_decode(codes, codebooks)
    errors = []

    def work():
        try:
            for _ in range(5):
                np.testing.assert_array_equal(rvq.rvq_encode(latents, codebooks), codes)
                got = rvq.rvq_encode(dac[0], dac[1], in_proj=dac[2], in_bias=dac[3],
                                     normalize=True, out_codebooks=dac[4])
                np.testing.assert_array_equal(got, dac[5])
                np.testing.assert_allclose(rvq.rvq_decode(codes, codebooks), want_dec, rtol=1e-6, atol=1e-6)
                c, zh = rvq.fsq_quantize(z, [8, 5, 5, 5])
                np.testing.assert_array_equal(c, want_fsq[0])
                np.testing.assert_array_equal(zh, want_fsq[1])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
