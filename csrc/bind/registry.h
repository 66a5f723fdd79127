// Each kernel family binds itself into the module through one of these functions.
#pragma once
#include <nanobind/nanobind.h>

namespace voxlite::bind {
void register_build_info(nanobind::module_& m);
void register_rvq(nanobind::module_& m);
void register_sampling(nanobind::module_& m);
void register_kvcache(nanobind::module_& m);
void register_solvers(nanobind::module_& m);
void register_text_normalize(nanobind::module_& m);
void register_text_g2p(nanobind::module_& m);
void register_text_sentences(nanobind::module_& m);
}  // namespace voxlite::bind
