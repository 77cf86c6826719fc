#pragma once

// The recursive-descent parser of joconde-sql/1 (grammar in docs/task-language.md), internal to the
// sql sources: its statements are parsed in parser.cpp, its expressions in parser_expr.cpp.

#include "joconde/engines/sql/ast.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::engines::sql::detail {

/// Deeper expressions are refused, so that hostile input cannot exhaust the stack.
inline constexpr std::size_t max_depth = 200;

/// `s` in upper case: keywords and function names are case-insensitive.
std::string upper(std::string_view s);

/// Whether `s` is a keyword, which cannot name a table or a column.
bool is_reserved(std::string_view s);

/// Parses one source text, a main algorithm or a data-quality program, token by token.
class parser {
public:
  explicit parser(std::string_view src) : toks_(lex(src)) {
    // nop
  }

  /// The INSERT statements of a main algorithm; throws sql_error.
  std::vector<select_stmt> main_program();

  /// The CHECK conditions of a data-quality program; throws sql_error.
  std::vector<expr_ptr> quality_program();

private:
  // -- tokens --------------------------------------------------------------------------------------

  /// The token `ahead` places on (the end token past the last).
  const token& peek(std::size_t ahead = 0) const {
    return toks_[std::min(pos_ + ahead, toks_.size() - 1)];
  }

  /// The current token, moving past it (never past the end token).
  const token& next() {
    const token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size())
      ++pos_;
    return t;
  }

  /// The byte offset just past the token before the current one.
  std::size_t prev_end() const { return pos_ == 0 ? 0 : toks_[pos_ - 1].end; }

  /// Throws "expected <what>, found <the current token>" at the current token.
  [[noreturn]] void expected(const std::string& what) const {
    throw sql_error(peek().pos, "expected " + what + ", found " + describe(peek()));
  }

  /// Whether the token `ahead` places on is keyword `kw` (in any case).
  bool at_keyword(std::string_view kw, std::size_t ahead = 0) const {
    const auto& t = peek(ahead);
    return t.kind == token_kind::identifier && upper(t.text) == kw;
  }

  /// Whether the current token is symbol `s`.
  bool at_symbol(std::string_view s) const {
    return peek().kind == token_kind::symbol && peek().text == s;
  }

  /// Moves past keyword `kw` if it is next; whether it was.
  bool accept_keyword(std::string_view kw) {
    if (!at_keyword(kw))
      return false;
    next();
    return true;
  }

  /// Moves past symbol `s` if it is next; whether it was.
  bool accept_symbol(std::string_view s) {
    if (!at_symbol(s))
      return false;
    next();
    return true;
  }

  /// Keyword `kw`, moved past; throws if another token is next.
  const token& expect_keyword(std::string_view kw) {
    if (!at_keyword(kw))
      expected(std::string{kw});
    return next();
  }

  /// Symbol `s`, moved past; throws if another token is next.
  const token& expect_symbol(std::string_view s) {
    if (!at_symbol(s))
      expected("`" + std::string{s} + "`");
    return next();
  }

  /// A name that is not a keyword, moved past; `what` says what was expected for the message.
  const token& identifier(const std::string& what) {
    if (peek().kind != token_kind::identifier)
      expected(what);
    if (is_reserved(peek().text))
      expected(what + " (" + upper(peek().text) + " is a keyword)");
    return next();
  }

  // -- statements (parser.cpp) ----------------------------------------------------------------------

  /// A token for messages: "`x`", "the number 3", "the end of the program".
  static std::string describe(const token& t);

  /// A column name, `name` or `table.name`; `what` says what was expected for the message.
  column_ref column_name(const std::string& what);

  /// Parses the items of the select list (each an expression with an optional AS name).
  void select_list(select_stmt& s);

  /// Parses FROM <input> { UNION ALL <input> } { [INNER] JOIN <input> ON a = b }.
  void sources(select_stmt& s);

  /// Parses HAVING's confidentiality rules (the keyword is next): COUNT(*) >= k, DOMINANCE(x, n) <=
  /// p, or both joined by AND, each at most once, in either order.
  void having(select_stmt& s);

  /// Parses COUNT(*) >= k, the minimum-frequency rule (COUNT is next).
  void count_rule(select_stmt& s);

  /// Parses DOMINANCE(x, n) <= p, the dominance rule (DOMINANCE is next).
  void dominance(select_stmt& s);

  /// Parses ORDER BY key [ASC | DESC] {, key [ASC | DESC]} LIMIT k (the ORDER keyword is next).
  void order_by(select_stmt& s);

  /// Parses one INSERT INTO output SELECT ... ; statement.
  select_stmt insert();

  /// One GROUP BY key: a (qualified) name, a column or a select item's AS name; or an expression
  /// (CASE ... END, WIDTH_BUCKET(...)), which the checker judges.
  group_key group_by_key();

  /// The value of a whole-number token; throws beyond 2^63 - 1.
  static std::int64_t parse_integer(const token& t);

  // -- expressions (parser_expr.cpp) ----------------------------------------------------------------

  /// A new node of `kind` at `pos`.
  expr_ptr node(expr_kind kind, position pos);

  /// Parses an expression (the loosest binding first), refusing nesting deeper than max_depth.
  expr_ptr expression();

  /// The binary node `l op r`.
  expr_ptr binary(binary_op op, position op_pos, expr_ptr l, expr_ptr r);

  /// `a OR b OR ...`, the loosest binding.
  expr_ptr or_expr();

  /// `a AND b AND ...`.
  expr_ptr and_expr();

  /// `NOT a` (nested NOTs count against max_depth).
  expr_ptr not_expr();

  /// A comparison, [NOT] BETWEEN or [NOT] IN, or the value alone.
  expr_ptr comparison();

  /// One constant of an IN list (a number, possibly negative, a text, TRUE or FALSE).
  expr_ptr literal_in_list();

  /// `a + b - ...`.
  expr_ptr additive();

  /// `a * b / ...`.
  expr_ptr multiplicative();

  /// - a (folded into a numeric constant).
  expr_ptr unary();

  /// A whole or decimal number (at most 12 decimals).
  expr_ptr number_literal();

  /// A constant, a column, a parenthesised expression, CASE, or a function call.
  expr_ptr primary();

  /// CASE WHEN c THEN v ... [ELSE v] END (the CASE keyword is next).
  expr_ptr case_expr();

  /// ROUND(value, digits): digits a whole number from 0 to 12 (the name is next).
  expr_ptr round_call();

  /// PERCENTILE_CONT(p) / PERCENTILE_DISC(p) WITHIN GROUP (ORDER BY value [ASC]): p a numeric
  /// constant in [0, 1] (the name is next).
  expr_ptr percentile_call();

  /// WIDTH_BUCKET(x, low, high, n): four expressions; the checker wants constants for the last
  /// three (the name is next).
  expr_ptr width_bucket_call();

  /// A function call: ROUND, WIDTH_BUCKET, the percentiles, or an aggregate (the name is next).
  expr_ptr call();

  std::vector<token> toks_;  ///< the source's tokens, ending with the end token
  std::size_t pos_ = 0;      ///< the current token
  std::size_t depth_ = 0;    ///< nesting of the expression being parsed
};

} // namespace joconde::engines::sql::detail
