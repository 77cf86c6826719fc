#pragma once

// The pieces of the joconde-sql/1 checker shared by its source files: name scopes, expression
// checking, and the interval arithmetic of the overflow proofs (DESIGN.md §9).

#include "joconde/engines/sql/ast.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::engines::sql {

// -- ranges --------------------------------------------------------------------------------------

/// Every intermediate must stay strictly below this in absolute value: the ring is 2^64 and the
/// comparison and truncation protocols need one spare bit on top of the sign.
inline constexpr int128 ring_limit = int128{1} << 62;

/// 10^k as a 128-bit integer, k <= 36.
int128 pow10(int k);

/// The larger magnitude of an interval's ends.
int128 max_abs(const interval& r);

/// A bound in short scientific form for messages ("9.2e22", "1000").
std::string format_bound(int128 v);

/// The text of a node as written in `source`, blanks collapsed ("SUM(income * weight)").
std::string quote(const expr& e, std::string_view source);

/// The distinct column names a node reads, in order of first appearance.
std::vector<std::string> columns_of(const expr& e);

/// "a", "a or b", "a, b or c".
std::string either(const std::vector<std::string>& names);

/// A type for messages: "integer", "decimal(2)", "fixed-point number", "boolean", "category",
/// "key", "text".
std::string describe(const value_type& t);

/// Throws the overflow refusal for `e` reaching `bound`, naming the columns to declare RANGEs for.
[[noreturn]] void refuse_overflow(const expr& e, int128 bound, std::string_view source);

/// Throws unless `r` is bounded and inside the ring limit.
void prove(const expr& e, const interval& r, std::string_view source);

/// Throws the refusal for an unbounded column used where a proof is needed.
[[noreturn]] void refuse_unbounded(const expr& e, std::string_view source);

/// The public factor taking scale (dec, bin) to (to_dec, to_bin), both not smaller; throws at `e`
/// if it does not fit the ring.
word scale_factor(const expr& e, int dec, int bin, int to_dec, int to_bin);

/// How a checked value of type `from` with range `r` becomes a decimal(t) column (exact when
/// from.dec <= t and from.bin <= 0, else rounded down); throws at `e` if it cannot be proven.
conversion decimal_conversion(const expr& e, const value_type& from, const interval& r, int t,
                              std::string_view source);

/// Plans floor(v / d) for 0 <= v, v + 3 d <= top, by approximate quotient passes corrected
/// exactly (floor_by_passes in evaluate.hpp): appends c.passes and sets c.divisor. Returns nothing
/// when planned, else the bound (top d, or (top - 3 d) d) the ring cannot hold, for the refusal.
std::optional<int128> plan_floor_division(int128 top, int128 d, conversion& c);

// -- expression checking -------------------------------------------------------------------------

/// One table visible in an expression, with the index of its first column in the joined row.
struct scope_table {
  const table_schema* schema = nullptr;  ///< the input's schema
  std::size_t offset = 0;                ///< index of its first column in the joined row
};

/// What an expression may refer to.
struct scope {
  std::vector<scope_table> tables;        ///< FROM (or the united table), then each JOIN
  std::vector<std::string> united;        ///< the UNION ALL inputs after the first, if any
  std::string_view source;                ///< the program text, for quoting
  std::uint64_t max_rows = 0;             ///< rows an aggregate may see
  bool aggregated = false;                ///< columns outside aggregates must be group columns
  const std::vector<group_key>* group_by = nullptr;  ///< the GROUP BY keys, if aggregated
  std::string clause;                     ///< "WHERE", "the select list", "CHECK" for messages
  /// Columns declared NULL that WHERE keeps present (`x IS NOT NULL` joined to it by AND): in a
  /// select list of rows, where WHERE has dropped every other row, they are never missing.
  std::vector<std::size_t> kept_present;
};

/// Resolves a (possibly qualified) column in `sc`; throws with a suggestion if unknown or
/// ambiguous. Returns the index in the joined row and sets `col` to its schema.
std::size_t resolve(const scope& sc, const std::string& qualifier, const std::string& name,
                    position pos, const column_schema*& col);

/// Checks `e` and its children in place: names, types, scales, ranges, aggregates' placement.
void check_expr(expr& e, const scope& sc, bool in_aggregate);

/// Checks aggregate `e` (aggregate_check.cpp): refused inside another aggregate (`in_aggregate`);
/// its arguments' types and ranges, and its result's type and proved range.
void check_aggregate(expr& e, const scope& sc, bool in_aggregate);

/// Whether `e` is a number (of any scale).
bool number(const expr& e);

/// a * b, with the magnitude capped at 2^100 (far beyond the ring, still far inside int128).
int128 sat_mul(int128 a, int128 b);

/// Sets e.factors so that the numeric args `idx` share one scale (the finest of theirs); returns it.
value_type align(expr& e, const std::vector<std::size_t>& idx);

/// Proves the aligned operands `idx` of a comparison inside the ring; an unbounded operand is
/// allowed only against constants and only when it needs no rescaling.
void prove_comparison(expr& e, const std::vector<std::size_t>& idx, std::string_view source);

/// Checks a CASE whose conditions and results are checked: one type for every result; results
/// that are all 'text' constants make a category of those values (e.domain).
void check_case(expr& e, const scope& sc);

/// Checks WIDTH_BUCKET(x, low, high, n) whose arguments are checked: constant bounds low < high, a
/// whole n from 1 to 1000, and x a number; plans its computation (e.bucket) and proves it.
void check_width_bucket(expr& e, const scope& sc);

// -- missing values (null_check.cpp) ---------------------------------------------------------------

/// Types `x IS [NOT] NULL`: a condition, never unknown.
void check_is_null(expr& e);

/// Sets e.nullable once its operands are checked: a column's declaration; a CASE's results; any
/// other operator's operands (NULL in, NULL out, or unknown for a condition); never for constants,
/// aggregates (they skip missing values) and IS [NOT] NULL. Refuses a BETWEEN bound that may be
/// missing.
void mark_nullable(expr& e, std::string_view source);

/// The columns that condition `where` (checked) requires present: `x IS NOT NULL` at its top or in
/// a chain of ANDs.
std::vector<std::size_t> required_present(const expr& where);

/// Throws at `e` if it may be missing: `where` (e.g. "GROUP BY") has no place for it; `instead`
/// says what to write.
void refuse_nullable(const expr& e, std::string_view source, const std::string& where, const std::string& instead);

/// Checks COUNT(DISTINCT x) (its argument unchecked): x a key column, a category, a boolean or a
/// bounded whole number, counted over at most sc.max_rows rows.
void check_count_distinct(expr& e, const scope& sc);

/// Whether `e` contains an aggregate.
bool has_aggregate(const expr& e);

/// Appends every aggregate node of `e` (pre-order) to `out`.
void collect_aggregates(const expr& e, std::vector<const expr*>& out);

/// The closest of `names` to `wrong` if it is close enough to be a likely typo, else empty.
std::string closest(const std::string& wrong, const std::vector<std::string>& names);

/// " (did you mean `x`?)" when `wrong` is a likely typo of one of `names`, else empty.
std::string suggestion(const std::string& wrong, const std::vector<std::string>& names);

/// "`a`", "`a` and `b`", "`a`, `b` and `c`"; "none" for no names.
std::string listing(const std::vector<std::string>& names);

/// "line:column" of `p`, for messages.
std::string where_str(position p);

/// The index of the table called `name` in `tables`; throws at `pos` naming the known ones, `what`
/// ("input", "output") saying which they are.
std::size_t find_table(const std::vector<table_schema>& tables, const std::string& name,
                       position pos, const char* what);

/// Where input `input` is named in `s` before: as its FROM, among its first `unions` UNION ALL
/// inputs or its first `joins` JOIN inputs (indices already resolved); nullptr if not.
const position* named_before(const select_stmt& s, std::size_t input, std::size_t unions, std::size_t joins);

/// The output column name a select item gives: its alias, or the column it reads (else empty).
std::string item_name(const select_item& item);

// -- grouping ------------------------------------------------------------------------------------

/// Resolves the GROUP BY keys of `s` (docs/task-language.md §4.1) in `sc`, before its select list is
/// checked: each a column, a select item's AS name or an expression written out, whose values are
/// known in advance (categories, ranged integers, CASE with constant results, WIDTH_BUCKET). Checks
/// the expression keys as row expressions, marks where the select list and ORDER BY use them
/// (expr::group_key), and sizes the groups; throws sql_error naming the key otherwise.
void check_group_by(select_stmt& s, const scope& sc);

/// Checks HAVING's dominance rule of `s`, if any (docs/task-language.md §4.1), in `sc` once the
/// select list is checked: x a row expression of numbers with a declared range from 0, whose exact
/// comparison kernels::check_dominance accepts; fills its range and its CONF_RULE text. Throws
/// sql_error at x, or at DOMINANCE for the overflow bound, saying what to write instead.
void check_dominance(select_stmt& s, const scope& sc);

/// For `e` marked as a GROUP BY expression key's value (expr::group_key) in `sc`'s grouped select
/// list: gives it that key's type and range and returns true (its operands are row values, not
/// checked at the group level); false for any other node.
bool group_value(expr& e, const scope& sc);

/// Under GROUP BY ROLLUP, gives `e`, the value of key `g` at the group level, g's rolled values
/// (its categories and `_T`) as its type and range; nothing otherwise.
void rolled_type(expr& e, const group_key& g);

// -- ordering ------------------------------------------------------------------------------------

/// Checks the ORDER BY keys of `s` (docs/task-language.md, "Ordering") once its select list is
/// checked against output `out`: resolves each to a select item, bounds its written values and
/// sizes the sort key; throws sql_error for a key outside the select list, repeated, beyond the
/// ring, unbounded or too wide, and for the rows of a JOIN.
void check_order(select_stmt& s, const scope& sc, const table_schema& out, std::string_view source);

// -- joins ---------------------------------------------------------------------------------------

/// Checks the JOIN steps of `s` in order (docs/task-language.md §4.2): resolves each ON against the
/// tables of `sc` so far and the joined input, decides which side is unique, and adds the input to
/// `sc`; sets s.max_rows to the last join's rows. `sc` holds the FROM (or united) table on entry.
void check_joins(select_stmt& s, const program_impl& prog, scope& sc);

} // namespace joconde::engines::sql
