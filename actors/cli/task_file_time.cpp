// ISO 8601 times and durations for the deadlines of the readable task form (docs/task-files.md §2).

#include "cli/task_file.hpp"

#include <cctype>
#include <chrono>

namespace joconde::cli {

namespace {

/// Reads exactly `n` digits at `pos` of `s`.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) {
  if (pos + n > s.size())
    return false;
  out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto c = s[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool literal(std::string_view s, std::size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

error bad_time(std::string_view text) {
  return fail(errc::malformed_input,
              "'" + std::string{text} + "' is not an ISO 8601 time: write a date (\"2031-01-31\", 00:00 UTC), "
              "a date-time with its zone (\"2031-01-31T17:00:00Z\", \"2031-01-31T18:00:00+01:00\") or a "
              "duration (\"P14D\", \"PT36H\")");
}

} // namespace

result<std::int64_t> parse_iso_time(std::string_view text) {
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0;
  if (!digits(text, pos, 4, year) || !literal(text, pos, '-') || !digits(text, pos, 2, month)
      || !literal(text, pos, '-') || !digits(text, pos, 2, day))
    return bad_time(text);
  using namespace std::chrono;
  year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                      std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || year < 1970)
    return fail(errc::malformed_input, "'" + std::string{text} + "' is not a date of the calendar (from 1970)");
  std::int64_t ms = duration_cast<milliseconds>(sys_days{date}.time_since_epoch()).count();
  if (pos == text.size())
    return ms;
  int hour = 0, minute = 0, second = 0;
  if (!(literal(text, pos, 'T') || literal(text, pos, ' ')) || !digits(text, pos, 2, hour)
      || !literal(text, pos, ':') || !digits(text, pos, 2, minute))
    return bad_time(text);
  if (literal(text, pos, ':') && !digits(text, pos, 2, second))
    return bad_time(text);
  int millis = 0;
  if (literal(text, pos, '.')) {
    int scale = 100;
    std::size_t first = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      millis += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == first)
      return bad_time(text);
  }
  if (hour > 23 || minute > 59 || second > 59)
    return fail(errc::malformed_input, "'" + std::string{text} + "' is not a time of day");
  ms += ((hour * 60 + minute) * 60 + second) * std::int64_t{1000} + millis;
  if (literal(text, pos, 'Z') && pos == text.size())
    return ms;
  bool minus = pos < text.size() && text[pos] == '-';
  int zh = 0, zm = 0;
  if (pos == text.size())
    return fail(errc::malformed_input, "'" + std::string{text} + "' has no zone: end it with Z for UTC or "
                                         "with the offset, as in +01:00");
  if (!(literal(text, pos, '+') || literal(text, pos, '-')) || !digits(text, pos, 2, zh)
      || !literal(text, pos, ':') || !digits(text, pos, 2, zm) || pos != text.size() || zh > 23 || zm > 59)
    return bad_time(text);
  std::int64_t offset = (zh * 60 + zm) * std::int64_t{60'000};
  return minus ? ms + offset : ms - offset;
}

result<std::int64_t> parse_iso_duration(std::string_view text) {
  if (text.size() < 3 || text[0] != 'P')
    return bad_time(text);
  std::int64_t seconds = 0;
  bool in_time = false;
  bool any = false;
  std::string order = "WD";  // the designators still allowed, in order
  for (std::size_t pos = 1; pos < text.size();) {
    if (text[pos] == 'T' && !in_time) {
      in_time = true;
      order = "HMS";
      ++pos;
      continue;
    }
    std::int64_t n = 0;
    std::size_t first = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) && pos - first < 9)
      n = n * 10 + (text[pos++] - '0');
    if (pos == first || pos == text.size())
      return bad_time(text);
    char unit = text[pos++];
    if (!in_time && (unit == 'Y' || unit == 'M'))
      return fail(errc::malformed_input, "'" + std::string{text} + "': years and months have no fixed length; "
                                           "write the duration in weeks, days or hours (\"P30D\")");
    auto at = order.find(unit);
    if (at == std::string::npos)
      return bad_time(text);
    order.erase(0, at + 1);
    static constexpr std::int64_t week = 7 * 86'400;
    switch (unit) {
      case 'W': seconds += n * week; break;
      case 'D': seconds += n * 86'400; break;
      case 'H': seconds += n * 3'600; break;
      case 'M': seconds += n * 60; break;
      default: seconds += n; break;
    }
    any = true;
  }
  if (!any || text.back() == 'T')
    return bad_time(text);
  return seconds;
}

} // namespace joconde::cli
