#include "noise.h"

#include <cmath>

#include "sampling.h"

namespace voxlite {

void standard_normal(uint64_t seed, uint64_t stream, float* out, size_t n) {
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t k = 0; 2 * k < n; ++k) {
        double r = std::sqrt(-2.0 * std::log(1.0 - counter_uniform(seed, stream, 2 * k)));
        double a = two_pi * counter_uniform(seed, stream, 2 * k + 1);
        out[2 * k] = float(r * std::cos(a));
        if (2 * k + 1 < n) out[2 * k + 1] = float(r * std::sin(a));
    }
}

}  // namespace voxlite
