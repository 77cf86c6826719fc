#pragma once

// The syntax tree of joconde-sql/1 and the compiled program the executor runs (DESIGN.md §9). The
// parser builds the tree; the checker resolves names, types, scales and value ranges into the same
// nodes, so the executor needs no second representation.

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/schema.hpp"
#include "joconde/engines/sql/compiler.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace joconde::engines::sql {

// -- positions and errors ------------------------------------------------------------------------

/// A 1-based place in a source text, plus the byte offset for quoting.
struct position {
  std::size_t line = 1;
  std::size_t column = 1;
  std::size_t offset = 0;
};

/// Thrown inside the compiler for any error in a program; compile() turns it into compile_error.
class sql_error : public std::runtime_error {
public:
  sql_error(position pos, const std::string& message)
    : std::runtime_error(message), pos_(pos) {
    // nop
  }

  /// Where the error is.
  position pos() const noexcept { return pos_; }

private:
  position pos_;
};

// -- tokens --------------------------------------------------------------------------------------

/// The kinds of token.
enum class token_kind { identifier, integer, decimal, text, symbol, end };

/// One token; `text` is the identifier, the digits, the unquoted text or the symbol.
struct token {
  token_kind kind = token_kind::end;
  std::string text;
  position pos;
  std::size_t end = 0;  ///< byte offset just past the token
};

/// Splits `source` into tokens (comments and blanks dropped), ending with one `end` token. Throws
/// sql_error on an unterminated text literal or a character outside the language.
std::vector<token> lex(std::string_view source);

// -- types and ranges ----------------------------------------------------------------------------

/// A 128-bit signed integer: wide enough for the product of two values below 2^62 and for sums
/// over 2^32 rows of them, which is all the overflow proofs need.
__extension__ typedef __int128 int128;

/// What a value is, once checked.
enum class value_kind { number, boolean, category, key, text };

/// A checked value type. A number's encoded value is its real value * 10^dec * 2^bin: integers
/// have (0, 0), decimal(s) columns (s, 0), fixed-point statistics bin = 24.
struct value_type {
  value_kind kind = value_kind::number;
  bool integral = false;                             ///< number built from integers only
  int dec = 0;                                       ///< decimal digits of the encoding
  int bin = 0;                                       ///< binary fraction bits of the encoding
  const std::vector<std::string>* domain = nullptr;  ///< category: its declared values
};

/// An interval of encoded values; `bounded` is false for columns without a declared RANGE.
struct interval {
  int128 lo = 0;
  int128 hi = 0;
  bool bounded = true;
};

// -- expressions ---------------------------------------------------------------------------------

/// One step of an exact division by a public power of ten: q += (r * mul) >> shift, then
/// r -= that * divisor.
struct division_pass {
  word mul = 1;        ///< ceil(2^shift / divisor)
  unsigned shift = 0;  ///< fraction bits of the reciprocal
};

/// How a checked value becomes its output column, rounded half away from zero exactly: x * pre_mul,
/// then either (x * mul) / 2^shift rounded (kernels::round_shift), or, with a divisor, the
/// magnitude floored by 2^pre_shift, plus divisor / 2, floored by the divisor by approximate
/// quotient passes and an exact correction from the remainder, and the sign put back. Each step
/// is skipped when it is the identity.
struct conversion {
  word pre_mul = 1;                   ///< lifts a negative binary scale
  unsigned pre_shift = 0;             ///< drops binary fraction bits before a decimal division
  word mul = 1;                       ///< power of ten to multiply by (no divisor)
  unsigned shift = 0;                 ///< bits dropped after the multiply (no divisor)
  word divisor = 0;                   ///< power of ten to divide by, half away from zero (0: none)
  std::vector<division_pass> passes;  ///< the approximate quotient steps (with a divisor)
};

/// How WIDTH_BUCKET(x, low, high, n) is computed, once checked: x aligned to the constants' scale
/// (the node's factors[0]) is X; low and high are L and H in those units.
struct bucket_plan {
  std::int64_t low = 0;    ///< L
  std::int64_t high = 0;   ///< H, above L
  std::int64_t count = 0;  ///< n, 1 to 1000
  /// Few buckets: the n + 1 edges E_k = L + ceil(k (H - L) / n), the result the number of them at
  /// or below X (one comparison each). Empty: the division below.
  std::vector<word> edges;
  /// Many buckets: floor((X - L) n / (H - L)) by public passes (divisor H - L) on the rows inside
  /// [L, H), 0 elsewhere.
  conversion division;
};

/// The kinds of expression node.
enum class expr_kind {
  literal,    ///< number, text or boolean constant
  column,     ///< column reference
  negate,     ///< unary minus
  logic_not,  ///< NOT
  binary,     ///< arithmetic, comparison, AND, OR
  between,    ///< args: value, low, high
  in_list,    ///< args: value, then the literals
  case_when,  ///< args: when1, then1, ..., [else]
  aggregate,  ///< args: the aggregated row expressions (none for COUNT(*))
  round,      ///< ROUND(value, digits): args: value; `number` the digits
  width_bucket,  ///< WIDTH_BUCKET(x, low, high, n): args: x, then the constants low, high, n
  is_null,    ///< x IS NULL (`negated`: IS NOT NULL): args: x
};

/// Binary operators.
enum class binary_op { add, sub, mul, div, eq, ne, lt, le, gt, ge, logic_and, logic_or };

struct expr;
/// Owning pointer to a node.
using expr_ptr = std::unique_ptr<expr>;

/// One node of an expression, with what the checker found about it.
struct expr {
  expr_kind kind = expr_kind::literal;  ///< what the node is
  position pos;                 ///< first token of the node (the operator for binary errors)
  position op_pos;              ///< the operator or function token
  std::size_t end = 0;          ///< byte offset just past the node, for quoting it
  std::string name;             ///< column name, function name, or the text of a text literal
  std::string qualifier;        ///< table name of a qualified column, else empty
  std::int64_t number = 0;      ///< numeric literal, encoded with `type.dec` digits
  binary_op op = binary_op::add;  ///< binary: the operator
  bool negated = false;         ///< NOT BETWEEN / NOT IN
  bool has_else = false;        ///< CASE with ELSE
  bool empty_as_one = false;    ///< division: its divisor, a COUNT or a SUM of values >= 1, is 0
                                ///< only for a group without rows, and counts as one unit there
  conversion rounding;          ///< ROUND: to its digits, half away from zero (checker)
  std::vector<expr_ptr> args;     ///< operands, in source order
  /// PERCENTILE_CONT / PERCENTILE_DISC: p = fraction / 10^fraction_dec in [0, 1], without trailing
  /// zero decimals (parser)
  std::int64_t fraction = 0;
  int fraction_dec = 0;
  bool distinct = false;        ///< COUNT(DISTINCT x) (parser)
  /// Where the select list or ORDER BY repeats (or, by its AS name, is) a GROUP BY expression key,
  /// outside aggregates: the group level reads the key's value of the group (the key's place,
  /// `column`) instead of computing it (checker).
  bool group_key = false;

  // Filled by the checker.
  /// The value may be NULL (SQL's missing value): it reads a column declared NULL through operators
  /// that give NULL for a NULL operand (docs/task-language.md §3.2). For a condition: it may be
  /// unknown, neither true nor false.
  bool nullable = false;
  value_type type;              ///< the value's type and scale
  interval range;               ///< proven bounds of the encoded value
  std::size_t column = 0;       ///< column: index in the (joined) row
  std::vector<word> factors;    ///< per arg: public factor aligning its scale (1 = none)
  std::vector<word> codes;      ///< in_list: the aligned literal values, distinct
  /// CASE whose results are 'text' constants: the category it gives, its values in order of first
  /// appearance (THEN ..., ELSE); the texts become their codes.
  std::vector<std::string> domain;
  bucket_plan bucket;           ///< width_bucket: how it is computed
  kernels::aggregate agg = kernels::aggregate::count;  ///< aggregate: which one
  /// aggregate: any but COUNT, MIN and MAX beyond the 64-bit ring, computed in limbs
  /// (kernels::wide_sum, ...) and written as three words: only as a whole select item written to
  /// an integer or decimal column. `wide_refusal` says why the one-word form was refused.
  bool wide = false;
  /// aggregate: AVG of integers or decimals as a whole select item written to a decimal column
  /// while the ring holds it: the exact mean in the output's units (wide_mul / wide_div), rounded
  /// half away from zero (kernels::avg_rounded), instead of its fixed-point form.
  bool exact_avg = false;
  /// aggregate: VAR_*, STDDEV_*, COVAR_*, CORR or REGR_* of integers or decimals as a whole select
  /// item written to a decimal column while the ring holds it: computed in limbs as `wide` is
  /// (exact, rounded once to the output's units) and written as one word, instead of its fixed-point
  /// form.
  bool exact_stat = false;
  /// binary `/` of two exact numbers (no fixed point, none missing) as a whole select item written
  /// to a decimal column while the ring holds the scaled dividend: the quotient in the output's
  /// units (dividend times wide_mul), rounded half away from zero exactly (kernels::round_div),
  /// instead of its fixed-point form.
  bool exact_div = false;
  std::string wide_refusal;
  /// wide, exact_avg, exact_stat or exact_div: the result is value * wide_mul / wide_div in output units (for
  /// STDDEV_*, its variance's: the squares of the output's factors)
  word wide_mul = 1;
  word wide_div = 1;
  unsigned wide_bits = 62;   ///< wide: every row of the argument is below 2^wide_bits in magnitude
  unsigned wide_bits2 = 62;  ///< wide CORR: the same of the second argument
};

// -- statements ----------------------------------------------------------------------------------

/// A reference to a column in FROM ... [JOIN ...] after resolution.
struct column_ref {
  std::string qualifier;   ///< table name if written `table.column`, else empty
  std::string name;        ///< column name as written
  position pos;            ///< where it is written
  std::size_t column = 0;  ///< index in the (joined) row
};

/// One key of GROUP BY: a column (named, or through a select item's AS name whose expression is
/// that column), or an expression whose values are known before the data (a CASE with constant
/// results, WIDTH_BUCKET), written out or named by a select item's AS name. An expression key has
/// a place of its own after the row's columns (`column`), where the group level finds its value.
struct group_key : column_ref {
  expr_ptr written;             ///< an expression written out in GROUP BY (not a name), else null
  // Filled by the checker.
  const expr* value = nullptr;  ///< an expression key's expression (`written` or the item's); null for a column
  std::vector<word> codes;      ///< CASE: the group code of each result (each THEN, then ELSE or the implicit 0)
  std::vector<std::int64_t> values;  ///< CASE of whole numbers: the value of each code, increasing
  /// ROLLUP: the key's category values followed by rollup_total, the type of its value at the
  /// group level (code domain size: a margin over this key).
  std::vector<std::string> rolled;
};

/// How a ROLLUP margin writes the keys it adds over: SDMX's code for a total.
inline constexpr const char* rollup_total = "_T";

/// One `expr [AS name]` of a select list.
struct select_item {
  expr_ptr value;          ///< the expression
  std::string alias;       ///< the AS name, or empty
  position alias_pos;      ///< where the AS name is
  conversion convert;      ///< to the output column's encoding
};

/// One input named after `UNION ALL` in FROM.
struct union_input {
  std::string name;       ///< input name as written
  position pos;           ///< where it is named
  std::size_t index = 0;  ///< index in program_impl::inputs, filled by the checker
};

/// One `[INNER] JOIN input ON a = b` of FROM, in statement order: it joins the table built so far
/// (the FROM input or its UNION ALL, then the earlier joins: the accumulated row) with one more
/// input. kernels::join_many runs it; its result has the rows of the `many` side.
struct join_step {
  std::string name;        ///< input name as written
  position pos;            ///< where it is named
  position on_pos;         ///< the ON keyword
  /// The ON operand naming a table already in the statement; once checked, `column` is its index
  /// in the accumulated row.
  column_ref left;
  /// The ON operand naming the joined input; once checked, `column` is its index in that input.
  column_ref right;
  // Filled by the checker.
  std::size_t index = 0;              ///< index in program_impl::inputs
  std::size_t offset = 0;             ///< index of the input's first column in the accumulated row
  std::string left_table;             ///< the table `left` belongs to (the FROM input for a union)
  std::size_t left_table_column = 0;  ///< index of `left` in that table
  bool one_to_one = false;            ///< both keys must be unique, else only the unique side's
  bool implicit = false;              ///< one-to-one though neither key is declared UNIQUE (legacy)
  /// Whether the accumulated table is join_many's `many` (its rows are the result's); else the
  /// joined input is. For 1:N the side that may repeat its key, for one-to-one the smaller.
  bool many_is_left = true;
  unsigned key_bits = 58;             ///< every valid key of both sides has |key| < 2^key_bits
  std::uint64_t max_rows = 0;         ///< rows of the result: those of the many side, at most
};

/// The largest k of `ORDER BY ... LIMIT k`.
inline constexpr std::uint64_t max_limit = std::uint64_t{1} << 20;

/// One key of `ORDER BY ... LIMIT k`: a select item, by its output name or its expression.
struct order_key {
  expr_ptr value;           ///< as written: an output column's name or a select list expression
  position pos;             ///< where it is written
  bool descending = false;  ///< DESC (ASC is the default)
  // Filled by the checker.
  std::size_t item = 0;     ///< the select item it orders by
  std::size_t column = 0;   ///< that item's first column in the written row (after wide items)
  std::int64_t lo = 0;      ///< every written value of the item (0 included) lies in [lo, hi]
  std::int64_t hi = 0;
  unsigned bits = 0;        ///< bits of hi - lo: the key's share of the sort key
  std::string text;         ///< the key as written, with DESC, for the disclosures
};

/// `DOMINANCE(x, n) <= p` in HAVING (docs/task-language.md §4.1): the dominance rule of business
/// statistics, withholding a group whose n largest values of x make up more than p % of its SUM(x).
struct dominance_rule {
  position pos;          ///< the DOMINANCE keyword
  expr_ptr value;        ///< x, a row expression (each contributor's magnitude)
  unsigned n = 0;        ///< the largest contributors counted, 1..kernels::max_dominance_n
  unsigned p = 0;        ///< the largest share published, in percent, 1..99
  // Filled by the checker.
  std::int64_t lo = 0;   ///< x's proved range, lo >= 0
  std::int64_t hi = 0;
  std::string written;   ///< x as written ("turnover"), for messages and the disclosures
  std::string text;      ///< as CONF_RULE writes it: "DOMINANCE(turnover, 2) <= 85"
};

/// One `INSERT INTO out SELECT ...;`.
struct select_stmt {
  position pos;                      ///< the INSERT keyword
  std::string output;                ///< output table name
  position output_pos;               ///< where the output is named
  std::size_t output_index = 0;      ///< index in program_impl::outputs
  std::vector<select_item> items;    ///< the select list
  std::string from;                  ///< FROM input name
  position from_pos;                 ///< where it is named
  std::size_t from_index = 0;        ///< index in program_impl::inputs
  std::vector<union_input> unions;   ///< the inputs after UNION ALL, in order (none: no union)
  std::vector<join_step> joins;      ///< the JOINs, in order (left-deep; none: no join)
  expr_ptr where;                    ///< WHERE condition, or null
  std::vector<group_key> group_by;   ///< GROUP BY keys, in order
  /// GROUP BY ROLLUP(keys): besides the groups of every key, those of each prefix of the keys (the
  /// margins) down to the grand total, the keys left out written as `_T` (rollup_total).
  bool rollup = false;
  position rollup_pos;               ///< the ROLLUP keyword
  /// ROLLUP formed by sorting the rows once by cell, each margin a run of consecutive cells
  /// (kernels::sorted_groups::spans), rather than by the rows taken once per level (checker).
  bool rollup_spans = false;
  std::vector<std::size_t> group_sizes;  ///< domain size of each GROUP BY key
  /// Encoded value of code 0 of each GROUP BY key: 0 for a category (or a CASE, WIDTH_BUCKET), the
  /// declared minimum for an integer column (its codes are value - minimum).
  std::vector<std::int64_t> group_lows;
  /// Whether HAVING gives a confidentiality rule (COUNT(*) >= k, DOMINANCE(x, n) <= p or both),
  /// so that the output carries the published column.
  bool has_having = false;
  position having_pos;               ///< the HAVING keyword
  std::int64_t having_min = 0;       ///< k of HAVING COUNT(*) >= k (0: no minimum-frequency rule)
  position having_min_pos;           ///< the COUNT of that rule
  std::optional<dominance_rule> dominance;  ///< HAVING DOMINANCE(x, n) <= p, if given
  std::vector<order_key> order_by;   ///< ORDER BY keys, in order (none: no ORDER BY)
  position order_pos;                ///< the ORDER keyword
  position limit_pos;                ///< the LIMIT count
  std::uint64_t limit = 0;           ///< LIMIT k (0: no LIMIT)
  // Filled by the checker.
  bool aggregated = false;         ///< one row per group (or one row) instead of per input row
  std::size_t groups = 1;          ///< product of the GROUP BY domain sizes (1 without)
  /// Whether the groups are formed by sorting (kernels::sort_by_group) rather than by one-hot
  /// masks, as the cost model of choose_grouping found cheaper.
  bool sorted_grouping = false;
  std::uint64_t max_rows = 0;      ///< rows of FROM (or of the union, or the last join), at most
  /// With UNION ALL: the united table as the select sees it, named after the FROM input, its
  /// columns' ranges the hull of the inputs' ranges and its max_rows their sum.
  table_schema united;
  std::vector<const expr*> aggregates;  ///< every aggregate node of the select list, in order
  /// ORDER BY: bits of the row class in front of the keys (1: valid rows first; 2 with HAVING:
  /// published, withheld, then empty groups) and of all the keys after it.
  unsigned order_class_bits = 0;
  unsigned order_key_bits = 0;
};

/// The data-quality check of one input.
struct quality_program {
  std::string input;               ///< the input it checks
  std::size_t input_index = 0;     ///< index in program_impl::inputs
  std::vector<expr_ptr> checks;    ///< the CHECK conditions, in order
};

/// Parses the main algorithm; throws sql_error.
std::vector<select_stmt> parse_main(std::string_view source);

/// Parses a data-quality source (CHECK statements); throws sql_error.
std::vector<expr_ptr> parse_quality(std::string_view source);

/// Everything compile() produced; the executor walks it.
struct program_impl {
  std::vector<table_schema> inputs;       ///< in CTSC order
  std::vector<table_schema> outputs;      ///< in CTSC order
  std::vector<std::string> disclosures;   ///< see program::disclosures
  std::vector<std::string> features;      ///< see program::features
  std::vector<select_stmt> statements;    ///< the main algorithm, in source order
  std::vector<quality_program> quality;   ///< data-quality programs, in input order
};

/// Resolves, type-checks and proves the ranges of `prog`'s statements in place, and checks that
/// every output is written exactly once; throws sql_error.
void check_main(program_impl& prog, std::string_view source);

/// Checks one input's data-quality program in place; throws sql_error.
void check_quality(const program_impl& prog, quality_program& q, std::string_view source);

} // namespace joconde::engines::sql
