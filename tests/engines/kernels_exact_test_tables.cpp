// The tables of kernels_exact_test: data at the edges of what kernels::check_range accepts, found
// by searching check_range itself, so that the tests follow the limits wherever they move.

#include "kernels_exact.hpp"

#include <algorithm>

namespace joconde::test::exact {

namespace {

using agg = k::aggregate;
using rng_t = std::mt19937_64;

std::int64_t uniform(rng_t& rng, std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>{lo, hi}(rng);
}

/// How y follows x in a group.
enum class relation { independent, correlated, equal, anti };

/// Adds n rows to group g: x uniform in [lo, hi] (or at its two ends), y in the same range.
void fill(table& t, std::size_t g, std::size_t n, std::int64_t lo, std::int64_t hi, relation rel,
          bool ends, rng_t& rng) {
  const auto quarter = (hi - lo) / 4;
  auto draw = [&] { return ends ? (rng() % 2 == 0 ? lo : hi) : uniform(rng, lo, hi); };
  for (std::size_t i = 0; i < n; ++i) {
    auto x = draw();
    std::int64_t y = x;
    if (rel == relation::independent)
      y = draw();
    else if (rel == relation::correlated) // r about 0.87 for uniform x
      y = std::clamp(x + uniform(rng, -quarter, quarter), lo, hi);
    else if (rel == relation::anti)
      y = lo + (hi - x);
    t.add(g, x, y);
  }
}

/// The largest M with check_range(agg, n, M - w, M) accepted (both arguments in that range).
std::int64_t highest(agg a, std::uint64_t n, std::int64_t w) {
  return largest((std::int64_t{1} << 61) - w, [&](std::int64_t m) {
    return k::check_range(a, n, m - w, m, m - w, m).ok();
  });
}

std::string name_of(agg a) {
  const char* names[] = {"COUNT", "SUM", "AVG", "MIN", "MAX", "VAR_SAMP", "STDDEV_SAMP", "CORR",
                         "REGR_SLOPE", "REGR_INTERCEPT"};
  return names[static_cast<int>(a)];
}

/// Names tables by row count, what they are and the seed of the whole set.
struct namer {
  std::size_t n;
  std::uint64_t seed;

  table operator()(const std::string& what) const {
    table t;
    t.name = std::to_string(n) + " rows, " + what + " (seed " + std::to_string(seed) + ")";
    return t;
  }
};

/// Spreads around 2^20, 2^24, 2^28 units, where accepted: rss3's CORR failed from about 2^24.
void add_spreads(std::vector<table>& out, const namer& named, rng_t& rng) {
  for (int e : {20, 24, 26, 28}) {
    const auto half = std::int64_t{1} << (e - 1);
    if (!k::check_range(agg::stddev_samp, named.n, -half, half).ok())
      continue;
    for (auto rel : {relation::independent, relation::correlated})
      for (bool ends : {false, true}) {
        auto t = named("spread 2^" + std::to_string(e)
                       + (rel == relation::independent ? ", independent" : ", correlated")
                       + (ends ? ", at both ends" : ""));
        fill(t, 0, named.n, -half, half, rel, ends, rng);
        out.push_back(std::move(t));
      }
  }
}

/// The largest offsets with small spreads (x = y and y = -x mirrored in the same range), and
/// constant columns there.
void add_offsets(std::vector<table>& out, const namer& named, rng_t& rng) {
  for (auto a : {agg::avg, agg::var_samp, agg::stddev_samp, agg::corr, agg::regr_intercept})
    for (std::int64_t w : {std::int64_t{1}, std::int64_t{1000}, std::int64_t{1} << 20}) {
      const auto m = highest(a, named.n, w);
      if (m < w)
        continue;
      const auto at = " at the largest offset for " + name_of(a) + ", spread " + std::to_string(w);
      for (auto rel : {relation::equal, relation::anti}) {
        auto t = named((rel == relation::equal ? "x = y" : "y = -x") + at);
        t.line = rel == relation::equal ? std::pair{std::int64_t{1}, std::int64_t{0}}
                                        : std::pair{std::int64_t{-1}, 2 * m - w};
        fill(t, 0, named.n, m - w, m, rel, false, rng);
        out.push_back(std::move(t));
      }
      auto neg = named("x = y, negative," + at);
      neg.line = {1, 0};
      fill(neg, 0, named.n, -m, -m + w, relation::equal, false, rng);
      out.push_back(std::move(neg));
      auto cx = named("constant x" + at);
      auto cy = named("constant y" + at);
      for (std::size_t i = 0; i < named.n; ++i) {
        cx.add(0, m, uniform(rng, m - w, m));
        cy.add(0, uniform(rng, m - w, m), m);
      }
      out.push_back(std::move(cx));
      out.push_back(std::move(cy));
    }
}

/// Exact lines y = a x + b, x at the largest offset REGR_INTERCEPT accepts with a spread of
/// 1000 units, and x over the widest range it accepts around 0.
void add_lines(std::vector<table>& out, const namer& named, rng_t& rng) {
  const std::pair<std::int64_t, std::int64_t> lines[] = {
    {1, 0}, {2, -7}, {-1, 5}, {-3, 1000}, {7, -123456}};
  for (auto [a, b] : lines)
    for (bool offset : {true, false}) {
      auto ok = [&, a = a, b = b](std::int64_t v) {
        const auto xlo = offset ? v - 1000 : -v;
        const auto xhi = v;
        const auto y1 = a * xlo + b;
        const auto y2 = a * xhi + b;
        return k::check_range(agg::regr_intercept, named.n, std::min(y1, y2), std::max(y1, y2),
                              xlo, xhi)
          .ok();
      };
      const auto v = largest((std::int64_t{1} << 58) / 8, ok);
      if (v < 1000)
        continue;
      auto t = named("y = " + std::to_string(a) + " x + " + std::to_string(b)
                     + (offset ? ", x at the largest offset" : ", x over the widest range"));
      t.line = {a, b};
      for (std::size_t i = 0; i < named.n; ++i) {
        auto x = offset ? uniform(rng, v - 1000, v) : uniform(rng, -v, v);
        t.add(0, x, a * x + b);
      }
      out.push_back(std::move(t));
    }
}

/// The steepest slopes: x in [0, 1] or [0, 7], y over the widest range accepted with it.
void add_steep(std::vector<table>& out, const namer& named, rng_t& rng) {
  for (auto a : {agg::regr_slope, agg::regr_intercept})
    for (std::int64_t xw : {1, 7}) {
      const auto k = largest(std::int64_t{1} << 61, [&](std::int64_t v) {
        return k::check_range(a, named.n, -v, v, 0, xw).ok();
      });
      if (k < 1)
        continue;
      auto t = named("steep: x in [0, " + std::to_string(xw) + "], y over the widest range for "
                     + name_of(a));
      for (std::size_t i = 0; i < named.n; ++i) {
        auto x = uniform(rng, 0, xw);
        t.add(0, x, std::clamp(x * (2 * k / xw) - k + uniform(rng, -k / 8, k / 8), -k, k));
      }
      out.push_back(std::move(t));
    }
}

} // namespace

std::int64_t widest(agg a, std::uint64_t n) {
  return largest(std::int64_t{1} << 62, [&](std::int64_t v) {
    return k::check_range(a, n, -v, v, -v, v).ok();
  });
}

std::vector<table> widest_tables(std::size_t n, std::uint64_t seed) {
  rng_t rng{seed};
  namer named{n, seed};
  std::vector<table> out;
  for (auto a : {agg::avg, agg::var_samp, agg::stddev_samp, agg::corr, agg::regr_slope,
                 agg::regr_intercept})
    for (bool ends : {false, true}) {
      const auto w = widest(a, n);
      auto t = named("widest range for " + name_of(a) + (ends ? ", at both ends" : ""));
      fill(t, 0, n, -w, w, relation::correlated, ends, rng);
      out.push_back(std::move(t));
    }
  auto least = nearly_constant_tables(n, seed + 1);
  out.insert(out.end(), least.begin(), least.end());
  return out;
}

std::vector<table> nearly_constant_tables(std::size_t n, std::uint64_t seed) {
  rng_t rng{seed};
  namer named{n, seed};
  std::vector<table> out;
  const auto w = widest(agg::regr_intercept, n);
  for (std::size_t odd : {1, 2}) {
    auto t = named("x constant but for " + std::to_string(odd) + " rows");
    for (std::size_t i = 0; i < n; ++i) {
      const bool differs = i < odd;
      t.add(0, differs ? 1 : 0, differs ? w : uniform(rng, -w, w / 2));
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<table> edge_tables(std::size_t n, std::uint64_t seed) {
  rng_t rng{seed};
  namer named{n, seed};
  auto out = widest_tables(n, seed + 1);
  add_spreads(out, named, rng);
  add_offsets(out, named, rng);
  add_lines(out, named, rng);
  add_steep(out, named, rng);
  return out;
}

table group_table(std::size_t n, std::uint64_t seed) {
  rng_t rng{seed};
  auto t = namer{n, seed}("five groups: wide, constant x, one row, empty, x = y; filtered rows");
  t.groups = 5;
  const auto w = widest(agg::regr_intercept, n);
  fill(t, 0, n / 2, -w, w, relation::correlated, false, rng);
  for (std::size_t i = 0; i < n / 8; ++i)
    t.add(1, -w, uniform(rng, -w, w));
  t.add(2, w, -w);
  fill(t, 4, n / 8, -w, w, relation::equal, false, rng);
  while (t.x.size() < n)
    t.add(rng() % 5, uniform(rng, -w, w), uniform(rng, -w, w), false);
  return t;
}

} // namespace joconde::test::exact
