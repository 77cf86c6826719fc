// The checks of ORDER BY ... LIMIT k (docs/task-language.md, "Ordering"): each key names a select
// item, and its written values, the row class in front of them and the row order behind them must
// make one sort key the sort can compare.

#include "joconde/engines/sql/checker.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace joconde::engines::sql {

namespace {

/// The most bits the row class and the keys may take: the sort's high word stays below 2^60.
constexpr unsigned max_order_bits = 60;

/// Whether two checked expressions compute the same value: same nodes, same columns, same constants.
bool same_expr(const expr& a, const expr& b) {
  if (a.group_key || b.group_key)  // a GROUP BY expression's value: the same key
    return a.group_key && b.group_key && a.column == b.column;
  if (a.kind != b.kind || a.args.size() != b.args.size())
    return false;
  switch (a.kind) {
    case expr_kind::column:
      return a.column == b.column;
    case expr_kind::literal:
      return a.type.kind == b.type.kind && a.number == b.number && a.type.dec == b.type.dec && a.name == b.name;
    case expr_kind::binary:
      if (a.op != b.op)
        return false;
      break;
    case expr_kind::aggregate:
      if (a.agg != b.agg || a.distinct != b.distinct || a.fraction != b.fraction || a.fraction_dec != b.fraction_dec)
        return false;
      break;
    case expr_kind::round:
      if (a.number != b.number)
        return false;
      break;
    default:
      if (a.negated != b.negated || a.has_else != b.has_else)
        return false;
  }
  for (std::size_t i = 0; i < a.args.size(); ++i)
    if (!same_expr(*a.args[i], *b.args[i]))
      return false;
  return true;
}

/// |v| taken through the item's conversion to its output column, rounded up by one unit (for the
/// rounding, and for a statistic an MPC engine approximates).
int128 written_magnitude(const select_item& item, int128 v) {
  const auto& e = *item.value;
  if (e.exact_avg || e.exact_stat || e.exact_div) {
    // The statistic's fixed point, in the output's units (kernels::avg_rounded, wide_var_samp, ...);
    // a standard deviation's factors are the square roots of its kernel's.
    const bool root = e.agg == kernels::aggregate::stddev_samp || e.agg == kernels::aggregate::stddev_pop;
    auto factor = [&](word f) {
      auto r = static_cast<std::int64_t>(f);
      if (root)
        r = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(f))));
      return r;
    };
    return (v >> kernels::stat_frac) * factor(e.wide_mul) / factor(e.wide_div) + 1;
  }
  const auto& c = item.convert;
  v = (v * static_cast<std::int64_t>(c.pre_mul)) >> c.pre_shift;
  v = (v * static_cast<std::int64_t>(c.mul)) >> c.shift;
  if (c.divisor != 0)
    v /= static_cast<std::int64_t>(c.divisor);
  return v + 1;
}

/// The bounds of the values item `item` writes to `col`, 0 included (a row the select drops or a
/// group the HAVING rule withholds is written as zeros); throws at `key` if they are not proven.
std::pair<int128, int128> written_bounds(const select_item& item, const column_schema& col, const order_key& key,
                                         std::string_view source) {
  const auto& e = *item.value;
  int128 lo = 0;
  int128 hi = 0;
  if (col.type == column_type::boolean) {
    hi = 1;
  } else if (col.type == column_type::category) {
    hi = static_cast<int128>(col.domain.size()) - 1;
  } else {
    if (!e.range.bounded)
      throw sql_error(key.pos, "ORDER BY " + quote(*key.value, source) + ": " + quote(e, source)
                                 + " has no declared bounds, so its sort key cannot be proven to fit; declare a "
                                   "RANGE for " + either(columns_of(e)));
    auto through = [&](int128 v) { return v < 0 ? -written_magnitude(item, -v) : written_magnitude(item, v); };
    lo = std::min<int128>(0, through(e.range.lo));
    hi = std::max<int128>(0, through(e.range.hi));
  }
  return {lo, hi};
}

/// The select item `key` orders by: the one whose output column it names, else the one with its
/// expression; throws at the key otherwise.
std::size_t key_item(select_stmt& s, order_key& key, const scope& sc, const table_schema& out,
                     std::string_view source) {
  auto& v = *key.value;
  if (v.kind == expr_kind::column && v.qualifier.empty())
    for (std::size_t i = 0; i < s.items.size(); ++i)
      if (item_name(s.items[i]) == v.name)
        return i;
  std::vector<std::string> names;
  for (const auto& c : out.columns)
    names.push_back(c.name);
  if (v.kind == expr_kind::literal)
    throw sql_error(key.pos, "ORDER BY " + quote(v, source) + " orders by a constant; name an output column of `"
                               + out.name + "` (" + listing(names) + ")");
  check_expr(v, sc, false);
  for (std::size_t i = 0; i < s.items.size(); ++i)
    if (same_expr(v, *s.items[i].value))
      return i;
  throw sql_error(key.pos, "ORDER BY " + quote(v, source) + " is not in the select list; order by an output column of `"
                             + out.name + "` (" + listing(names) + ") or repeat a select list expression");
}

} // namespace

void check_order(select_stmt& s, const scope& sc, const table_schema& out, std::string_view source) {
  if (s.order_by.empty())
    return;
  if (!s.aggregated && !s.joins.empty())
    throw sql_error(s.order_pos, "ORDER BY ... LIMIT cannot order the rows of a JOIN: the join leaves them in an "
                                 "order no party knows, so equal keys could not be broken by row order; order a "
                                 "select without JOIN, or aggregate the joined rows with GROUP BY");
  scope keys = sc;
  keys.clause = "ORDER BY";
  s.order_class_bits = s.has_having ? 2 : 1;
  s.order_key_bits = 0;
  std::string widths;
  for (auto& key : s.order_by) {
    key.item = key_item(s, key, keys, out, source);
    key.text = quote(*key.value, source) + (key.descending ? " DESC" : "");
    for (const auto& other : s.order_by) {
      if (&other == &key)
        break;
      if (other.item == key.item)
        throw sql_error(key.pos, "ORDER BY " + quote(*key.value, source) + " orders by column `"
                                   + out.columns[key.item].name + "` again (first at " + where_str(other.pos)
                                   + "); give each key once");
    }
    const auto& item = s.items[key.item];
    if (item.value->wide)
      throw sql_error(key.pos, "ORDER BY " + quote(*key.value, source) + ": column `" + out.columns[key.item].name
                                 + "` is a statistic beyond the 64-bit ring, written as three words, which the sort "
                                   "cannot compare; order by another column, or declare tighter RANGEs or a lower "
                                   "max_rows so that it fits the ring");
    key.column = 0;
    for (std::size_t i = 0; i < key.item; ++i)
      key.column += s.items[i].value->wide ? wide_words : 1;
    auto [lo, hi] = written_bounds(item, out.columns[key.item], key, source);
    key.lo = static_cast<std::int64_t>(lo);
    key.hi = static_cast<std::int64_t>(hi);
    key.bits = static_cast<unsigned>(std::bit_width(static_cast<std::uint64_t>(hi - lo)));
    s.order_key_bits += key.bits;
    widths += (widths.empty() ? "" : ", ") + quote(*key.value, source) + " " + std::to_string(key.bits);
  }
  if (s.order_class_bits + s.order_key_bits > max_order_bits)
    throw sql_error(s.order_by.front().pos,
                    "the ORDER BY keys take " + std::to_string(s.order_key_bits) + " bits (" + widths
                      + "), more than the " + std::to_string(max_order_bits - s.order_class_bits)
                      + " the sort compares; order by fewer keys or declare narrower RANGEs");
}

} // namespace joconde::engines::sql
