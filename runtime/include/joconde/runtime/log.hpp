#pragma once

// The operational log (CONVENTIONS.md "Logging"): RFC 5424, one line per event, the component (actor
// name) as MSGID, structured parameters in [joconde@32473 ...]. CAF's own logging is compiled out in
// Debian's build, so this is the project's logger. Never pass key material to it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace joconde::log {

/// RFC 5424 severities.
enum class severity : int {
  emergency = 0,
  alert = 1,
  critical = 2,
  error = 3,
  warning = 4,
  notice = 5,
  informational = 6,
  debug = 7,
};

/// Where and what to log.
struct log_sink_config {
  std::string app_name = "joconde";
  std::string hostname = "-";
  std::filesystem::path file; ///< empty: standard error
  severity min_severity = severity::informational;
};

/// Structured parameters of one event.
using params = std::initializer_list<std::pair<std::string_view, std::string_view>>;

/// Formats one RFC 5424 line (without newline). `sd_id` names the structured-data element.
std::string format_line(severity sev, std::string_view app_name, std::string_view hostname,
                        std::string_view component, std::string_view message,
                        const std::vector<std::pair<std::string, std::string>>& params,
                        std::string_view sd_id = "joconde@32473");

/// Sets up the process-wide logger (before any thread logs).
void init(log_sink_config cfg);

/// Writes one event if its severity passes the configured minimum. Thread-safe.
void write(severity sev, std::string_view component, std::string_view message, params ps = {});

inline void debug(std::string_view c, std::string_view m, params ps = {}) {
  write(severity::debug, c, m, ps);
}
inline void info(std::string_view c, std::string_view m, params ps = {}) {
  write(severity::informational, c, m, ps);
}
inline void notice(std::string_view c, std::string_view m, params ps = {}) {
  write(severity::notice, c, m, ps);
}
inline void warning(std::string_view c, std::string_view m, params ps = {}) {
  write(severity::warning, c, m, ps);
}
inline void error(std::string_view c, std::string_view m, params ps = {}) {
  write(severity::error, c, m, ps);
}

/// Lets at most `per_second` events a second through, for lines an unauthenticated or hostile peer
/// can cause as fast as it sends (refusals): a flood cannot fill the disk, while the metrics go on
/// counting every event. Thread-safe.
class rate_limiter {
public:
  explicit rate_limiter(unsigned per_second = 20) : per_second_(per_second) {}

  /// True if this event may be logged (the name is not `allow`: CAF's test DSL defines that macro).
  /// When it opens a new one-second window after one in which events were held back, `held_back`
  /// is set to their number (log it once), else to 0.
  bool should_log(std::uint64_t& held_back);

private:
  unsigned per_second_;
  std::mutex mtx_;
  std::chrono::steady_clock::time_point window_;
  std::uint64_t seen_ = 0;
};

} // namespace joconde::log
