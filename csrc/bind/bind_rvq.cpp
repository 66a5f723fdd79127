#include "registry.h"
namespace voxlite::bind {
void register_rvq(nanobind::module_& m) { (void)m; }  // filled in by the rvq kernel work
}
