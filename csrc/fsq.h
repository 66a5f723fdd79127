// Finite scalar quantisation (Mentzer et al. 2023, "Finite Scalar Quantization: VQ-VAE Made
// Simple"), following the conventions of vector-quantize-pytorch's FSQ (the reference port of
// the paper's JAX code, appendix A.1):
//
//   half_l  = (L - 1) * (1 + 1e-3) / 2
//   offset  = 0.5 if L is even else 0
//   shift   = atanh(offset / half_l)
//   bounded = tanh(z + shift) * half_l - offset
//   zhat    = round_half_even(bounded) / (L // 2)
//   digit   = zhat * (L // 2) + L // 2                 in [0, L)
//   code    = sum_i digit_i * basis_i,   basis = cumprod([1, L_0, L_1, ...])  (dim 0 fastest)
//
// levels: each in [2, 1000] (beyond ~1000 the 1e-3 widening lets rounding leave the L levels)
// and their product (the codebook size) at most 2^62.
#pragma once

#include <cstddef>
#include <cstdint>

namespace voxlite {

// z [n, d] -> codes [n], zhat [n, d]. z must be finite.
void fsq_quantize(const float* z, size_t n, const int64_t* levels, size_t d, int64_t* codes,
                  float* zhat);

// codes [n] in [0, prod(levels)) -> zhat [n, d].
void fsq_dequantize(const int64_t* codes, size_t n, const int64_t* levels, size_t d, float* zhat);

// codes [n] -> per-dimension digits [n, d] in [0, L_i) (vector-quantize-pytorch's
// indices_to_level_indices).
void fsq_codes_to_digits(const int64_t* codes, size_t n, const int64_t* levels, size_t d,
                         int64_t* digits);

}  // namespace voxlite
