#include "joconde/runtime/build_info.hpp"

#ifndef JOCONDE_VERSION
#  define JOCONDE_VERSION "unknown"
#endif
#ifndef JOCONDE_GIT_COMMIT
#  define JOCONDE_GIT_COMMIT "unknown"
#endif

namespace joconde::build_info {

std::string_view version() {
  return JOCONDE_VERSION;
}

std::string_view commit() {
  return JOCONDE_GIT_COMMIT;
}

} // namespace joconde::build_info
