#include "registry.h"
namespace voxlite::bind {
void register_sampling(nanobind::module_& m) { (void)m; }  // filled in by the sampling kernel work
}
