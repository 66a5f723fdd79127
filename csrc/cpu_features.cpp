#include "cpu_features.h"

namespace voxlite {

std::vector<std::pair<std::string, bool>> cpu_features() {
    std::vector<std::pair<std::string, bool>> f;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    f.emplace_back("sse4_2", __builtin_cpu_supports("sse4.2"));
    f.emplace_back("avx", __builtin_cpu_supports("avx"));
    f.emplace_back("avx2", __builtin_cpu_supports("avx2"));
    f.emplace_back("fma", __builtin_cpu_supports("fma"));
    f.emplace_back("avx512f", __builtin_cpu_supports("avx512f"));
#endif
    return f;
}

}  // namespace voxlite
