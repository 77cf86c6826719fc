#include "joconde/runtime/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <unistd.h>

namespace joconde::log {

namespace {

struct sink {
  std::mutex mtx;
  log_sink_config cfg;
  std::FILE* out = stderr;
};

sink& global() {
  static sink instance;
  return instance;
}

/// Header fields: printable US-ASCII without spaces, at most `max` characters, "-" when empty.
std::string header_field(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max))
    out.push_back(c > 32 && c < 127 ? c : '?');
  return out.empty() ? "-" : out;
}

/// Escapes control characters (so that one event is always one line) and, in structured-data values
/// (RFC 5424 §6.3.3), '"', '\\' and ']'.
std::string escape(std::string_view s, bool sd_value) {
  std::string out;
  for (unsigned char c : s) {
    if (sd_value && (c == '"' || c == '\\' || c == ']')) {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n' && !sd_value) {
      out += "\\n";
    } else if (c < 32 || c == 127) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count()
            % 1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long>(us));
  return buf;
}

} // namespace

std::string format_line(severity sev, std::string_view app_name, std::string_view hostname,
                        std::string_view component, std::string_view message,
                        const std::vector<std::pair<std::string, std::string>>& params,
                        std::string_view sd_id) {
  std::string line = "<" + std::to_string(8 + static_cast<int>(sev)) + ">1 " + timestamp() + " "
                     + header_field(hostname, 255) + " " + header_field(app_name, 48) + " "
                     + std::to_string(::getpid()) + " " + header_field(component, 32) + " ";
  if (params.empty()) {
    line += "-";
  } else {
    line += "[" + std::string{sd_id};
    for (const auto& [k, v] : params)
      line += " " + header_field(k, 32) + "=\"" + escape(v, true) + "\"";
    line += "]";
  }
  if (!message.empty())
    line += " " + escape(message, false);
  return line;
}

void init(log_sink_config cfg) {
  auto& s = global();
  std::lock_guard guard{s.mtx};
  if (s.out != stderr && s.out != nullptr)
    std::fclose(s.out);
  s.out = stderr;
  if (!cfg.file.empty()) {
    if (auto* f = std::fopen(cfg.file.c_str(), "a"))
      s.out = f;
  }
  s.cfg = std::move(cfg);
}

void write(severity sev, std::string_view component, std::string_view message, params ps) {
  auto& s = global();
  if (static_cast<int>(sev) > static_cast<int>(s.cfg.min_severity))
    return;
  std::vector<std::pair<std::string, std::string>> kv;
  for (const auto& [k, v] : ps)
    kv.emplace_back(k, v);
  auto line = format_line(sev, s.cfg.app_name, s.cfg.hostname, component, message, kv);
  line.push_back('\n');
  std::lock_guard guard{s.mtx};
  std::fwrite(line.data(), 1, line.size(), s.out);
  std::fflush(s.out);
}

bool rate_limiter::should_log(std::uint64_t& held_back) {
  std::lock_guard lock{mtx_};
  held_back = 0;
  auto now = std::chrono::steady_clock::now();
  if (now - window_ >= std::chrono::seconds{1}) {
    if (seen_ > per_second_)
      held_back = seen_ - per_second_;
    window_ = now;
    seen_ = 0;
  }
  return ++seen_ <= per_second_;
}

} // namespace joconde::log
