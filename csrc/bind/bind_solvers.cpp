#include "registry.h"
namespace voxlite::bind {
void register_solvers(nanobind::module_& m) { (void)m; }  // filled in by the solvers kernel work
}
