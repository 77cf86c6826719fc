// The recursive-descent parser of joconde-sql/1 (grammar in docs/task-language.md).

#include "joconde/engines/sql/ast.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

namespace joconde::engines::sql {

namespace {

/// Deeper expressions are refused, so that hostile input cannot exhaust the stack.
constexpr std::size_t max_depth = 200;

constexpr std::array<std::string_view, 29> reserved = {
  "SELECT", "FROM", "WHERE", "GROUP", "BY",   "HAVING", "INSERT", "INTO", "AS",   "JOIN",
  "INNER",  "ON",   "AND",   "OR",    "NOT",  "BETWEEN", "IN",    "CASE", "WHEN", "THEN",
  "ELSE",   "END",  "TRUE",  "FALSE", "CHECK", "NULL",   "ORDER", "LIMIT", "UNION"};

std::string upper(std::string_view s) {
  std::string r{s};
  for (auto& c : r)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

bool is_reserved(std::string_view s) {
  auto u = upper(s);
  return std::find(reserved.begin(), reserved.end(), u) != reserved.end();
}

class parser {
public:
  explicit parser(std::string_view src) : toks_(lex(src)) {
    // nop
  }

  std::vector<select_stmt> main_program() {
    std::vector<select_stmt> out;
    if (peek().kind == token_kind::end)
      throw sql_error(peek().pos, "the program is empty: write one INSERT INTO <output> "
                                  "SELECT ...; per output");
    while (peek().kind != token_kind::end)
      out.push_back(insert());
    return out;
  }

  std::vector<expr_ptr> quality_program() {
    std::vector<expr_ptr> out;
    if (peek().kind == token_kind::end)
      throw sql_error(peek().pos, "the data-quality check is empty: write CHECK <condition>; "
                                  "statements, or give no check for this input");
    while (peek().kind != token_kind::end) {
      expect_keyword("CHECK");
      out.push_back(expression());
      expect_symbol(";");
    }
    return out;
  }

private:
  const token& peek(std::size_t ahead = 0) const {
    return toks_[std::min(pos_ + ahead, toks_.size() - 1)];
  }

  const token& next() {
    const token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size())
      ++pos_;
    return t;
  }

  std::size_t prev_end() const { return pos_ == 0 ? 0 : toks_[pos_ - 1].end; }

  static std::string describe(const token& t) {
    switch (t.kind) {
      case token_kind::end: return "the end of the program";
      case token_kind::text: return "the text '" + t.text + "'";
      case token_kind::integer:
      case token_kind::decimal: return "the number " + t.text;
      case token_kind::identifier: return "`" + t.text + "`";
      case token_kind::symbol: return "`" + t.text + "`";
    }
    return "?";
  }

  [[noreturn]] void expected(const std::string& what) const {
    throw sql_error(peek().pos, "expected " + what + ", found " + describe(peek()));
  }

  bool at_keyword(std::string_view kw, std::size_t ahead = 0) const {
    const auto& t = peek(ahead);
    return t.kind == token_kind::identifier && upper(t.text) == kw;
  }

  bool at_symbol(std::string_view s) const {
    return peek().kind == token_kind::symbol && peek().text == s;
  }

  bool accept_keyword(std::string_view kw) {
    if (!at_keyword(kw))
      return false;
    next();
    return true;
  }

  bool accept_symbol(std::string_view s) {
    if (!at_symbol(s))
      return false;
    next();
    return true;
  }

  const token& expect_keyword(std::string_view kw) {
    if (!at_keyword(kw))
      expected(std::string{kw});
    return next();
  }

  const token& expect_symbol(std::string_view s) {
    if (!at_symbol(s))
      expected("`" + std::string{s} + "`");
    return next();
  }

  const token& identifier(const std::string& what) {
    if (peek().kind != token_kind::identifier)
      expected(what);
    if (is_reserved(peek().text))
      expected(what + " (" + upper(peek().text) + " is a keyword)");
    return next();
  }

  column_ref column_name(const std::string& what) {
    column_ref r;
    const auto& first = identifier(what);
    r.pos = first.pos;
    r.name = first.text;
    if (accept_symbol(".")) {
      r.qualifier = r.name;
      r.name = identifier("a column name after `" + r.qualifier + ".`").text;
    }
    return r;
  }

  /// Parses the items of the select list (each an expression with an optional AS name).
  void select_list(select_stmt& s) {
    do {
      select_item item;
      item.value = expression();
      if (accept_keyword("AS")) {
        const auto& alias = identifier("a column name after AS");
        item.alias = alias.text;
        item.alias_pos = alias.pos;
      }
      s.items.push_back(std::move(item));
    } while (accept_symbol(","));
  }

  /// Parses FROM <input> { UNION ALL <input> } { [INNER] JOIN <input> ON a = b }.
  void sources(select_stmt& s) {
    if (!at_keyword("FROM"))
      expected("`,` or FROM after the select list");
    next();
    const auto& from = identifier("an input table name after FROM");
    s.from = from.text;
    s.from_pos = from.pos;
    while (at_keyword("UNION")) {
      next();
      if (!at_keyword("ALL"))
        expected("ALL after UNION (only UNION ALL, which keeps every row, is supported)");
      next();
      const auto& part = identifier("an input table name after UNION ALL");
      s.unions.push_back(union_input{part.text, part.pos, 0});
    }
    while (at_keyword("INNER") || at_keyword("JOIN")) {
      if (accept_keyword("INNER") && !at_keyword("JOIN"))
        expected("JOIN after INNER");
      next();
      join_step j;
      const auto& input = identifier("an input table name after JOIN");
      j.name = input.text;
      j.pos = input.pos;
      if (!at_keyword("ON"))
        expected("ON after `JOIN " + j.name + "` (a join names the columns it matches: JOIN "
                 + j.name + " ON <table>.<column> = " + j.name + ".<column>)");
      j.on_pos = next().pos;
      j.left = column_name("a column after ON");
      expect_symbol("=");
      j.right = column_name("a column after `=` in ON");
      s.joins.push_back(std::move(j));
    }
    if (!s.joins.empty() && at_keyword("UNION"))
      throw sql_error(peek().pos, "UNION ALL cannot follow a JOIN: write the united inputs first, "
                                  "right after FROM (FROM a UNION ALL b JOIN c ON ...)");
  }

  /// Parses HAVING COUNT(*) >= k (the keyword is next), the only HAVING condition.
  void having(select_stmt& s) {
    s.has_having = true;
    s.having_pos = next().pos;
    if (!at_keyword("COUNT"))
      expected("COUNT(*) >= <integer> (the only HAVING condition: small-cell suppression)");
    next();
    expect_symbol("(");
    expect_symbol("*");
    expect_symbol(")");
    if (!at_symbol(">="))
      expected("`>=` in HAVING COUNT(*) >= <integer>");
    next();
    if (peek().kind != token_kind::integer)
      expected("a whole number in HAVING COUNT(*) >= <integer>");
    const auto& k = next();
    auto v = parse_integer(k);
    if (v < 1)
      throw sql_error(k.pos, "HAVING COUNT(*) >= " + k.text + " suppresses nothing; write a "
                             "minimum group size of at least 1");
    s.having_min = v;
  }

  /// Parses ORDER BY key [ASC | DESC] {, key [ASC | DESC]} LIMIT k (the ORDER keyword is next).
  void order_by(select_stmt& s) {
    s.order_pos = next().pos;
    if (!at_keyword("BY"))
      expected("BY after ORDER");
    next();
    do {
      order_key key;
      key.pos = peek().pos;
      key.value = expression();
      if (accept_keyword("DESC"))
        key.descending = true;
      else
        accept_keyword("ASC");
      s.order_by.push_back(std::move(key));
    } while (accept_symbol(","));
    if (!at_keyword("LIMIT"))
      expected("ASC, DESC, `,` or LIMIT <count> after the ORDER BY key (ORDER BY chooses the rows LIMIT keeps: "
               "an output is a set of rows)");
    next();
    if (peek().kind != token_kind::integer)
      expected("a whole number of rows after LIMIT");
    const auto& k = next();
    s.limit_pos = k.pos;
    auto v = parse_integer(k);
    if (v < 1)
      throw sql_error(k.pos, "LIMIT " + k.text + " keeps no row; write a count of at least 1");
    if (static_cast<std::uint64_t>(v) > max_limit)
      throw sql_error(k.pos, "LIMIT " + k.text + " is more than the " + std::to_string(max_limit)
                               + " (2^20) rows ORDER BY ... LIMIT may keep; write a smaller count");
    s.limit = static_cast<std::uint64_t>(v);
  }

  select_stmt insert() {
    select_stmt s;
    s.pos = peek().pos;
    if (!at_keyword("INSERT"))
      expected("INSERT INTO <output> SELECT ...");
    next();
    expect_keyword("INTO");
    const auto& out = identifier("an output table name");
    s.output = out.text;
    s.output_pos = out.pos;
    expect_keyword("SELECT");
    select_list(s);
    sources(s);
    if (accept_keyword("WHERE"))
      s.where = expression();
    if (at_keyword("GROUP")) {
      next();
      expect_keyword("BY");
      do
        s.group_by.push_back(column_name("a category column in GROUP BY"));
      while (accept_symbol(","));
    }
    if (at_keyword("HAVING"))
      having(s);
    if (at_keyword("ORDER"))
      order_by(s);
    else if (at_keyword("LIMIT"))
      throw sql_error(peek().pos, "LIMIT needs ORDER BY before it, to say which rows to keep: write ORDER BY "
                                  "<output column> [ASC | DESC] LIMIT <count>");
    if (!at_symbol(";"))
      expected(s.limit != 0     ? "`;` after LIMIT"
               : s.has_having ? "ORDER BY or `;` after HAVING"
                              : "WHERE, GROUP BY, HAVING, ORDER BY or `;`");
    next();
    return s;
  }

  static std::int64_t parse_integer(const token& t) {
    std::int64_t v = 0;
    for (char c : t.text) {
      if (v > (std::numeric_limits<std::int64_t>::max() - (c - '0')) / 10)
        throw sql_error(t.pos, "the number " + t.text + " is too large (at most 2^63 - 1)");
      v = v * 10 + (c - '0');
    }
    return v;
  }

  expr_ptr node(expr_kind kind, position pos) {
    auto e = std::make_unique<expr>();
    e->kind = kind;
    e->pos = pos;
    e->op_pos = pos;
    return e;
  }

  expr_ptr expression() {
    if (++depth_ > max_depth)
      throw sql_error(peek().pos, "expression nested too deeply (more than 200 levels)");
    auto e = or_expr();
    --depth_;
    return e;
  }

  expr_ptr binary(binary_op op, position op_pos, expr_ptr l, expr_ptr r) {
    auto e = node(expr_kind::binary, l->pos);
    e->op = op;
    e->op_pos = op_pos;
    e->end = r->end;
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  expr_ptr or_expr() {
    auto l = and_expr();
    while (at_keyword("OR")) {
      auto p = next().pos;
      l = binary(binary_op::logic_or, p, std::move(l), and_expr());
    }
    return l;
  }

  expr_ptr and_expr() {
    auto l = not_expr();
    while (at_keyword("AND")) {
      auto p = next().pos;
      l = binary(binary_op::logic_and, p, std::move(l), not_expr());
    }
    return l;
  }

  expr_ptr not_expr() {
    if (at_keyword("NOT")) {
      if (++depth_ > max_depth)
        throw sql_error(peek().pos, "expression nested too deeply (more than 200 levels)");
      auto e = node(expr_kind::logic_not, next().pos);
      e->args.push_back(not_expr());
      e->end = e->args[0]->end;
      --depth_;
      return e;
    }
    return comparison();
  }

  expr_ptr comparison() {
    auto l = additive();
    static const std::array<std::pair<std::string_view, binary_op>, 7> ops = {{
      {"=", binary_op::eq}, {"<>", binary_op::ne}, {"!=", binary_op::ne}, {"<", binary_op::lt},
      {"<=", binary_op::le}, {">", binary_op::gt}, {">=", binary_op::ge}}};
    for (const auto& [sym, op] : ops)
      if (at_symbol(sym)) {
        auto p = next().pos;
        return binary(op, p, std::move(l), additive());
      }
    bool negated = false;
    if (at_keyword("NOT") && (at_keyword("BETWEEN", 1) || at_keyword("IN", 1))) {
      next();
      negated = true;
    }
    if (at_keyword("BETWEEN")) {
      auto e = node(expr_kind::between, l->pos);
      e->op_pos = next().pos;
      e->negated = negated;
      e->args.push_back(std::move(l));
      e->args.push_back(additive());
      expect_keyword("AND");
      e->args.push_back(additive());
      e->end = e->args.back()->end;
      return e;
    }
    if (at_keyword("IN")) {
      auto e = node(expr_kind::in_list, l->pos);
      e->op_pos = next().pos;
      e->negated = negated;
      e->args.push_back(std::move(l));
      expect_symbol("(");
      do
        e->args.push_back(literal_in_list());
      while (accept_symbol(","));
      expect_symbol(")");
      e->end = prev_end();
      return e;
    }
    return l;
  }

  expr_ptr literal_in_list() {
    auto start = peek().pos;
    bool minus = accept_symbol("-");
    const auto& t = peek();
    if (t.kind == token_kind::integer || t.kind == token_kind::decimal) {
      auto e = number_literal();
      if (minus) {
        e->number = -e->number;
        e->pos = start;
      }
      return e;
    }
    if (!minus && (t.kind == token_kind::text || at_keyword("TRUE") || at_keyword("FALSE")))
      return primary();
    expected("a constant in the IN list (a number, a 'text' or TRUE/FALSE)");
  }

  expr_ptr additive() {
    auto l = multiplicative();
    while (at_symbol("+") || at_symbol("-")) {
      auto op = peek().text == "+" ? binary_op::add : binary_op::sub;
      auto p = next().pos;
      l = binary(op, p, std::move(l), multiplicative());
    }
    return l;
  }

  expr_ptr multiplicative() {
    auto l = unary();
    while (at_symbol("*") || at_symbol("/")) {
      auto op = peek().text == "*" ? binary_op::mul : binary_op::div;
      auto p = next().pos;
      l = binary(op, p, std::move(l), unary());
    }
    return l;
  }

  expr_ptr unary() {
    if (at_symbol("-")) {
      if (++depth_ > max_depth)
        throw sql_error(peek().pos, "expression nested too deeply (more than 200 levels)");
      auto p = next().pos;
      auto inner = unary();
      --depth_;
      if (inner->kind == expr_kind::literal && inner->type.kind == value_kind::number) {
        inner->number = -inner->number;
        inner->pos = p;
        return inner;
      }
      auto e = node(expr_kind::negate, p);
      e->end = inner->end;
      e->args.push_back(std::move(inner));
      return e;
    }
    return primary();
  }

  expr_ptr number_literal() {
    const auto& t = next();
    auto e = node(expr_kind::literal, t.pos);
    e->end = t.end;
    e->type.kind = value_kind::number;
    if (t.kind == token_kind::integer) {
      e->number = parse_integer(t);
      e->type.integral = true;
      return e;
    }
    auto point = t.text.find('.');
    auto digits = t.text.substr(0, point) + t.text.substr(point + 1);
    auto scale = t.text.size() - point - 1;
    if (scale > 12)
      throw sql_error(t.pos, "the number " + t.text + " has more than 12 digits after the point");
    token whole = t;
    whole.text = digits;
    e->number = parse_integer(whole);
    e->type.dec = static_cast<int>(scale);
    return e;
  }

  expr_ptr primary() {
    const auto& t = peek();
    if (t.kind == token_kind::integer || t.kind == token_kind::decimal)
      return number_literal();
    if (t.kind == token_kind::text) {
      next();
      auto e = node(expr_kind::literal, t.pos);
      e->end = t.end;
      e->type.kind = value_kind::text;
      e->name = t.text;
      return e;
    }
    if (at_keyword("TRUE") || at_keyword("FALSE")) {
      auto e = node(expr_kind::literal, t.pos);
      e->end = t.end;
      e->type.kind = value_kind::boolean;
      e->number = at_keyword("TRUE") ? 1 : 0;
      next();
      return e;
    }
    if (at_symbol("(")) {
      auto open = next().pos;
      auto e = expression();
      expect_symbol(")");
      // The node now spans its parentheses, so that messages quote it balanced.
      e->pos = open;
      e->end = prev_end();
      return e;
    }
    if (at_keyword("CASE"))
      return case_expr();
    if (t.kind == token_kind::identifier && !is_reserved(t.text)
        && peek(1).kind == token_kind::symbol && peek(1).text == "(")
      return call();
    if (t.kind == token_kind::identifier && !is_reserved(t.text)) {
      auto ref = column_name("a column");
      auto e = node(expr_kind::column, ref.pos);
      e->name = ref.name;
      e->qualifier = ref.qualifier;
      e->end = prev_end();
      return e;
    }
    expected("a value (a column, a number, a 'text', TRUE/FALSE, CASE, an aggregate or `(`)");
  }

  expr_ptr case_expr() {
    auto e = node(expr_kind::case_when, next().pos);
    if (!at_keyword("WHEN"))
      expected("WHEN after CASE");
    while (accept_keyword("WHEN")) {
      e->args.push_back(expression());
      expect_keyword("THEN");
      e->args.push_back(expression());
    }
    if (accept_keyword("ELSE")) {
      e->args.push_back(expression());
      e->has_else = true;
    }
    if (!at_keyword("END"))
      expected(e->has_else ? "END" : "WHEN, ELSE or END");
    next();
    e->end = prev_end();
    return e;
  }

  /// ROUND(value, digits): digits a whole number from 0 to 12 (the name is next).
  expr_ptr round_call() {
    const auto& name = next();
    auto e = node(expr_kind::round, name.pos);
    e->name = "ROUND";
    expect_symbol("(");
    e->args.push_back(expression());
    if (!at_symbol(","))
      expected("`,` and the number of decimals in ROUND(value, decimals)");
    next();
    if (peek().kind != token_kind::integer)
      expected("a whole number of decimals, 0 to 12, in ROUND(value, decimals)");
    const auto& digits = next();
    auto d = parse_integer(digits);
    if (d > 12)
      throw sql_error(digits.pos, "ROUND to " + digits.text + " decimals: at most 12 (the decimals "
                                  "an output column may have)");
    e->number = d;
    expect_symbol(")");
    e->end = prev_end();
    return e;
  }

  /// PERCENTILE_CONT(p) / PERCENTILE_DISC(p) WITHIN GROUP (ORDER BY value [ASC]): p a numeric
  /// constant in [0, 1] (the name is next).
  expr_ptr percentile_call() {
    const auto& name = next();
    auto e = node(expr_kind::aggregate, name.pos);
    e->name = upper(name.text);
    e->agg = e->name == "PERCENTILE_CONT" ? kernels::aggregate::percentile_cont : kernels::aggregate::percentile_disc;
    expect_symbol("(");
    const auto p_pos = peek().pos;
    const bool minus = accept_symbol("-");
    if (peek().kind != token_kind::integer && peek().kind != token_kind::decimal)
      expected("a constant fraction p from 0 to 1 in " + e->name + "(p)");
    const auto text = peek().text;
    auto p = number_literal();
    e->fraction = p->number;
    e->fraction_dec = p->type.dec;
    while (e->fraction_dec > 0 && e->fraction % 10 == 0) {
      e->fraction /= 10;
      --e->fraction_dec;
    }
    std::int64_t one = 1;
    for (int d = 0; d < e->fraction_dec; ++d)
      one *= 10;
    if ((minus && e->fraction != 0) || e->fraction > one)
      throw sql_error(p_pos, e->name + "(" + (minus ? "-" : "") + text + "): p must be from 0 to 1 (a fraction "
                               "of the rows: 0.5 for the median, 0.9 for the 90th percentile)");
    expect_symbol(")");
    if (!at_keyword("WITHIN") || !at_keyword("GROUP", 1))
      expected("WITHIN GROUP (ORDER BY value) after " + e->name + "(p)");
    next();
    next();
    expect_symbol("(");
    if (!at_keyword("ORDER") || !at_keyword("BY", 1))
      expected("ORDER BY value in " + e->name + "(p) WITHIN GROUP (ORDER BY value)");
    next();
    next();
    e->args.push_back(expression());
    if (at_keyword("DESC"))
      throw sql_error(peek().pos, e->name + " orders ascending only; for descending order use 1 - p");
    accept_keyword("ASC");
    expect_symbol(")");
    e->end = prev_end();
    return e;
  }

  expr_ptr call() {
    if (upper(peek().text) == "ROUND")
      return round_call();
    if (upper(peek().text) == "PERCENTILE_CONT" || upper(peek().text) == "PERCENTILE_DISC")
      return percentile_call();
    const auto& name = next();
    auto e = node(expr_kind::aggregate, name.pos);
    e->name = upper(name.text);
    static const std::array<std::pair<std::string_view, kernels::aggregate>, 16> aggs = {{
      {"COUNT", kernels::aggregate::count}, {"SUM", kernels::aggregate::sum},
      {"AVG", kernels::aggregate::avg}, {"MIN", kernels::aggregate::min},
      {"MAX", kernels::aggregate::max}, {"VAR_SAMP", kernels::aggregate::var_samp},
      {"STDDEV_SAMP", kernels::aggregate::stddev_samp}, {"CORR", kernels::aggregate::corr},
      {"REGR_SLOPE", kernels::aggregate::regr_slope},
      {"REGR_INTERCEPT", kernels::aggregate::regr_intercept}, {"MEDIAN", kernels::aggregate::median},
      {"VAR_POP", kernels::aggregate::var_pop}, {"STDDEV_POP", kernels::aggregate::stddev_pop},
      {"COVAR_SAMP", kernels::aggregate::covar_samp}, {"COVAR_POP", kernels::aggregate::covar_pop},
      {"REGR_R2", kernels::aggregate::regr_r2}}};
    auto it = std::find_if(aggs.begin(), aggs.end(), [&](auto& a) { return a.first == e->name; });
    if (it == aggs.end())
      throw sql_error(name.pos, "unknown function `" + name.text + "`; the functions are ROUND, "
                                "COUNT, SUM, AVG, MIN, MAX, MEDIAN, PERCENTILE_CONT, PERCENTILE_DISC, "
                                "VAR_SAMP, VAR_POP, STDDEV_SAMP, STDDEV_POP, COVAR_SAMP, COVAR_POP, CORR, REGR_SLOPE, REGR_INTERCEPT "
                                "and REGR_R2");
    e->agg = it->second;
    expect_symbol("(");
    bool two = e->agg == kernels::aggregate::corr || e->agg == kernels::aggregate::regr_slope
               || e->agg == kernels::aggregate::regr_intercept || e->agg == kernels::aggregate::covar_samp
               || e->agg == kernels::aggregate::covar_pop || e->agg == kernels::aggregate::regr_r2;
    std::size_t want = two ? 2 : 1;
    if (e->agg == kernels::aggregate::count && at_symbol("*")) {
      next();
    } else {
      do
        e->args.push_back(expression());
      while (accept_symbol(","));
      if (e->args.size() != want)
        throw sql_error(name.pos, e->name + " takes " + std::to_string(want) + " argument"
                                    + (want == 1 ? "" : "s") + ", " + std::to_string(e->args.size())
                                    + " given");
    }
    expect_symbol(")");
    e->end = prev_end();
    return e;
  }

  std::vector<token> toks_;
  std::size_t pos_ = 0;
  std::size_t depth_ = 0;
};

} // namespace

std::vector<select_stmt> parse_main(std::string_view source) {
  return parser{source}.main_program();
}

std::vector<expr_ptr> parse_quality(std::string_view source) {
  return parser{source}.quality_program();
}

} // namespace joconde::engines::sql
