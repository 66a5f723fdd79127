// Shared helpers for voxlite's native kernels. Kernels see plain contiguous buffers only:
// no Python, no framework types. Errors are reported by throwing std::invalid_argument
// (bad shapes or options) so the binding layer can turn them into ValueError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace voxlite {

// Hot loops are compiled twice on x86-64 (baseline and x86-64-v3 = AVX2+FMA+F16C) and picked at
// load time by the CPU, so one portable wheel still gets vector code. Do not throw from a
// VOXLITE_HOT function (GCC 12 can terminate on exceptions leaving a clone): validate first,
// or return a status and throw in the caller.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define VOXLITE_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VOXLITE_HOT
#endif

inline void require(bool ok, const std::string& message) {
    if (!ok) throw std::invalid_argument(message);
}

}  // namespace voxlite
