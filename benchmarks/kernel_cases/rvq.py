"""RVQ / FSQ benchmark cases at codec sizes (10 s of audio), native vs the NumPy reference."""
from __future__ import annotations

import numpy as np

from tests.reference import rvq as ref
from voxlite.kernels import rvq


def cases():
    rng = np.random.default_rng(0)

    # EnCodec 24 kHz at 6 kbps: 75 Hz frames, 8 codebooks of 1024 x 128 (codebook_dim == dim).
    cb = rng.standard_normal((8, 1024, 128)).astype(np.float32)
    codes = rng.integers(0, 1024, (1, 8, 750))
    latents = rng.standard_normal((1, 128, 750)).astype(np.float32)

    # DAC 44 kHz: latent dim 1024, 9 codebooks of 1024 x 8, 86 Hz -> 861 frames.
    n_q, K, Dc, D, T = 9, 1024, 8, 1024, 861
    dac_cb = rng.standard_normal((n_q, K, Dc)).astype(np.float32)
    in_proj = (rng.standard_normal((n_q, Dc, D)) / np.sqrt(D)).astype(np.float32)
    in_bias = (0.1 * rng.standard_normal((n_q, Dc))).astype(np.float32)
    out_cb = rvq.fold_projection(dac_cb, rng.standard_normal((n_q, D, Dc)) / np.sqrt(Dc),
                                 0.1 * rng.standard_normal((n_q, D)))
    dac_latents = rng.standard_normal((1, D, T)).astype(np.float32)
    codes_dac = rng.integers(0, K, (1, n_q, T))
    dac_kw = dict(in_proj=in_proj, in_bias=in_bias, normalize=True, out_codebooks=out_cb)

    # FSQ, 8 dims.
    levels = np.array([8, 8, 8, 5, 5, 5, 5, 5])
    z = rng.standard_normal((500, 8)).astype(np.float32)
    fsq_codes = ref.fsq_quantize(z, levels)[0]

    return [
        ("rvq_decode codes [1,8,750] codebooks [8,1024,128]",
         lambda: rvq.rvq_decode(codes, cb), lambda: ref.rvq_decode(codes, cb)),
        ("rvq_encode EnCodec latents [1,128,750] codebooks [8,1024,128]",
         lambda: rvq.rvq_encode(latents, cb), lambda: ref.rvq_encode(latents, cb)),
        ("rvq_encode DAC latents [1,1024,861] codebooks [9,1024,8] (proj+cosine)",
         lambda: rvq.rvq_encode(dac_latents, dac_cb, **dac_kw),
         lambda: ref.rvq_encode(dac_latents, dac_cb, **dac_kw)),
        ("rvq_decode DAC codes [1,9,861] folded codebooks [9,1024,1024]",
         lambda: rvq.rvq_decode(codes_dac, out_cb), lambda: ref.rvq_decode(codes_dac, out_cb)),
        ("fsq_quantize z [500,8]", lambda: rvq.fsq_quantize(z, levels),
         lambda: ref.fsq_quantize(z, levels)),
        ("fsq_dequantize codes [500] levels [8,8,8,5,5,5,5,5]",
         lambda: rvq.fsq_dequantize(fsq_codes, levels), lambda: ref.fsq_dequantize(fsq_codes, levels)),
    ]
