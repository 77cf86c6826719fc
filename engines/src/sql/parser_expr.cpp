// The recursive-descent parser of joconde-sql/1: expressions, from the loosest binding (OR) to the
// tightest (constants, columns, CASE and function calls); docs/task-language.md §2.3.

#include "parser.hpp"

#include <algorithm>
#include <array>

namespace joconde::engines::sql::detail {

expr_ptr parser::node(expr_kind kind, position pos) {
  auto e = std::make_unique<expr>();
  e->kind = kind;
  e->pos = pos;
  e->op_pos = pos;
  return e;
}

expr_ptr parser::expression() {
  if (++depth_ > max_depth)
    throw sql_error(peek().pos, "expression nested too deeply (more than 200 levels)");
  auto e = or_expr();
  --depth_;
  return e;
}

expr_ptr parser::binary(binary_op op, position op_pos, expr_ptr l, expr_ptr r) {
  auto e = node(expr_kind::binary, l->pos);
  e->op = op;
  e->op_pos = op_pos;
  e->end = r->end;
  e->args.push_back(std::move(l));
  e->args.push_back(std::move(r));
  return e;
}

expr_ptr parser::or_expr() {
  auto l = and_expr();
  while (at_keyword("OR")) {
    auto p = next().pos;
    l = binary(binary_op::logic_or, p, std::move(l), and_expr());
  }
  return l;
}

expr_ptr parser::and_expr() {
  auto l = not_expr();
  while (at_keyword("AND")) {
    auto p = next().pos;
    l = binary(binary_op::logic_and, p, std::move(l), not_expr());
  }
  return l;
}

expr_ptr parser::not_expr() {
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

expr_ptr parser::comparison() {
  auto l = additive();
  static const std::array<std::pair<std::string_view, binary_op>, 7> ops = {{
    {"=", binary_op::eq}, {"<>", binary_op::ne}, {"!=", binary_op::ne}, {"<", binary_op::lt},
    {"<=", binary_op::le}, {">", binary_op::gt}, {">=", binary_op::ge}}};
  for (const auto& [sym, op] : ops)
    if (at_symbol(sym)) {
      auto p = next().pos;
      return binary(op, p, std::move(l), additive());
    }
  if (at_keyword("IS")) {
    // x IS [NOT] NULL: whether a value is missing.
    auto e = node(expr_kind::is_null, l->pos);
    e->op_pos = next().pos;
    e->negated = accept_keyword("NOT");
    if (!at_keyword("NULL"))
      expected("NULL after IS" + std::string{e->negated ? " NOT" : ""} + " (x IS NULL, x IS NOT NULL)");
    next();
    e->args.push_back(std::move(l));
    e->end = prev_end();
    return e;
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

expr_ptr parser::literal_in_list() {
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

expr_ptr parser::additive() {
  auto l = multiplicative();
  while (at_symbol("+") || at_symbol("-")) {
    auto op = peek().text == "+" ? binary_op::add : binary_op::sub;
    auto p = next().pos;
    l = binary(op, p, std::move(l), multiplicative());
  }
  return l;
}

expr_ptr parser::multiplicative() {
  auto l = unary();
  while (at_symbol("*") || at_symbol("/")) {
    auto op = peek().text == "*" ? binary_op::mul : binary_op::div;
    auto p = next().pos;
    l = binary(op, p, std::move(l), unary());
  }
  return l;
}

expr_ptr parser::unary() {
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

expr_ptr parser::number_literal() {
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

expr_ptr parser::primary() {
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

expr_ptr parser::case_expr() {
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

expr_ptr parser::round_call() {
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

expr_ptr parser::percentile_call() {
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

expr_ptr parser::width_bucket_call() {
  const auto& name = next();
  auto e = node(expr_kind::width_bucket, name.pos);
  e->name = "WIDTH_BUCKET";
  expect_symbol("(");
  do
    e->args.push_back(expression());
  while (accept_symbol(","));
  if (e->args.size() != 4)
    throw sql_error(name.pos, "WIDTH_BUCKET takes 4 arguments, " + std::to_string(e->args.size())
                                + " given: write WIDTH_BUCKET(x, low, high, n) for n buckets of equal width "
                                  "from low to high (e.g. WIDTH_BUCKET(age, 0, 100, 10))");
  expect_symbol(")");
  e->end = prev_end();
  return e;
}

expr_ptr parser::call() {
  if (upper(peek().text) == "ROUND")
    return round_call();
  if (upper(peek().text) == "WIDTH_BUCKET")
    return width_bucket_call();
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
                              "WIDTH_BUCKET, COUNT, SUM, AVG, MIN, MAX, MEDIAN, PERCENTILE_CONT, PERCENTILE_DISC, "
                              "VAR_SAMP, VAR_POP, STDDEV_SAMP, STDDEV_POP, COVAR_SAMP, COVAR_POP, CORR, REGR_SLOPE, REGR_INTERCEPT "
                              "and REGR_R2");
  e->agg = it->second;
  expect_symbol("(");
  bool two = e->agg == kernels::aggregate::corr || e->agg == kernels::aggregate::regr_slope
             || e->agg == kernels::aggregate::regr_intercept || e->agg == kernels::aggregate::covar_samp
             || e->agg == kernels::aggregate::covar_pop || e->agg == kernels::aggregate::regr_r2;
  std::size_t want = two ? 2 : 1;
  // DISTINCT before an argument (a column called `distinct` stays one: COUNT(distinct)).
  const auto& after = peek(1);
  if (at_keyword("DISTINCT") && !(after.kind == token_kind::symbol && (after.text == ")" || after.text == ","))) {
    if (e->agg != kernels::aggregate::count)
      throw sql_error(peek().pos, "DISTINCT is only for COUNT(DISTINCT x), the number of distinct values; "
                                  + e->name + " takes every row: write " + e->name + "(x)");
    next();
    e->distinct = true;
    e->args.push_back(expression());
    if (at_symbol(","))
      throw sql_error(peek().pos, "COUNT(DISTINCT x) counts the distinct values of one column or "
                                  "expression; give one");
  } else if (e->agg == kernels::aggregate::count && at_symbol("*")) {
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

} // namespace joconde::engines::sql::detail
