// Build and CPU facts for `voxlite info`.
#include <nanobind/stl/string.h>

#include <string>

#include "cpu_features.h"
#include "registry.h"

namespace nb = nanobind;

namespace voxlite::bind {

static nb::dict cpu_feature_dict() {
    nb::dict d;
    for (const auto& [name, present] : voxlite::cpu_features()) d[name.c_str()] = present;
    return d;
}

void register_build_info(nb::module_& m) {
    m.def("build_info", []() {
        nb::dict d;
        d["version"] = VOXLITE_VERSION;
        d["compiler"] = VOXLITE_COMPILER;
        d["build_type"] = VOXLITE_BUILD_TYPE;
        d["cxx_standard"] = static_cast<long>(__cplusplus);
#if defined(Py_LIMITED_API)
        d["stable_abi"] = true;
#else
        d["stable_abi"] = false;
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
        d["dispatch"] = "target_clones(x86-64-v3, baseline)";
#else
        d["dispatch"] = "baseline";
#endif
        d["cpu_features"] = cpu_feature_dict();
        return d;
    }, "Compiler, ABI and CPU-dispatch facts of this build, and the CPU features seen at run time.");
}

}  // namespace voxlite::bind
