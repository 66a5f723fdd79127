// FSQ quantise / dequantise; see fsq.h for the formulas and their source.
#include "fsq.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common.h"

namespace voxlite {
namespace {

constexpr int64_t kMaxLevel = 1000;
constexpr int64_t kMaxCodebook = int64_t(1) << 62;

// Validates levels and returns the mixed-radix basis; *size receives prod(levels).
std::vector<int64_t> fsq_basis(const int64_t* levels, size_t d, int64_t* size, const char* fn) {
    require(d >= 1, std::string(fn) + ": levels must have at least one entry");
    std::vector<int64_t> basis(d);
    int64_t prod = 1;
    for (size_t i = 0; i < d; ++i) {
        const int64_t L = levels[i];
        require(L >= 2 && L <= kMaxLevel, std::string(fn) + ": levels[" + std::to_string(i) +
                                              "]=" + std::to_string(L) + " must be in [2, " +
                                              std::to_string(kMaxLevel) + "]");
        basis[i] = prod;
        require(prod <= kMaxCodebook / L,
                std::string(fn) + ": prod(levels) exceeds 2^62 (codes must fit in int64)");
        prod *= L;
    }
    *size = prod;
    return basis;
}

void check_codes(const int64_t* codes, size_t n, int64_t size, const char* fn) {
    for (size_t i = 0; i < n; ++i)
        if (codes[i] < 0 || codes[i] >= size)  // message built only on failure
            throw std::invalid_argument(std::string(fn) + ": code " + std::to_string(codes[i]) +
                                        " at index " + std::to_string(i) + " is outside [0, " +
                                        std::to_string(size) + ")");
}

}  // namespace

void fsq_quantize(const float* z, size_t n, const int64_t* levels, size_t d, int64_t* codes,
                  float* zhat) {
    int64_t size = 0;
    const std::vector<int64_t> basis = fsq_basis(levels, d, &size, "fsq_quantize");
    for (size_t i = 0; i < n * d; ++i)
        if (!std::isfinite(z[i]))
            throw std::invalid_argument("fsq_quantize: z contains NaN or Inf at flat index " +
                                        std::to_string(i));
    // Per-dimension constants, in double (the rounding boundaries are then placed as exactly
    // as the formula allows; PyTorch evaluates them in float32).
    std::vector<double> half_l(d), offset(d), shift(d);
    std::vector<int64_t> half_w(d);
    for (size_t j = 0; j < d; ++j) {
        const int64_t L = levels[j];
        half_l[j] = static_cast<double>(L - 1) * (1.0 + 1e-3) / 2.0;
        offset[j] = (L % 2 == 0) ? 0.5 : 0.0;
        shift[j] = std::atanh(offset[j] / half_l[j]);
        half_w[j] = L / 2;
    }
    for (size_t i = 0; i < n; ++i) {
        int64_t code = 0;
        for (size_t j = 0; j < d; ++j) {
            const double x = static_cast<double>(z[i * d + j]);
            const double bounded = std::tanh(x + shift[j]) * half_l[j] - offset[j];
            // nearbyint rounds half to even in the default rounding mode, like torch.round.
            // With L <= 1000 the result is always one of the L levels; the clamp only guards.
            const int64_t digit = std::clamp<int64_t>(
                static_cast<int64_t>(std::nearbyint(bounded)) + half_w[j], 0, levels[j] - 1);
            zhat[i * d + j] = static_cast<float>(static_cast<double>(digit - half_w[j]) /
                                                 static_cast<double>(half_w[j]));
            code += digit * basis[j];
        }
        codes[i] = code;
    }
}

void fsq_dequantize(const int64_t* codes, size_t n, const int64_t* levels, size_t d, float* zhat) {
    int64_t size = 0;
    const std::vector<int64_t> basis = fsq_basis(levels, d, &size, "fsq_dequantize");
    check_codes(codes, n, size, "fsq_dequantize");
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < d; ++j) {
            const int64_t hw = levels[j] / 2;
            const int64_t digit = (codes[i] / basis[j]) % levels[j];
            zhat[i * d + j] =
                static_cast<float>(static_cast<double>(digit - hw) / static_cast<double>(hw));
        }
}

void fsq_codes_to_digits(const int64_t* codes, size_t n, const int64_t* levels, size_t d,
                         int64_t* digits) {
    int64_t size = 0;
    const std::vector<int64_t> basis = fsq_basis(levels, d, &size, "fsq_codes_to_digits");
    check_codes(codes, n, size, "fsq_codes_to_digits");
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < d; ++j) digits[i * d + j] = (codes[i] / basis[j]) % levels[j];
}

}  // namespace voxlite
