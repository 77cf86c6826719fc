#pragma once

// Vectorised evaluation of checked expressions over a backend: one backend call per operator node,
// over all rows (or all groups) at once. Used by sql::run.

#include "joconde/engines/backend.hpp"
#include "joconde/engines/sql/ast.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <vector>

namespace joconde::engines::sql {

/// What an expression is evaluated over: the rows of a table, or the groups of an aggregation.
struct frame {
  std::size_t n = 0;                                        ///< vector length (rows or groups)
  const std::vector<secret>* columns = nullptr;             ///< row level: the (joined) columns
  const std::map<std::size_t, secret>* group_columns = nullptr;  ///< group level: group codes
  const std::map<const expr*, secret>* aggregates = nullptr;     ///< group level: results
  /// Row level, per column declared NULL that an expression read: whether each row has a value,
  /// and the values with a missing one replaced by the column's lowest (column_present).
  mutable std::map<std::size_t, secret> present;
  mutable std::map<std::size_t, secret> filled;
};

/// The value of `e` for every row or group of `f`, in the encoding the checker chose. A condition
/// that may be unknown (e.nullable) gives 1 where it is true, 0 where it is false or unknown (SQL:
/// WHERE, CASE WHEN and the join of conditions by AND keep only what is true); a value that may
/// be missing gives a value in its proved range where it is (presence says where).
secret evaluate(backend& b, const expr& e, const frame& f);

/// Where `e` has a value over `f` (docs/task-language.md §3.2): 0/1 per row (for a condition, 1
/// where it is true or false, 0 where unknown), or nothing when it always has one (!e.nullable).
/// One equality per column declared NULL that it reads (once per frame), and for AND, OR, CASE and
/// products of operands a few multiplications.
std::optional<secret> presence(backend& b, const expr& e, const frame& f);

/// The value of column `e` (declared NULL) over the rows of `f`, a missing one replaced by the
/// lowest of its range (0 without one): one multiplication, once per frame.
const secret& filled_column(backend& b, const expr& e, const frame& f);

/// Runs every aggregate of `aggs` over the rows `columns` (length n) grouped by `by` (one-hot masks
/// of G * n, or n rows sorted by group); none means one group of every row, publicly (COUNT is then
/// n and SUM local).
std::map<const expr*, secret> run_aggregates(backend& b, const std::vector<const expr*>& aggs,
                                             const std::vector<secret>& columns, std::size_t n,
                                             const std::optional<kernels::grouping>& by);

/// Applies an output conversion.
secret convert(backend& b, const secret& x, const conversion& c);

/// floor(v / c.divisor) exactly, for 0 <= v and v + 3 c.divisor below the bound c.passes were
/// planned for: one trunc per pass, then one lt of five elements per value.
secret floor_by_passes(backend& b, const secret& v, const conversion& c);

/// WIDTH_BUCKET(x, low, high, n) for every row or group of `f` (docs/task-language.md, "Buckets"):
/// n + 1 comparisons with the public edges for few buckets, else two comparisons, one mul and an
/// exact division by the public width of the range.
secret width_bucket(backend& b, const expr& e, const frame& f);

/// The code (0 .. size - 1) of GROUP BY expression key `key` for every row of `f`: the code of the
/// result of a CASE (its conditions evaluated, one mux per WHEN), WIDTH_BUCKET's value itself.
secret group_code(backend& b, const group_key& key, const frame& f);

/// 1 - x for 0/1 values (local).
secret logical_not(backend& b, const secret& x);

/// The verdict of HAVING's confidentiality rules per group (docs/task-language.md §4.1).
struct having_verdict {
  secret published;  ///< 0/1: 1 where every rule passes (the values are kept)
  /// The published column: 1 published, 0 withheld by COUNT(*) >= k, 2 withheld by DOMINANCE (its
  /// count passing), so that CONF_RULE can name the rule (program::confidentiality).
  secret code;
};

/// HAVING's rules of `s` over its groups: `counts` their rows; `masks` the one-hot group masks (or,
/// without GROUP BY, the rows' filter; none when every row counts, publicly) over the rows `rows`,
/// where the dominance rule's x is evaluated. Without the dominance rule, code is published (the
/// 0/1 flags of the minimum-frequency rule, as before it existed).
having_verdict having_rules(backend& b, const select_stmt& s, const secret& counts,
                            const std::optional<secret>& masks, const frame& rows);

/// The codes 0 .. size - 1 of GROUP BY key `i` of `s` for every row of `t`: a column's value minus
/// its declared minimum (local), an expression's group_code.
secret group_key_code(backend& b, const select_stmt& s, const secret_table& t, std::size_t i);

/// The rows GROUP BY ROLLUP groups when it takes them once per level (rollup.cpp): `t`'s rows, whose
/// filter is `filter`, L + 1 times for L keys, level 0 (the grand total) first, valid the filter's
/// copies; only the columns `used` marks are copied (the others stay empty).
secret_table rollup_rows(const select_stmt& s, const secret_table& t, const std::vector<bool>& used,
                         const secret& filter);

/// The group of each of rollup_rows' copies among the s.groups groups (depth first), from the
/// rows' key codes `code` (group_key_code of each key): local.
secret rollup_copy_codes(backend& b, const select_stmt& s, const std::vector<secret>& code);

/// The one-hot masks of `s`'s ROLLUP groups over rollup_rows' copies of n rows whose filter is
/// `filter` and key codes `code`, G x (L + 1) n: each level's copy compared only with that level's
/// groups (G_l = d_0 ... d_(l-1) of them: sum over l of (G_l - 1) n equalities, instead of (G - 1)
/// (L + 1) n), the other copies of a group 0.
secret rollup_masks(backend& b, const select_stmt& s, const std::vector<secret>& code, const secret& filter);

/// The cells of each of `s`'s ROLLUP groups, depth first, as runs of cell codes (the keys' codes
/// in mixed radix, the first key slowest): one cell for a cell, all the cells under a prefix for
/// its margin (kernels::sorted_groups::spans).
std::vector<std::pair<std::size_t, std::size_t>> rollup_spans(const select_stmt& s);

/// The group columns of `s`'s ROLLUP groups: for each key, its code in each group (as
/// group_codes), a key a margin adds over written as its size (the rolled value `_T`).
std::map<std::size_t, secret> rollup_group_codes(backend& b, const select_stmt& s);

/// GROUP BY ROLLUP's secondary suppression over `verdict` (having_rules'): `counts` and `nonempty`
/// (0/1) per group. Level by level from the grand total down, where a margin and its cells have
/// exactly one withheld among them, the published cell with rows that has the fewest rows (the
/// first on a tie) is withheld too, with code 3. So no withheld cell equals its margin minus
/// published cells. Reveals nothing; the cells chosen are in the output's codes.
void secondary_suppression(backend& b, const select_stmt& s, const secret& counts, const secret& nonempty,
                           having_verdict& verdict);

/// ORDER BY ... LIMIT k of `s` over its written rows `out` (their words, published codes and valid
/// flags): keeps the first min(k, rows) in that order, sorted obliviously (kernels::top_distinct),
/// so that nothing but the row count is revealed. Nothing without ORDER BY.
void keep_first(backend& b, const select_stmt& s, secret_table& out);

} // namespace joconde::engines::sql
