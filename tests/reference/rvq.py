"""Plain NumPy reference for RVQ decode/encode and FSQ (what the native kernels must match).

Written for clarity: loops over stages, explicit distances in float64, no blocking tricks.
Conventions: EnCodec ``encodec/quantization/core_vq.py`` (Euclidean nearest codeword, residual
minus the raw codeword), DAC ``dac/nn/quantize.py`` (in_proj, F.normalize with eps 1e-12, residual
minus out_proj(codeword)), FSQ as in vector-quantize-pytorch ``finite_scalar_quantization.py``.
"""
from __future__ import annotations

import numpy as np


def rvq_decode(codes, codebooks, n_stages=None):
    """codes (B, n_q, T) ints, codebooks (n_q', K, D) -> (B, D, T) float32."""
    codes = np.asarray(codes)
    codebooks = np.asarray(codebooks, dtype=np.float32)
    n_q = codes.shape[1]
    n_stages = n_q if n_stages is None else n_stages
    if not 1 <= n_stages <= n_q:
        raise ValueError(f"n_stages={n_stages} must be in 1..{n_q}")
    K = codebooks.shape[1]
    used = codes[:, :n_stages]
    if used.size and (used.min() < 0 or used.max() >= K):
        raise ValueError(f"codes outside [0, {K})")
    B, _, T = codes.shape
    out = np.zeros((B, T, codebooks.shape[2]), dtype=np.float32)  # (B, T, D)
    for q in range(n_stages):
        out += codebooks[q][codes[:, q, :]]  # (B, T, D), summed in stage order in float32
    return out.transpose(0, 2, 1).copy()  # (B, D, T)


def fold_projection(codebooks, weight, bias):
    """codebooks (n_q, K, Dc), weight (n_q, D, Dc), bias (n_q, D) -> (n_q, K, D): W @ c + b."""
    out = []
    for q in range(codebooks.shape[0]):
        out.append(codebooks[q].astype(np.float64) @ weight[q].astype(np.float64).T + bias[q])
    return np.stack(out).astype(np.float32)


def _l2_normalize(x):
    # torch.nn.functional.normalize: x / max(||x||, eps), eps = 1e-12
    norm = np.sqrt((x * x).sum(axis=-1, keepdims=True))
    return x / np.maximum(norm, 1e-12)


def stage_distances(residual, codebook, in_proj=None, in_bias=None, normalize=False):
    """Squared distances (N, K) in float64 between the stage's search vectors and codewords.

    residual (N, D), codebook (K, Dc), in_proj (Dc, D), in_bias (Dc,).
    """
    e = np.asarray(residual, dtype=np.float64)
    c = np.asarray(codebook, dtype=np.float64)
    if in_proj is not None:
        e = e @ np.asarray(in_proj, dtype=np.float64).T
        if in_bias is not None:
            e = e + np.asarray(in_bias, dtype=np.float64)
    if normalize:
        e = _l2_normalize(e)
        c = _l2_normalize(c)
    # |e - c|^2 expanded; in float64 the cancellation error (~1e-16 of |e|^2 + |c|^2) is far
    # below the float32 kernel's.
    return (e * e).sum(axis=1)[:, None] - 2.0 * (e @ c.T) + (c * c).sum(axis=1)[None, :]


def rvq_encode(latents, codebooks, n_stages=None, in_proj=None, in_bias=None, normalize=False,
               out_codebooks=None, return_residuals=False):
    """latents (B, D, T) -> codes (B, n_stages, T) int64.

    The residual is kept in float32 like the codecs do; distances are float64.
    With return_residuals, also returns the residual (B, T, D) seen by each stage (list).
    """
    latents = np.asarray(latents, dtype=np.float32)
    n_q = codebooks.shape[0]
    n_stages = n_q if n_stages is None else n_stages
    rows = codebooks if out_codebooks is None else out_codebooks  # (n_q, K, D)
    B, D, T = latents.shape
    residual = latents.transpose(0, 2, 1).reshape(B * T, D).copy()  # (B*T, D)
    codes = np.zeros((B, n_stages, T), dtype=np.int64)
    residuals = []
    for q in range(n_stages):
        residuals.append(residual.reshape(B, T, D).copy())
        dist = stage_distances(
            residual, codebooks[q],
            None if in_proj is None else in_proj[q],
            None if in_bias is None else in_bias[q],
            normalize)
        idx = dist.argmin(axis=1)  # first minimum on ties
        codes[:, q, :] = idx.reshape(B, T)
        residual = residual - rows[q][idx].astype(np.float32)
    if return_residuals:
        return codes, residuals
    return codes


def stage_residuals(latents, codes, codebooks, out_codebooks=None):
    """Residual (B, T, D) seen by each stage when the given codes were chosen ("teacher forced")."""
    rows = codebooks if out_codebooks is None else out_codebooks
    B, D, T = latents.shape
    residual = np.asarray(latents, dtype=np.float32).transpose(0, 2, 1).copy()  # (B, T, D)
    out = []
    for q in range(codes.shape[1]):
        out.append(residual.copy())
        residual = residual - rows[q][codes[:, q, :]]
    return out


# --- FSQ ---------------------------------------------------------------------------------------

def fsq_bounded(z, levels):
    """The pre-rounding value tanh(z + shift) * half_l - offset, (N, d) float64."""
    levels = np.asarray(levels, dtype=np.int64)
    eps = 1e-3
    half_l = (levels - 1) * (1 + eps) / 2
    offset = np.where(levels % 2 == 0, 0.5, 0.0)
    shift = np.arctanh(offset / half_l)
    return np.tanh(np.asarray(z, dtype=np.float64) + shift) * half_l - offset


def fsq_quantize(z, levels):
    """z (N, d) -> codes (N,) int64, zhat (N, d) float32."""
    levels = np.asarray(levels, dtype=np.int64)
    half_width = levels // 2
    rounded = np.round(fsq_bounded(z, levels))  # half to even, like torch.round
    zhat = rounded / half_width
    digits = (zhat * half_width + half_width).round().astype(np.int64)
    basis = np.cumprod(np.concatenate([[1], levels[:-1]])).astype(np.int64)
    codes = (digits * basis).sum(axis=-1)
    return codes, zhat.astype(np.float32)


def fsq_dequantize(codes, levels):
    """codes (N,) -> zhat (N, d) float32."""
    levels = np.asarray(levels, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= np.prod(levels)):
        raise ValueError("codes out of range")
    basis = np.cumprod(np.concatenate([[1], levels[:-1]])).astype(np.int64)
    digits = (codes[:, None] // basis) % levels
    half_width = levels // 2
    return ((digits - half_width) / half_width).astype(np.float32)
