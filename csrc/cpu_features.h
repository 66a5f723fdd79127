// Run-time CPU feature detection (x86-64; other architectures report none).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace voxlite {
std::vector<std::pair<std::string, bool>> cpu_features();
}
