// Errors inside the runtime: an exception carrying the voxlite_status the C API returns for it.
#pragma once

#include <stdexcept>
#include <string>

#include "voxlite.h"

namespace voxlite::runtime {

struct Error : std::runtime_error {
    int status;
    Error(int status_, const std::string& message) : std::runtime_error(message), status(status_) {}
};

inline Error bundle_error(const std::string& m) { return Error(VOXLITE_BUNDLE_ERROR, m); }
inline Error invalid_input(const std::string& m) { return Error(VOXLITE_INVALID_ARGUMENT, m); }
inline Error unsupported(const std::string& m) { return Error(VOXLITE_UNSUPPORTED, m); }
inline Error backend_error(const std::string& m) { return Error(VOXLITE_BACKEND_ERROR, m); }

}  // namespace voxlite::runtime
