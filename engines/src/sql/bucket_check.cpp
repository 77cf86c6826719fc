// The checks of WIDTH_BUCKET(x, low, high, n) (docs/task-language.md, "Buckets"): constant bounds
// low < high and a whole number of buckets n from 1 to 1000, so that the n + 2 values 0..n+1 are
// known before the data (a GROUP BY key, a histogram); and the plan of its oblivious computation.

#include "joconde/engines/sql/checker.hpp"

namespace joconde::engines::sql {

namespace {

/// The most buckets WIDTH_BUCKET may have.
constexpr std::int64_t max_buckets = 1000;

/// With at most this many buckets, the edges are compared one by one (n + 1 comparisons); above,
/// the division costs fewer (2 + 5 comparisons, one multiplication, a truncation or two).
constexpr std::int64_t max_compared_buckets = 7;

const char* const example = "; for instance WIDTH_BUCKET(age, 0, 100, 10) gives 10 bands of 10 years (0 below 0, "
                            "11 from 100 on)";

} // namespace

void check_width_bucket(expr& e, const scope& sc) {
  auto& x = *e.args[0];
  const char* names[] = {"x", "low", "high", "n"};
  for (std::size_t i = 1; i < 4; ++i) {
    const auto& a = *e.args[i];
    if (a.kind != expr_kind::literal || a.type.kind != value_kind::number)
      throw sql_error(a.pos, std::string{"WIDTH_BUCKET(x, low, high, n): "} + names[i] + " must be a constant number, but "
                               + quote(a, sc.source) + " is not" + example);
  }
  const auto& count = *e.args[3];
  if (!count.type.integral || count.type.dec != 0 || count.number < 1 || count.number > max_buckets)
    throw sql_error(count.pos, "WIDTH_BUCKET(x, low, high, n): n, the number of buckets, must be a whole number from 1 to "
                                 + std::to_string(max_buckets) + ", but it is " + quote(count, sc.source) + example);
  if (x.type.kind != value_kind::number)
    throw sql_error(x.pos, "WIDTH_BUCKET needs a number x, but " + quote(x, sc.source) + " is " + describe(x.type)
                             + (x.type.kind == value_kind::category ? "; a category is grouped by itself (GROUP BY "
                                                                      + quote(x, sc.source) + ") or recoded with CASE"
                                                                    : std::string{}));
  align(e, {0, 1, 2});
  prove_comparison(e, {0, 1, 2}, sc.source);
  auto aligned = [&](std::size_t i) {
    return static_cast<int128>(e.args[i]->number) * static_cast<int128>(static_cast<std::int64_t>(e.factors[i]));
  };
  const auto low = aligned(1);
  const auto high = aligned(2);
  if (low >= high)
    throw sql_error(e.args[1]->pos, "WIDTH_BUCKET(x, low, high, n): low (" + quote(*e.args[1], sc.source)
                                      + ") must be below high (" + quote(*e.args[2], sc.source)
                                      + "): the buckets run upwards from low; swap them");
  auto& plan = e.bucket;
  plan = bucket_plan{};
  plan.low = static_cast<std::int64_t>(low);
  plan.high = static_cast<std::int64_t>(high);
  plan.count = count.number;
  const int128 width = high - low;
  const int128 n = plan.count;
  if (plan.count <= max_compared_buckets) {
    // E_k = L + ceil(k (H - L) / n): X >= E_k exactly where floor((X - L) n / (H - L)) >= k.
    for (int128 k = 0; k <= n; ++k)
      plan.edges.push_back(static_cast<word>(static_cast<std::int64_t>(low + (k * width + n - 1) / n)));
  } else if (plan_floor_division((width - 1) * n + 3 * width, width, plan.division)) {
    throw sql_error(e.pos, quote(e, sc.source) + ": its " + std::to_string(plan.count)
                             + " buckets divide (x - low) n by high - low exactly, and (high - low) n reaches "
                             + format_bound(width * n) + " in x's smallest units, too close to the ring's 2^62; use "
                               "fewer buckets, or bounds with fewer decimals");
  }
  e.type = value_type{};
  e.type.integral = true;
  e.range = interval{0, n + 1, true};
}

} // namespace joconde::engines::sql
