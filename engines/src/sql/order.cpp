// ORDER BY ... LIMIT k in the executor: the written rows of a select sorted obliviously on one
// distinct key (row class, the keys, the row's place) and cut after k (docs/task-language.md,
// "Ordering").

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/sql/evaluate.hpp"

#include <algorithm>
#include <numeric>

namespace joconde::engines::sql {

void keep_first(backend& b, const select_stmt& s, secret_table& out) {
  const std::size_t n = out.rows;
  if (n == 0 || s.order_by.empty())
    return;
  // The row class in front: 0 for a row the analyst sees, then (with HAVING) 1 for a group a
  // rule withholds, and last a row the select drops or an empty group (its valid flag is 0).
  auto high = logical_not(b, out.valid);
  if (s.has_having) {
    // Withheld where the published code is not 1: 1 - code for codes 0 and 1, (code - 1)^2 once
    // the dominance rule adds code 2.
    const auto& code = out.columns.back();
    if (s.dominance) {
      auto off = b.add_public(code, ~word{0});
      high = b.add(high, b.mul(off, off));
    } else {
      high = b.add(high, logical_not(b, code));
    }
  }
  // Each key as written, shifted into [0, 2^bits): value - lo ascending, hi - value descending.
  for (const auto& key : s.order_by) {
    const auto& value = out.columns[key.column];
    auto part = key.descending ? b.add_public(b.mul_public(value, ~word{0}), static_cast<word>(key.hi))
                               : b.add_public(value, word{0} - static_cast<word>(key.lo));
    high = b.add(b.mul_public(high, word{1} << key.bits), part);
  }
  // The row's place breaks ties, so the keys are distinct: the input row (FROM, then each UNION
  // ALL input) or the group (in the order of the GROUP BY domains).
  std::vector<word> places(n);
  std::iota(places.begin(), places.end(), word{0});
  auto place = b.constant(places);
  const unsigned place_bits = kernels::median_row_bits(n);
  const bool one_word = s.order_class_bits + s.order_key_bits + place_bits <= 60;
  std::vector<secret*> columns;
  secret key;
  if (one_word) {
    key = b.add(b.mul_public(high, word{1} << place_bits), place);
    columns.push_back(&key);
  } else {
    columns.push_back(&high);
    columns.push_back(&place);
  }
  for (auto& c : out.columns)
    columns.push_back(&c);
  columns.push_back(&out.valid);
  kernels::top_distinct(b, columns, one_word ? 1 : 2, static_cast<std::size_t>(s.limit));
  out.rows = std::min<std::size_t>(n, static_cast<std::size_t>(s.limit));
}

} // namespace joconde::engines::sql
