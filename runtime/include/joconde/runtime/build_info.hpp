#pragma once

// What build this is: shown by `--version`, the health endpoint and joconde_build_info.

#include <string_view>

namespace joconde::build_info {

/// The project version (CMake's PROJECT_VERSION).
std::string_view version();

/// The git commit the build was configured from, or "unknown".
std::string_view commit();

} // namespace joconde::build_info
