// Seeded standard-normal noise that every voxlite runtime draws identically (Python pipelines and the C API):
// the flow-matching families' starting noise. Counter-based, like the sampler's uniforms (sampling.h), so draw k
// of stream s depends on (seed, s, k) only:
//
//     u(seed, s, j) = counter_uniform(seed, s, j)                     53-bit uniform in [0, 1)
//     for each pair k: r = sqrt(-2 ln(1 - u(seed, s, 2k))), a = 2 pi u(seed, s, 2k + 1)
//                      out[2k] = float(r cos a), out[2k + 1] = float(r sin a)      (Box-Muller, in double)
//
// A pipeline uses one stream per draw (VoxCPM: stream = patch index). Values agree across platforms wherever
// libm's log / cos / sin agree to the last bit of a double (they may differ by an ulp elsewhere, which moves a
// float32 result at most rarely and by one ulp). The NumPy reference is tests/reference/noise.py.
#pragma once

#include <cstddef>
#include <cstdint>

namespace voxlite {

void standard_normal(uint64_t seed, uint64_t stream, float* out, size_t n);

}  // namespace voxlite
