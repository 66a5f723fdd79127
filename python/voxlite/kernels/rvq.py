"""Residual vector quantisation (RVQ) and finite scalar quantisation (FSQ).

RVQ follows the codecs' layouts: latents ``(B, D, T)`` channels first (EnCodec/DAC), codes
``(B, n_q, T)``, codebooks ``(n_q, K, Dc)``.

- EnCodec: ``rvq_encode(latents, codebooks)`` / ``rvq_decode(codes, codebooks)`` (no projection).
- DAC: fold each stage's 1x1 ``out_proj`` conv into the codebooks once at load time with
  :func:`fold_projection`, then ``rvq_decode(codes, folded)``;
  ``rvq_encode(latents, codebooks, in_proj=..., in_bias=..., normalize=True, out_codebooks=folded)``.
  DAC's convs are weight-normalised (``WNConv1d``): pass the effective weight
  ``g * v / ||v||`` with the kernel axis squeezed.

FSQ follows vector-quantize-pytorch's ``FSQ`` (the paper's reference code): see :func:`fsq_quantize`.
All kernels run in C++ with the GIL released and keep no state (safe from several threads).
"""
from __future__ import annotations

import numpy as np

from .. import _native

__all__ = [
    "rvq_decode", "rvq_encode", "fold_projection",
    "fsq_quantize", "fsq_dequantize", "fsq_codes_to_digits",
]


def _f32(x):
    return None if x is None else np.ascontiguousarray(x, dtype=np.float32)


def _int_codes(codes, name="codes"):
    codes = np.asarray(codes)
    if codes.dtype not in (np.int64, np.int32):
        if codes.dtype.kind not in "iu":
            raise ValueError(f"{name} must be an integer array, got dtype {codes.dtype}")
        codes = codes.astype(np.int64)  # other widths / unsigned: range is checked natively
    return np.ascontiguousarray(codes)


def rvq_decode(codes, codebooks, *, n_stages: int | None = None) -> np.ndarray:
    """Sum of the chosen codewords of the first ``n_stages`` stages.

    codes: (B, n_q, T) int64 or int32; codebooks: (n_q', K, D) float32 with n_q' >= n_q
    (already folded with :func:`fold_projection` for DAC). Returns (B, D, T) float32.
    ``n_stages`` defaults to n_q. Codes outside [0, K) raise ValueError.
    """
    return _native.rvq_decode(_int_codes(codes), _f32(codebooks), n_stages=n_stages)


def rvq_encode(latents, codebooks, *, n_stages: int | None = None, in_proj=None, in_bias=None,
               normalize: bool = False, out_codebooks=None) -> np.ndarray:
    """Greedy residual quantisation of latents (B, D, T) -> codes (B, n_stages, T) int64.

    codebooks: (n_q, K, Dc) searched codewords. Per stage q and frame, the residual r (D,) is
    projected ``e = in_proj[q] @ r + in_bias[q]`` (in_proj (n_q, Dc, D), in_bias (n_q, Dc);
    identity when None, then Dc must equal D); with ``normalize`` both e and the codewords are
    L2-normalised (cosine search, DAC). The nearest codeword (squared L2, ties -> lowest index)
    is chosen and ``out_codebooks[q, k]`` ((n_q, K, D), default ``codebooks[q, k]``) is
    subtracted from the residual.
    """
    return _native.rvq_encode(
        _f32(latents), _f32(codebooks), n_stages=n_stages,
        in_proj=_f32(in_proj), in_bias=_f32(in_bias),
        normalize=bool(normalize), out_codebooks=_f32(out_codebooks))


def fold_projection(codebooks, weight, bias=None) -> np.ndarray:
    """Fold per-stage output projections into the codebooks (done once at load time).

    codebooks (n_q, K, Dc), weight (n_q, D, Dc) (a 1x1 conv weight with its kernel axis
    squeezed), bias (n_q, D) or None -> (n_q, K, D) float32 with
    ``out[q, k] = weight[q] @ codebooks[q, k] + bias[q]`` (computed in float64).
    """
    cb = np.asarray(codebooks, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim == 4 and w.shape[-1] == 1:  # (n_q, D, Dc, 1) conv weights
        w = w[..., 0]
    if cb.ndim != 3 or w.ndim != 3 or w.shape[0] != cb.shape[0] or w.shape[2] != cb.shape[2]:
        raise ValueError(
            f"fold_projection: codebooks {cb.shape} must be (n_q, K, Dc) and weight {w.shape} "
            "(n_q, D, Dc)")
    out = np.einsum("qdc,qkc->qkd", w, cb)  # (n_q, K, D)
    if bias is not None:
        b = np.asarray(bias, dtype=np.float64)
        if b.shape != (w.shape[0], w.shape[1]):
            raise ValueError(f"fold_projection: bias {b.shape} must be (n_q, D) = {w.shape[:2]}")
        out += b[:, None, :]
    return np.ascontiguousarray(out, dtype=np.float32)


def _levels(levels):
    lv = np.asarray(levels)
    if lv.dtype.kind not in "iu":
        raise ValueError(f"levels must be integers, got dtype {lv.dtype}")
    return np.ascontiguousarray(lv, dtype=np.int64)


def fsq_quantize(z, levels) -> tuple[np.ndarray, np.ndarray]:
    """Finite scalar quantisation. z (N, d) float32, levels (d,) ints in [2, 1000].

    ``bounded = tanh(z + shift) * half_l - offset`` with ``half_l = (L-1)(1+1e-3)/2``,
    ``offset = 0.5`` for even L else 0, ``shift = atanh(offset / half_l)``; zhat = round(bounded)
    (half to even) / (L // 2), so zhat lies in [-1, 1]. Returns (codes (N,) int64, zhat (N, d)
    float32) with ``code = sum_i (zhat_i * (L_i//2) + L_i//2) * prod(L_0..L_{i-1})``.
    """
    return _native.fsq_quantize(_f32(z), _levels(levels))


def fsq_dequantize(codes, levels) -> np.ndarray:
    """codes (N,) in [0, prod(levels)) -> zhat (N, d) float32 (inverse of fsq_quantize's codes)."""
    return _native.fsq_dequantize(np.ascontiguousarray(_int_codes(codes), dtype=np.int64),
                                  _levels(levels))


def fsq_codes_to_digits(codes, levels) -> np.ndarray:
    """codes (N,) -> per-dimension level indices (N, d) int64, digit_i in [0, levels[i])."""
    return _native.fsq_codes_to_digits(np.ascontiguousarray(_int_codes(codes), dtype=np.int64),
                                       _levels(levels))
