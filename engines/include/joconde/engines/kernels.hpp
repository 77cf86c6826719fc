#pragma once

// Oblivious relational and statistical building blocks over any backend (DESIGN.md §9): grouping by
// declared category domains, aggregates, sorting and joins. They only call backend operations and
// rearrange shares locally, so they run unchanged on the reference engine and on rss3, and they
// never reveal anything but the one bit of unique_keys and of join_many, the comparison outcomes of
// sort_distinct and top_distinct (which, on distinct keys after their shuffle, depend on nothing but
// the row count), and flags opened after a shuffle (sorted_sums' anchors, join_many's sides:
// uniformly random positions): filters, group membership and join matches stay secret 0/1 flags.
//
// Layout: for G groups over n rows, `masks` is one secret of length G * n, group-major (row r of
// group g at g * n + r), 1 where the row belongs to the group and passes every filter.
//
// Preconditions common to all kernels: every 0/1 flag (filter, masks, valid) is exactly 0 or 1;
// values are ring encodings (two's complement) of integers in the ranges check_range accepted.
// Vectors of inconsistent lengths throw engine_failure(errc::invalid_state).
//
// Costs (backend calls, each one round): count is local; group_masks 1 (0 for G == 1); sum 1;
// avg 4; var_samp 13, stddev_samp 16, corr 21, regr_slope 20, regr_intercept 24, whatever n and G
// (on rss3, where div and sqrt take about 240 rounds each: 254, 764, 1318, 2049, 1044 and 1070
// rounds), except that the sums take one dot call per summed column (instead of one in all) when
// G * n * columns exceeds 2^23 (to bound memory); min/max 1 + 2 ceil(log2 n); sort log2 N
// (log2 N + 1) for N = n rounded up to a power of two; inner_join the same for N = n + m, plus 2;
// unique_keys the same for n, plus 4 (the last is the reveal of its bit); sort_distinct one shuffle
// (rss3: 3 rounds, 2 words per element and column), then one reveal_lt per level (per 2^20
// comparisons of a level), about 0.96 n log2 n comparisons in about 120 levels at 10^6 rows and 140
// at 10^7 (below 4096 rows a plain quicksort: 1.39 n log2 n comparisons, 4.3 ln n levels); on rss3
// that is 9 rounds a level and at most 10 words a comparison, about 190 words per row at 10^6 rows.
// backend::div is called with frac 0, 24 and 40 and divisors below 2^62, backend::sqrt with frac
// 24 and 40, trunc with 16, mul_trunc with 8. Some div calls are out of div's contract (a divisor
// not in (0, 2^62) or a result beyond 2^62) where their results are discarded by a 0/1 product:
// backends must return some value there, not throw.
//
// Fixed-point results carry stat_frac = 24 fraction bits, in the encoded units of the arguments:
//   avg            mean(x) * 2^24                      (x units; decimal(2) gives mean * 100 * 2^24)
//   var_samp       var(x) * 2^24                       (x units squared)
//   stddev_samp    sd(x) * 2^24                        (x units)
//   corr           r(x, y) * 2^24                      (dimensionless)
//   regr_slope     slope of y on x * 2^24              (y units per x unit)
//   regr_intercept intercept of y on x * 2^24          (y units)
//   var_pop, stddev_pop, covar_samp, covar_pop: as var_samp and stddev_samp (covariances in x
//                  units times y units); regr_r2 r(x, y)^2 * 2^24 (dimensionless)
// Error bounds, for every input check_range accepts. On the reference backend (div rounding to
// nearest, sqrt rounding down, exact truncation) and on rss3 (div within 2^-29 relative + 2 units,
// sqrt within 2^-24 relative + 2 units, trunc/mul_trunc floor or one more), with u = 2^-24 (one
// unit of the result) and v = max(var(x) - 8 u, u):
//   avg            |err| <= 2^-28 |mean| + 4 u
//   var_samp       |err| <= 2^-26 var + 8 u; exactly 0 for constant groups and groups of < 2 rows
//   stddev_samp    |err| <= 2^-22 sd + 8 u + 8 u / sd; exactly 0 where var_samp is 0
//   corr           |err| <= 2^-21 + 8 u / var(x) + 8 u / var(y) + 4 u / (sd(x) sd(y))
//   regr_slope     |err| <= 2^-25 |slope| + 8 u (1 + |slope|) / v + 2 u
//   regr_intercept |err| <= |mean(x)| e_slope + 2^-16 |slope| + 8 u, e_slope: the bound above
//   var_pop, stddev_pop: the bounds of var_samp and stddev_samp, with the population values
//   covar_samp/_pop |err| <= 2^-26 |cov| + 8 u; exactly 0 for groups of < 2 rows
//   regr_r2        |err| <= 2 e_corr + e_corr^2 + u, e_corr: corr's bound; never outside [0, 1]
// corr, regr_slope and regr_intercept are 0 where a variance they divide by is 0 (constant group)
// or the group has fewer than 2 rows; a nonconstant group whose computed variance is not positive
// (possible on rss3 only when var < 2^-21, in groups of more than 2^20 rows) is treated the same
// way. Exact lines: where y = a x + b in a group with whole numbers |a| < 2^11 and b, and
// var(x) >= 16 (|a| + 1), regr_slope is exactly a and regr_intercept is b plus 0 to |a| - 1
// units (never below b, so an output rounded down shows b); so REGR_INTERCEPT(x, x) is 0 where
// var(x) >= 32. regr_r2(y, x) follows SQL's REGR_R2 with 0 for its NULL: 0 where var(x) is 0 or
// the group has fewer than 2 rows, 1 where var(x) > 0 and var(y) = 0, else corr(x, y)^2.

#include "joconde/engines/backend.hpp"

#include "joconde/messages/result.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>
#include <span>

namespace joconde::engines::kernels {

/// Fraction bits of the fixed-point results of avg, var, stddev, corr and regression.
inline constexpr unsigned stat_frac = 24;

/// The most groups one GROUP BY may form (sort_by_group handles any number up to it).
inline constexpr std::size_t max_sorted_groups = std::size_t{1} << 20;

/// The aggregates, for check_range.
enum class aggregate {
  count, sum, avg, min, max, var_samp, stddev_samp, corr, regr_slope, regr_intercept, median,
  percentile_cont, percentile_disc,
  var_pop, stddev_pop, covar_samp, covar_pop, regr_r2
};

// -- static range checks ------------------------------------------------------------------------

/// Bound on |REGR_SLOPE(y, x)| per unit of x for y of declared width `width_y` over whole-number
/// x: the least-squares slope is at most 2 width_y; the rest is the margin the approximate moments
/// can take where var(x) is a few units 2^-24 only. check_range and the compiler's result ranges
/// use it.
constexpr i128 slope_limit(i128 width_y) noexcept {
  return 16 * (width_y + 1);
}

/// Whether `agg` over at most `max_rows` rows whose (ring-encoded) argument lies in [lo, hi] (and
/// the second argument of corr/regr_* in [lo2, hi2]) keeps every intermediate inside |v| < 2^62
/// with the precision documented above; unsupported otherwise, with a message naming a symmetric
/// range (or else a row count) that would work. For corr the arguments are (x, y); for regr_* they
/// are (y, x) as in SQL's REGR_SLOPE(y, x). The conditions, with M = max(|lo|, |hi|),
/// w = hi - lo, n = max_rows, d = 3 + M 2^-58 (a bound on |mean - c| for the integer centre c):
///   count: n < 2^62.  sum: n M < 2^62.  avg: n M < 2^62, n < 2^48, M < 2^38.
///   min/max: M < 2^62, w < 2^62.
///   var_samp: n <= 2^24, n M < 2^62, M < 2^56 (so d <= 3.25: the precision of the moments),
///     n (w^2/4 + d^2) < 2^62, (w^2/2 + 2 d^2) 2^24 < 2^62 (so w <= 741455: the result
///     var * 2^24 must fit), (n d)^2 < 2^62.
///   stddev_samp: as var_samp, but with (w^2/2 + 2 d^2) 2^8 < 2^62 and w 2^24 < 2^62 instead of
///     the 2^24 condition (its comoments switch to 8 fraction bits above 2^21).
///   corr: the stddev conditions on both arguments and the same on their cross products.
///   regr_slope: those on x and the cross products, and L 2^24 < 2^62 for the slope bound
///     L = slope_limit(w_y) = 16 w_y + 16.
///   regr_intercept: also L (M_x + d_x) 2^24 < 2^62, L d_x 2^32 < 2^62,
///     (M_y + d_y + L (M_x + d_x)) 2^24 < 2^62.
///   var_pop, stddev_pop: as var_samp and stddev_samp (the population moments are no larger).
///   covar_samp, covar_pop: the var_samp conditions on both arguments (by Cauchy-Schwarz every
///     cross quantity is bounded by the larger of the two variances').
///   regr_r2: as corr.
/// For instance at 10^6 rows: var_samp |x| <= 370727, stddev_samp / corr / regr_slope |x| <=
/// 2147483 (limited by sum (x - mean)^2 < 2^62).
/// The compiler calls it for every aggregate in a program.
result<void> check_range(aggregate agg, std::uint64_t max_rows, std::int64_t lo, std::int64_t hi,
                         std::int64_t lo2 = 0, std::int64_t hi2 = 0);

/// Whether `agg` (any but COUNT, MIN and MAX) over at most `max_rows` rows of x in [lo, hi] can be
/// computed beyond the ring (wide_sum, wide_avg, wide_var_samp, wide_stddev_samp, wide_corr,
/// wide_regr_slope, wide_regr_intercept) with the
/// result scaled by mul / div (the output's powers of ten; for STDDEV_SAMP their squares);
/// unsupported otherwise, with a message naming a symmetric range (or else a row count) that would
/// work. The conditions, with M = max(|lo|, |hi|), w = hi - lo, n = max_rows: n < 2^27 and
/// mul < 2^30, and
///   VAR_POP, STDDEV_POP: as VAR_SAMP, STDDEV_SAMP; REGR_R2: as CORR;
///   COVAR_SAMP, COVAR_POP: both arguments below 2^53, n div < 2^45, n^2 (w + 1)^2 mul < 2^188
///     for both, and (w_x + 1)(w_y + 1) mul / (2 div) below 2^124;
///   SUM, AVG: M < 2^62, d < 2^30 (d = div for SUM, n div for AVG) and
///     (n (M 2^-32 + 2) + 1) mul < 2^62: so the limb sums (of at most n + 2^20 sorted rows), the
///     scaled high limb and the long division stay inside the ring;
///   VAR_SAMP, STDDEV_SAMP: M < 2^53, n div < 2^45, n^2 (w + 1)^2 mul < 2^188, and
///     (w + 1)^2 mul / (2 div) below 2^124 (VAR_SAMP's three words) or 2^120 (STDDEV_SAMP's
///     root below 2^60);
///   CORR (x in [lo, hi], y in [lo2, hi2]), REGR_SLOPE and REGR_INTERCEPT (y in [lo, hi], x in
///     [lo2, hi2]): both below 2^53, n^2 (w + 1)^2 < 2^188 for both, div 1; CORR mul < 2^29;
///     REGR_*: n^2 (w_x + 1)(w_y + 1) < 2^156 and L mul < 2^124 for the slope bound
///     L = slope_limit(w_y); REGR_INTERCEPT also L n M_x < 2^156 and (M_y + L M_x) mul < 2^124.
/// SUM of decimal(2) values up to 10^12 over 10^7 rows (about 2^70) is well inside, and so are
/// every other statistic of such values from -10^12 to 10^12 (the variance in cents^2 up to about
/// 2^93, the intercept of y on x both that wide up to about 2^98). The compiler calls it where
/// check_range refuses these aggregates.
result<void> check_wide_range(aggregate agg, std::uint64_t max_rows, std::int64_t lo,
                              std::int64_t hi, word mul, word div, std::int64_t lo2 = 0,
                              std::int64_t hi2 = 0);

/// Whether a key column declared in [lo, hi] can be sorted, joined and tested for uniqueness:
/// inner_join needs |key| < 2^59 (it sorts on 4 key + side), sort and unique_keys |key| < 2^61.
/// unsupported with a message otherwise. The compiler calls it for every join key.
result<void> check_key_range(std::int64_t lo, std::int64_t hi);

// -- grouping and aggregates --------------------------------------------------------------------

/// Group masks (length groups * n, layout above) for a category column with `groups` declared
/// values (codes 0..groups-1, a precondition: a row with another code would count in the last
/// group) combined with the row filter `filter` (0/1 per row). One eq over (G - 1) * n elements
/// (the last mask is the filter minus the others); for G == 1 it is the filter itself.
secret group_masks(backend& b, const secret& category, std::size_t groups, const secret& filter);

/// Rows per group (length G; local).
secret count(backend& b, const secret& masks, std::size_t groups);

/// Sum of x per group (length G; one dot round). Exact in the ring.
secret sum(backend& b, const secret& masks, const secret& x, std::size_t groups);

/// Mean of x per group as fixed point with stat_frac bits; 0 for an empty group. 4 rounds.
secret avg(backend& b, const secret& masks, const secret& x, std::size_t groups);

/// Sample variance (n - 1 denominator), fixed point, always >= 0; 0 for groups with fewer than 2
/// rows.
secret var_samp(backend& b, const secret& masks, const secret& x, std::size_t groups);

/// Sample standard deviation, fixed point; 0 for groups with fewer than 2 rows.
secret stddev_samp(backend& b, const secret& masks, const secret& x, std::size_t groups);

/// Pearson correlation of x and y, fixed point; 0 where either variance is 0 or fewer than 2 rows.
secret corr(backend& b, const secret& masks, const secret& x, const secret& y, std::size_t groups);

/// Least-squares slope of y on x, fixed point; 0 where var(x) is 0 or fewer than 2 rows.
secret regr_slope(backend& b, const secret& masks, const secret& y, const secret& x,
                  std::size_t groups);

/// Least-squares intercept of y on x, fixed point; 0 where var(x) is 0 or fewer than 2 rows.
secret regr_intercept(backend& b, const secret& masks, const secret& y, const secret& x,
                      std::size_t groups);

/// Minimum of x per group, x in [lo, hi] (a precondition: outside values may win or lose wrongly);
/// `hi` for an empty group. Exact. 1 + 2 ceil(log2 n) rounds.
secret min(backend& b, const secret& masks, const secret& x, std::size_t groups, std::int64_t lo,
           std::int64_t hi);

/// Maximum of x per group, x in [lo, hi]; `lo` for an empty group. Exact. 1 + 2 ceil(log2 n)
/// rounds.
secret max(backend& b, const secret& masks, const secret& x, std::size_t groups, std::int64_t lo,
           std::int64_t hi);

// -- sorting and joins --------------------------------------------------------------------------

/// Sorts the rows of `t` by column `key` ascending (signed; invalid rows last, in any order),
/// obliviously (bitonic network; the order of equal keys is unspecified). Requires |key| < 2^61.
/// O(log^2 n) rounds, O(n log^2 n) work per column.
void sort(backend& b, secret_table& t, std::size_t key);

// -- grouping by sorting ------------------------------------------------------------------------

/// Rows sorted by group code with one anchor row closing each group (sort_by_group): per-group sums
/// over any number of groups are prefix sums along the rows read at the anchors (sorted_sums).
struct sorted_groups {
  std::size_t groups = 0;       ///< G: codes 0..G-1
  secret filter;                ///< per sorted row: 1 where a row passes the filter, 0 on anchors
  secret anchor;                ///< per sorted row: 1 on each group's anchor (after its rows)
  std::vector<secret> columns;  ///< the columns given, sorted (anchors hold copies of row 0's values)
  /// Groups made of runs of consecutive codes (a ROLLUP's cells and margins): group j is codes
  /// spans[j].first .. spans[j].second, inclusive, and the sums per group are those of the runs
  /// (local additions of the codes' sums). Empty: the groups are the G codes.
  std::vector<std::pair<std::size_t, std::size_t>> spans;

  /// n + G: the sorted rows, anchors included.
  std::size_t rows() const noexcept { return filter.size(); }
  /// The groups the sums are per: spans.size(), or G.
  std::size_t outputs() const noexcept { return spans.empty() ? groups : spans.size(); }
};

/// Sorts the n rows of `columns` by their group code `codes` (each in 0..groups-1, a precondition;
/// groups <= max_sorted_groups) and puts one anchor row after each group's rows, every group
/// whether or not it occurs. One sort_distinct of n + G rows on code 2^(b+1) + anchor 2^b + row (b:
/// the bits of n), carrying 2 + columns.size() columns; reveals nothing but n and G.
sorted_groups sort_by_group(backend& b, const secret& codes, std::size_t groups, const secret& filter,
                            const std::vector<secret>& columns);

/// Per-group sums (each of length G, exact in the ring) of values[i] * filter over the rows of `s`;
/// each value has s.rows() elements (a value that is s.filter itself counts the rows). One mul
/// round (none for the filter), local prefix sums, one shuffle of n + G rows carrying values + 2
/// columns, and two reveals: which shuffled rows are anchors (uniformly any G of n + G), then
/// their ranks (a uniformly random permutation of 1..G) — nothing about the data.
std::vector<secret> sorted_sums(backend& b, const sorted_groups& s, const std::vector<const secret*>& values);

/// How rows fall into groups, for the aggregates: group-major one-hot masks of G * n elements
/// (group_masks), or rows sorted by group with their anchors (sort_by_group). It refers to them:
/// they must outlive it. Aggregate arguments have one element per row of the grouping (n, or n + G
/// sorted rows).
class grouping {
public:
  grouping(const secret& masks, std::size_t groups) noexcept : masks_{&masks}, groups_{groups} {}
  explicit grouping(const sorted_groups& sorted) noexcept : sorted_{&sorted}, groups_{sorted.outputs()} {}

  std::size_t groups() const noexcept { return groups_; }
  /// The masks, or nullptr for sorted rows.
  const secret* masks() const noexcept { return masks_; }
  /// The sorted rows, or nullptr for masks.
  const sorted_groups* sorted() const noexcept { return sorted_; }

private:
  const secret* masks_ = nullptr;
  const sorted_groups* sorted_ = nullptr;
  std::size_t groups_ = 1;
};

/// The aggregates over either kind of grouping (the overloads above over masks call these): the
/// same results, costs and bounds; over sorted rows each count or sum is a sorted_sums (a product
/// with the filter, a shuffle and two reveals of uniformly random data) instead of a dot.
secret count(backend& b, const grouping& by);
secret sum(backend& b, const grouping& by, const secret& x);
secret avg(backend& b, const grouping& by, const secret& x);
secret var_samp(backend& b, const grouping& by, const secret& x);
secret stddev_samp(backend& b, const grouping& by, const secret& x);
secret corr(backend& b, const grouping& by, const secret& x, const secret& y);
secret regr_slope(backend& b, const grouping& by, const secret& y, const secret& x);
secret regr_intercept(backend& b, const grouping& by, const secret& y, const secret& x);
/// Population variance (n denominator), fixed point; 0 for groups of fewer than 2 rows. As
/// var_samp, with n and n^2 where it divides by n - 1 and n (n - 1).
secret var_pop(backend& b, const grouping& by, const secret& x);
/// Population standard deviation, fixed point; 0 for groups of fewer than 2 rows.
secret stddev_pop(backend& b, const grouping& by, const secret& x);
/// Sample covariance of x and y (n - 1 denominator), fixed point; 0 for groups of fewer than 2
/// rows. The cross comoment of corr's moments, with one more mul for the mask.
secret covar_samp(backend& b, const grouping& by, const secret& x, const secret& y);
/// Population covariance (n denominator), fixed point; 0 for groups of fewer than 2 rows.
secret covar_pop(backend& b, const grouping& by, const secret& x, const secret& y);
/// SQL's REGR_R2(y, x): corr^2, 1 where var(x) > 0 = var(y), 0 where var(x) = 0 or fewer than 2
/// rows; fixed point, clamped to [0, 1]. corr's computation plus one mul, one trunc, one lt.
secret regr_r2(backend& b, const grouping& by, const secret& y, const secret& x);

/// COUNT(DISTINCT x) per group: the number of distinct values of x among the rows that count
/// (masks' ones, or sorted rows passing the filter; not anchors), 0 for an empty group; exact. x
/// in [lo, hi] with hi - lo < 2^62 on every row that counts (a precondition; the others' values
/// are ignored, so a join's unmatched rows may hold anything). The rows (n of masks plus G
/// anchors, or the n + G sorted rows) are sorted by sort_distinct on the distinct key (class, x -
/// lo, row), the class putting a group's counted rows first, then its other rows, then its anchor:
/// in one word where bits(G) + 2 + bits(hi - lo) + bits(rows) <= 60, else in two (one floor_shift
/// per row splits x - lo), so nothing but the row count is revealed; a counted row is new where
/// its (class, x) differs from the row before (one eq of rows - 1 elements, two with two words,
/// and one or two mul); the groups' sums of new rows are read at the anchors (one shuffle of the
/// rows, 3 columns, and two reveals of uniformly random data, as sorted_sums) or, for one group
/// over masks, summed locally. Cost: one mul, the sort (about 1.4 (n + G) log2(n + G)
/// comparisons, of two lt each with two-word keys), the eq, the shuffle.
secret count_distinct(backend& b, const grouping& by, const secret& x, std::int64_t lo, std::int64_t hi);

/// Bits of the row numbers MEDIAN's sort key carries for `max_rows` rows.
unsigned median_row_bits(std::uint64_t max_rows);

/// Twice the median of x per group (so exact: the sum of the two middle values, or twice the
/// middle one), over one-hot masks (groups x n, filtered rows 0 in every mask); 0 for an empty
/// group; x in [lo, hi] on the rows that count, where check_range(median, ...) accepts (|x|
/// 2^median_row_bits(n) < 2^61); the other rows may hold anything (they become lo, one mul).
/// The rows are sorted by sort_distinct on the distinct key (group, x 2^r + row), in one word
/// ((group 2^v + x - lo) 2^r + row, v the bits of hi - lo) where that fits 60 bits, else two
/// (nothing but n is revealed); the ranks of the rows that count are local prefix sums, and each
/// group's two middle ranks are picked with 2 G n equalities and one dot of 2 G blocks. Cost: the
/// sort (about 1.4 n log2 n comparisons, of two lt each with two-word keys), 2 G n eq, one count.
secret median_twice(backend& b, const secret& masks, std::size_t groups, const secret& x, std::int64_t lo,
                    std::int64_t hi);

/// The values of x at 0-based positions `at` in each group's ascending order, over one-hot masks
/// as median_twice (and on its sort): `at` holds k blocks of G positions (one per group), each in
/// [0, n_g) for a group with rows (any value for an empty one, whose result the caller discards);
/// k blocks of G values come back. Cost: median_twice's, with k G n eq.
secret order_statistics(backend& b, const secret& masks, std::size_t groups, const secret& x, std::int64_t lo,
                        std::int64_t hi, const secret& at);

// -- the dominance rule -------------------------------------------------------------------------

/// The largest n of a dominance rule (DOMINANCE(x, n) <= p): the n largest contributors.
inline constexpr unsigned max_dominance_n = 10;

/// The sum of the n largest values of x per group (1 <= n <= max_dominance_n; every value of a
/// group of fewer than n rows; ties count once per row), over one-hot masks as order_statistics
/// (and on its sort), 0 for an empty group; x in [lo, hi] where check_dominance accepts. Cost:
/// order_statistics' with n positions per group (n G rows eq), then n G lt and n G mul.
secret top_sum(backend& b, const secret& masks, std::size_t groups, const secret& x, std::int64_t lo,
               std::int64_t hi, unsigned n);

/// Whether the dominance rule over at most `max_rows` rows of x in [lo, hi] is exact in the ring:
/// lo >= 0 (the rule is for non-negative magnitudes) and 100 max_rows hi < 2^61, so that 100
/// top_sum and p SUM(x) (p < 100) compare exactly; this also bounds the sums and top_sum's sort key
/// (|x| 2^(r + 1) < 2^62). unsupported saying which fails.
result<void> check_dominance(std::uint64_t max_rows, std::int64_t lo, std::int64_t hi);

/// PERCENTILE_DISC(p) per group, p = num / scale in [0, 1] (scale a power of ten, public): the
/// value at 1-based rank max(1, ceil(p n_g)) in ascending order, exactly; 0 for an empty group;
/// where check_range(percentile_disc, ...) accepts. order_statistics at one position per group,
/// found with one floor_div per group (none when scale is 1).
secret percentile_disc(backend& b, const secret& masks, std::size_t groups, const secret& x, std::int64_t lo,
                       std::int64_t hi, word num, word scale);

/// PERCENTILE_CONT(p) per group times scale, exactly, p = num / scale in [0, 1] (scale a power of
/// ten, public): with r = p (n_g - 1), i = floor(r), x[i] scale + (x[i + 1] - x[i]) (num (n_g - 1)
/// mod scale) (0-based ascending ranks; x[i] scale where r is whole); 0 for an empty group; where
/// check_range(percentile_cont, ...) and check_percentile_cont accept. i and the remainder from one
/// floor_div per group, the upper position i + [remainder > 0] (one eq) so that it stays in the
/// group, then order_statistics at both and one mul.
secret percentile_cont_scaled(backend& b, const secret& masks, std::size_t groups, const secret& x,
                              std::int64_t lo, std::int64_t hi, word num, word scale);

/// Whether percentile_cont_scaled fits the ring for at most `max_rows` rows of x in [lo, hi] with
/// p's denominator `scale`: max(|lo|, |hi|) scale < 2^62 (the result) and scale max_rows < 2^61
/// (the dividend num (n - 1)); unsupported with the reason otherwise.
result<void> check_percentile_cont(std::uint64_t max_rows, std::int64_t lo, std::int64_t hi, word scale);

// -- exact rounding of published values ------------------------------------------------------------
// Every rule here rounds half away from zero (2.5 -> 3, -2.5 -> -3), exactly: the approximate steps
// of the protocols (trunc one too many, div within 2^-29) are corrected by comparisons.

/// The sign factor 1 - 2 [x < 0] per element, |x| < 2^62: one lt.
secret sign_factor(backend& b, const secret& x);

/// The sign factor of x and |x| (x times it): one lt and one mul.
struct signed_parts {
  secret sign;
  secret magnitude;
};
signed_parts sign_and_magnitude(backend& b, const secret& x);

/// floor(x / 2^f) per element, exactly, for |x| < 2^62 and 1 <= f < 60: one trunc and one lt of
/// two elements.
secret floor_shift(backend& b, const secret& x, unsigned f);

/// x / 2^f rounded half away from zero, exactly, for |x| < 2^61 and 1 <= f < 60: floor_shift of
/// |x| + 2^(f - 1), then the sign back (one more lt and two mul).
secret round_shift(backend& b, const secret& x, unsigned f);

/// a / d rounded half away from zero per element, exactly, for |a| < 2^62 and 1 <= d < 2^61 (d
/// secret; public divisors as constants): the exact floor of |a| / d (three div and one lt of five
/// elements), up by one where twice the remainder reaches d, then the sign back.
secret round_div(backend& b, const secret& a, const secret& d);

/// mean(x) mul / div per group rounded half away from zero, exactly (the mean in the output's
/// units: mul or div the output's power of ten over x's), 0 for an empty group; where
/// check_avg_rounded accepts. The exact sum (as sum), the count, and one round_div per group.
secret avg_rounded(backend& b, const grouping& by, const secret& x, word mul, word div);

/// Whether avg_rounded fits the ring for at most `max_rows` rows of x in [lo, hi]: mul, div
/// below 2^30 and n M mul < 2^62 (the scaled sum), n div < 2^61 (the divisor); unsupported with
/// the reason otherwise.
result<void> check_avg_rounded(std::uint64_t max_rows, std::int64_t lo, std::int64_t hi, word mul, word div);

// -- results beyond the ring ---------------------------------------------------------------------

/// Bits of each of the two low words of a wide_secret.
inline constexpr unsigned wide_limb_bits = 32;

/// One exact integer per group too large for one ring element: hi 2^64 + mid 2^32 + lo, with mid
/// and lo in [0, 2^32) (so the triple is unique: revealing it reveals the value and nothing else)
/// and |hi| < 2^61: values below 2^125 in magnitude.
struct wide_secret {
  secret hi;
  secret mid;
  secret lo;
};

/// sum(x) mul / div per group, exactly, rounded half away from zero, where |x| < 2^bits for
/// every row and check_wide_range(sum, ...) accepts x's range and the row count. The rows are summed in blocks of
/// B = 2^(60 - bits) rows (exact in the ring), each block sum split into two limbs (trunc), the
/// limbs added per group and the totals made canonical (one trunc and one lt per group, twice with
/// mul != 1, and once more to split the high limb into two words); with div != 1 the long
/// division of divide() (six div and two lt per group). Over masks the block sums take one dot
/// (G n / B words); over sorted rows one mul with the filter and one sorted_differences of two
/// columns. 0 for an empty group.
wide_secret wide_sum(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div);

/// sum(x) mul / (n div) per group for its n rows: the exact mean rounded half away from zero, in
/// the units the output asks for; 0 for an empty group. As wide_sum plus a count and one eq per
/// group.
wide_secret wide_avg(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div);

/// var_samp(x) mul / div per group, exactly, rounded half up (x's units squared, scaled to the
/// output's: floor((floor(2 V mul / D) + 1) / 2) for D = n (n - 1) div);
/// 0 for groups of fewer than 2 rows; where check_wide_range(var_samp, ...) accepts. From exact
/// sums in 16-bit limbs: the centre c = floor(mean), sum x^2 from the limbs of every row
/// (x = q 2^24 + r: one trunc and one mul of 3 n, three exact block sums), C = sum (x - c)^2 and
/// V = n C - (S - n c)^2 = n (n - 1) var exactly, then two long divisions (by n, by (n - 1) div)
/// of 12 limbs each: on rss3 a few thousand rounds per statistic, whatever n and G.
wide_secret wide_var_samp(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div);

/// sqrt(var_samp(x) mul / div) per group (the standard deviation in the output's units when mul /
/// div is the square of its scale), exactly, rounded half up: the largest c with
/// (2 c - 1)^2 n (n - 1) div <= 4 V mul for wide_var_samp's exact V = n (n - 1) var; 0 for groups
/// of fewer than 2 rows or constant ones. The protocols' sqrt on the exact variance's top bits
/// (cut at a multiple of 16 bits chosen per group, so that at least 2^44 remains; within 2^-23
/// relative plus 3 units) gives c within a public window (2^-22 of the largest value plus 7), and
/// a radix-16 search compares (2 c - 1)^2 D div with 4 V mul exactly in limbs, 15 candidates per
/// step (nearest.cpp): log16 of the window steps, each one exact normalisation of 14 limbs, one lt
/// and one mul.
wide_secret wide_stddev_samp(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div);

/// var_pop(x) mul / div per group, exactly, rounded half up, as wide_var_samp with the divisor
/// n^2 div for V; 0 for groups of fewer than 2 rows; where check_wide_range(var_pop, ...) accepts.
wide_secret wide_var_pop(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div);

/// sqrt(var_pop(x) mul / div) per group, exactly, rounded half up, as wide_stddev_samp with n^2
/// for n (n - 1).
wide_secret wide_stddev_pop(backend& b, const grouping& by, const secret& x, unsigned bits, word mul, word div);

/// covar_samp(x, y) mul / div (or with `population` covar_pop) per group, exactly, rounded half
/// away from zero; 0 for groups of fewer than 2 rows; where check_wide_range(covar_samp, ...)
/// accepts both ranges. From wide_corr's exact n (n - 1) cross comoment V: |2 V mul| divided by n
/// and by (n - 1) div (or n div) in two long divisions, halved rounding up, the sign put back.
wide_secret wide_covar(backend& b, const grouping& by, const secret& x, const secret& y, unsigned bits_x,
                       unsigned bits_y, word mul, word div, bool population);

/// REGR_R2(y, x) mul per group (mul: the output's power of ten, below 2^29), exactly, rounded half
/// up: the largest c with (2 c - 1) V_xx V_yy <= 2 mul V_xy^2, searched (as for wide_stddev_samp)
/// around the square of wide_corr's approximate correlation; mul where var(x) > 0 = var(y), 0
/// where var(x) = 0 or fewer than 2 rows; where check_wide_range(regr_r2, ...) accepts (y in
/// [lo, hi], x in [lo2, hi2]).
wide_secret wide_regr_r2(backend& b, const grouping& by, const secret& y, const secret& x, unsigned bits_y,
                         unsigned bits_x, word mul);

/// corr(x, y) mul per group (mul: the output's power of ten, below 2^29), exactly, rounded half
/// away from zero: V_xy's sign times the largest c with (2 c - 1)^2 V_xx V_yy <= 4 mul^2 V_xy^2;
/// 0 where a variance is 0 or the group has fewer than 2 rows; where check_wide_range(corr, ...)
/// accepts both ranges. From the exact n (n - 1) comoments (as wide_var_samp's, plus sum x y from
/// four limb products): the protocols' correlation (each variance cut to its top bits as for
/// wide_stddev_samp, the cross moment by the matching power of two, one sqrt and two div; within
/// 2^-21 plus 2 units) gives c within 2^-20 mul plus 5, and the search of wide_stddev_samp, in 25
/// limbs (V_xx V_yy and 4 mul^2 V_xy^2 are below 2^384), finds it.
wide_secret wide_corr(backend& b, const grouping& by, const secret& x, const secret& y, unsigned bits_x,
                      unsigned bits_y, word mul);

/// The least-squares slope of y on x times mul per group (mul: the output's power of ten, below
/// 2^30), exactly, rounded half away from zero: V_xy mul / V_xx; 0 where var(x) is 0 or fewer
/// than 2 rows; where check_wide_range(regr_slope, ...) accepts (y in [lo, hi], x in [lo2, hi2]).
/// From the exact n (n - 1) var(x) and cov(x, y): var(x) cut to m below 2^45 (at least 2^29
/// where cut), an exact long division of cov 2^32 by m and the cut undone give the slope within
/// 2^-28 relative; the search of wide_stddev_samp, over limb numbers of 20 limbs, then compares
/// (2 c - 1) V_xx with 2 mul |V_xy| exactly.
wide_secret wide_regr_slope(backend& b, const grouping& by, const secret& y, const secret& x, unsigned bits_y,
                            unsigned bits_x, word mul);

/// (mean(y) - slope mean(x)) mul per group, exactly, rounded half away from zero:
/// (S_y V_xx - V_xy S_x) mul / (n V_xx); 0 where var(x) is 0 or fewer than 2 rows. Searched (in
/// 23 limbs) around the intercept of wide_regr_slope's approximate slope, within |mean(x)|
/// (2^-28 |slope| + 2^-32) mul plus 2 units.
wide_secret wide_regr_intercept(backend& b, const grouping& by, const secret& y, const secret& x,
                                unsigned bits_y, unsigned bits_x, word mul);

/// Sorts the rows of `columns` (all of one length n) by columns[0] ascending (signed), where the
/// keys are pairwise distinct and |key| < 2^62: shuffles the rows (backend::shuffle), then sorts the
/// shuffled rows by comparisons whose outcomes are revealed, and moves every column by the order
/// found, locally. With distinct keys the revealed outcomes are those of sorting a uniformly random
/// permutation, so nothing but n is learnt; the caller makes keys distinct (e.g. key * 2^b + row
/// index): equal keys would still be sorted, but the outcomes could then show that they are equal.
/// O(n log n) comparisons in O(log n) batches expected; memory O(n) words per column.
/// With `key_words` 2 the key is the pair (columns[0], columns[1]), compared lexicographically
/// (each word signed; the pairs pairwise distinct; high words less than 2^62 apart, low words
/// less than 2^63 apart): for keys wider than one word, such as a 58-bit key with a tie-breaking
/// row number. Each comparison then costs two lt, one after the other (twice the rounds a level).
void sort_distinct(backend& b, std::span<secret* const> columns, std::size_t key_words = 1);

/// The first `limit` rows of the order sort_distinct gives: every column ends with min(limit, n)
/// elements, the rows of the smallest keys, ascending (the top k of ORDER BY ... LIMIT k). The
/// same preconditions and the same disclosure (only n, and the public limit): the shuffle, then a
/// quickselect whose revealed comparisons partition only the segments that reach below place
/// `limit`, about 2 n + 1.4 k log2 k comparisons in O(log n) levels expected (a full sort with a
/// limit of n or more).
void top_distinct(backend& b, std::span<secret* const> columns, std::size_t key_words, std::size_t limit);

/// Inner join of `many` and `unique` on many.columns[many_key] == unique.columns[unique_key]
/// (|key| < 2^59), where the keys of the valid rows of `unique` are distinct and those of `many`
/// may repeat (1:N; with `one_to_one` those of `many` are distinct too, which allows a cheaper
/// sort). The result has one row per row of `many` (many.rows rows, so its size reveals nothing),
/// in an order no party knows (shuffled): many's columns, then unique's columns; valid exactly
/// where the many row is valid and a valid unique row has its key, and then the unique columns are
/// that row's (meaningless elsewhere). Sets `keys_ok` to whether the keys that must be distinct
/// are (those of `unique`, and with `one_to_one` those of `many` too): the one bit it reveals
/// besides the shapes; if not, the result is not a join. Rows of `many` that share a key never
/// compare as equal (the sort breaks their ties by a secret row number), so the revealed
/// comparisons tell nothing about the multiplicities.
/// Cost: one sort_distinct of n + m rows carrying max(columns) + 2 columns (one-word keys when
/// `one_to_one` or when the key's declared width `key_bits` and the row number's bits r leave room,
/// key_bits + r <= 60; else two-word keys: two lt per comparison); one eq over n + m - 1
/// neighbours; for 1:N, ceil(log2(n + m)) doublings copying unique's columns along each run of
/// equal keys, each one mul of at most n + m products per copied column and one for the run flags
/// (one round each, so that only one column's operands are held at a time); one shuffle of n + m rows and one reveal of which shuffled rows came from `many`
/// (uniformly any m of n + m).
secret_table join_many(backend& b, const secret_table& many, std::size_t many_key, const secret_table& unique,
                       std::size_t unique_key, bool one_to_one, bool& keys_ok, unsigned key_bits = 60);

/// Inner join of `left` and `right` on left.columns[left_key] == right.columns[right_key], where
/// each key value occurs at most once among the valid rows of each side and |key| < 2^59. The
/// result has the left columns then the right columns, max(0, n + m - 1) rows whatever the data
/// (so its size reveals nothing), and valid = 1 exactly on the matching pairs (the values of
/// other rows are meaningless). If a key repeats within one side the result may miss pairs, so the
/// executor must first run `unique_keys` on each side. One sort of n + m rows carrying the key
/// and max(left, right) payload columns, plus 2 rounds.
secret_table inner_join(backend& b, const secret_table& left, std::size_t left_key,
                        const secret_table& right, std::size_t right_key);

/// Whether the valid rows of `t` have distinct values in column `key` (|key| < 2^61); reveals only
/// this one bit (the compiler lists it among a join's disclosures).
bool unique_keys(backend& b, const secret_table& t, std::size_t key);

} // namespace joconde::engines::kernels
