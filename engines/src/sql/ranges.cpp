// Interval arithmetic of the overflow proofs, scale alignment, output conversions and the messages
// that go with them.

#include "joconde/engines/sql/checker.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace joconde::engines::sql {

namespace {

int128 abs128(int128 v) {
  return v < 0 ? -v : v;
}

} // namespace

int128 max_abs(const interval& r) {
  return std::max(abs128(r.lo), abs128(r.hi));
}

namespace {

void collect_columns(const expr& e, std::vector<std::string>& out) {
  if (e.kind == expr_kind::column) {
    auto n = e.qualifier.empty() ? e.name : e.qualifier + "." + e.name;
    if (std::find(out.begin(), out.end(), n) == out.end())
      out.push_back(n);
  }
  for (const auto& a : e.args)
    collect_columns(*a, out);
}

} // namespace

int128 pow10(int k) {
  int128 r = 1;
  for (int i = 0; i < k; ++i)
    r *= 10;
  return r;
}

std::string format_bound(int128 v) {
  bool neg = v < 0;
  auto a = abs128(v);
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(a % 10)));
    a /= 10;
  } while (a != 0);
  std::string out = neg ? "-" : "";
  if (digits.size() <= 6)
    return out + digits;
  // Two significant digits, rounded down, "9.2e22".
  out += digits[0];
  if (digits[1] != '0')
    out += std::string{"."} + digits[1];
  return out + "e" + std::to_string(digits.size() - 1);
}

std::string quote(const expr& e, std::string_view source) {
  std::string out;
  auto end = std::min(e.end, source.size());
  auto begin = std::min(e.pos.offset, end);
  bool blank = false;
  for (auto c : source.substr(begin, end - begin)) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      blank = true;
      continue;
    }
    if (blank && !out.empty())
      out += ' ';
    blank = false;
    out += c;
  }
  return out;
}

std::vector<std::string> columns_of(const expr& e) {
  std::vector<std::string> out;
  collect_columns(e, out);
  return out;
}

std::string either(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0)
      out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

std::string describe(const value_type& t) {
  switch (t.kind) {
    case value_kind::number:
      if (t.bin != 0)
        return "fixed-point number";
      if (t.integral && t.dec == 0)
        return "integer";
      return "decimal(" + std::to_string(t.dec) + ")";
    case value_kind::boolean: return "boolean";
    case value_kind::category: return "category";
    case value_kind::key: return "key";
    case value_kind::text: return "text";
  }
  return "?";
}

void refuse_overflow(const expr& e, int128 bound, std::string_view source) {
  auto cols = columns_of(e);
  std::string advice = cols.empty() ? "use smaller constants"
                                    : "declare tighter RANGEs for " + either(cols);
  if (cols.size() == 1)
    advice = "declare a tighter RANGE for " + cols[0];
  throw sql_error(e.pos, quote(e, source) + " may reach " + format_bound(bound)
                           + ", beyond the ring's 2^62; " + advice);
}

void refuse_unbounded(const expr& e, std::string_view source) {
  std::string which;
  for (const auto& a : e.args)
    if (!a->range.bounded && a->kind == expr_kind::column)
      which = a->qualifier.empty() ? a->name : a->qualifier + "." + a->name;
  if (which.empty() && e.kind == expr_kind::column)
    which = e.name;
  if (which.empty())
    which = either(columns_of(e));
  throw sql_error(e.pos, "`" + which + "` has no declared RANGE, so " + quote(e, source)
                           + " could overflow the ring; declare a RANGE for " + which);
}

void prove(const expr& e, const interval& r, std::string_view source) {
  if (!r.bounded)
    refuse_unbounded(e, source);
  if (max_abs(r) >= ring_limit)
    refuse_overflow(e, abs128(r.lo) > abs128(r.hi) ? r.lo : r.hi, source);
}

word scale_factor(const expr& e, int dec, int bin, int to_dec, int to_bin) {
  int128 f = pow10(std::min(to_dec - dec, 37));
  if (to_dec - dec > 18 || to_bin - bin > 62)
    throw sql_error(e.pos, "the scales of " + describe(e.type)
                             + " values here are too far apart to align inside the ring; round "
                               "one side to fewer digits");
  f <<= (to_bin - bin);
  if (f >= ring_limit)
    throw sql_error(e.pos, "the scales of the values here are too far apart to align inside the "
                           "ring; round one side to fewer digits");
  return static_cast<word>(static_cast<std::int64_t>(f));
}

namespace {

[[noreturn]] void refuse_conversion(const expr& e, int t, int128 v, std::string_view source) {
  auto cols = columns_of(e);
  throw sql_error(e.pos, "converting " + quote(e, source) + " to decimal(" + std::to_string(t)
                           + ") may reach " + format_bound(v) + ", beyond the ring's 2^62; "
                           + (cols.empty() ? std::string{"use smaller constants"}
                                           : "declare tighter RANGEs for " + either(cols)));
}

} // namespace

conversion decimal_conversion(const expr& e, const value_type& from, const interval& r, int t,
                              std::string_view source) {
  conversion c;
  int e10 = t - from.dec;
  if (!r.bounded) {
    if (e10 == 0 && from.bin == 0)
      return c;
    refuse_unbounded(e, source);
  }
  auto too_big = [&](int128 v) { refuse_conversion(e, t, v, source); };

  int128 lift = from.bin < 0 ? (int128{1} << std::min(-from.bin, 62)) : 1;
  if (e10 >= 0) {
    if (e10 > 18 || -from.bin > 62)
      too_big(max_abs(r) * pow10(std::min(e10, 30)));
    int128 m = pow10(e10) * lift;
    if (m >= ring_limit || (max_abs(r) != 0 && max_abs(r) >= ring_limit / m))
      too_big(max_abs(r) * m);
    c.mul = static_cast<word>(static_cast<std::int64_t>(m));
    c.shift = static_cast<unsigned>(std::max(from.bin, 0));
    // Rounding the binary fraction away (kernels::round_shift) needs |v| + 2^(shift - 1) < 2^61.
    if (c.shift != 0 && max_abs(r) * m + (int128{1} << c.shift) >= ring_limit / 2)
      too_big(max_abs(r) * m);
    return c;
  }
  // Rounding half away from zero by 10^d (convert()): the magnitude, first to an integer number
  // of 10^-from.dec units (exact: a multiply by 2^-bin or a floor shift by bin), plus 10^d / 2,
  // then approximate quotients of the remainder by ceil(2^f / 10^d) >> f until the quotient is
  // within two units, corrected exactly from the final remainder. Each pass squares the relative
  // headroom below 2^62, so a few passes suffice even near the limit (top below covers the
  // added half).
  if (-e10 > 18)
    too_big(max_abs(r));
  int128 d = pow10(-e10);
  interval v = r;
  if (from.bin < 0) {
    if (-from.bin > 62 || lift >= ring_limit || max_abs(r) >= ring_limit / lift)
      too_big(max_abs(r) * lift);
    c.pre_mul = static_cast<word>(static_cast<std::int64_t>(lift));
    v = interval{r.lo * lift, r.hi * lift, true};
  } else if (from.bin > 0) {
    c.pre_shift = static_cast<unsigned>(from.bin);
    v = interval{r.lo >> from.bin, r.hi >> from.bin, true};
  }
  if (auto bound = plan_floor_division(max_abs(v) + 3 * d, d, c))
    too_big(*bound);
  return c;
}

std::optional<int128> plan_floor_division(int128 top, int128 d, conversion& c) {
  const int128 first = top;
  auto mul_for = [&](int bits) { return ((int128{1} << bits) + d - 1) / d; };
  for (int pass = 0; pass < 16; ++pass) {
    int f = 62;
    while (f > 0 && top * mul_for(f) >= ring_limit)
      --f;
    if (top * mul_for(f) >= ring_limit || (int128{1} << f) < d)
      return top * d;
    c.passes.push_back(division_pass{static_cast<word>(static_cast<std::int64_t>(mul_for(f))),
                                     static_cast<unsigned>(f)});
    // The quotient is off by less than top / 2^f (the reciprocal) plus one (the truncation).
    int128 error = (top >> f) + 2;
    if (error <= 2) {
      c.divisor = static_cast<word>(static_cast<std::int64_t>(d));
      return std::nullopt;
    }
    top = (error + 1) * d;
  }
  return (first - 3 * d) * d;
}

std::string closest(const std::string& wrong, const std::vector<std::string>& names) {
  auto lower = [](std::string s) {
    for (auto& c : s)
      c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return s;
  };
  auto w = lower(wrong);
  std::string best;
  std::size_t best_d = 0;
  for (const auto& n : names) {
    auto m = lower(n);
    std::vector<std::size_t> prev(m.size() + 1), cur(m.size() + 1);
    for (std::size_t j = 0; j <= m.size(); ++j)
      prev[j] = j;
    for (std::size_t i = 1; i <= w.size(); ++i) {
      cur[0] = i;
      for (std::size_t j = 1; j <= m.size(); ++j)
        cur[j] = std::min(
          {prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (w[i - 1] == m[j - 1] ? 0 : 1)});
      std::swap(prev, cur);
    }
    auto dist = prev[m.size()];
    if (best.empty() || dist < best_d) {
      best = n;
      best_d = dist;
    }
  }
  if (best.empty() || best_d > std::max<std::size_t>(2, w.size() / 3))
    return {};
  return best;
}

} // namespace joconde::engines::sql
