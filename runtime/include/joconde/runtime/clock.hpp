#pragma once

// Wall-clock time as the stores and artefacts record it: integer milliseconds or microseconds since
// the Unix epoch (UTC).

#include <chrono>
#include <cstdint>

namespace joconde {

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

inline int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace joconde
