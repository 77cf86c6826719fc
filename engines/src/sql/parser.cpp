// The recursive-descent parser of joconde-sql/1 (grammar in docs/task-language.md): statements. The
// expressions are parsed in parser_expr.cpp.

#include "parser.hpp"

#include "joconde/engines/sql/checker.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

namespace joconde::engines::sql {

namespace detail {

namespace {

constexpr std::array<std::string_view, 29> reserved = {
  "SELECT", "FROM", "WHERE", "GROUP", "BY",   "HAVING", "INSERT", "INTO", "AS",   "JOIN",
  "INNER",  "ON",   "AND",   "OR",    "NOT",  "BETWEEN", "IN",    "CASE", "WHEN", "THEN",
  "ELSE",   "END",  "TRUE",  "FALSE", "CHECK", "NULL",   "ORDER", "LIMIT", "UNION"};

} // namespace

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

std::vector<select_stmt> parser::main_program() {
  std::vector<select_stmt> out;
  if (peek().kind == token_kind::end)
    throw sql_error(peek().pos, "the program is empty: write one INSERT INTO <output> "
                                "SELECT ...; per output");
  while (peek().kind != token_kind::end)
    out.push_back(insert());
  return out;
}

std::vector<expr_ptr> parser::quality_program() {
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

std::string parser::describe(const token& t) {
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

column_ref parser::column_name(const std::string& what) {
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

void parser::select_list(select_stmt& s) {
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

void parser::sources(select_stmt& s) {
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

void parser::having(select_stmt& s) {
  s.has_having = true;
  s.having_pos = next().pos;
  do {
    if (at_keyword("COUNT")) {
      if (s.having_min != 0)
        throw sql_error(peek().pos, "HAVING gives COUNT(*) >= k twice (first at " + where_str(s.having_min_pos)
                                      + "); give each rule once");
      count_rule(s);
    } else if (at_keyword("DOMINANCE")) {
      if (s.dominance)
        throw sql_error(peek().pos, "HAVING gives DOMINANCE twice (first at " + where_str(s.dominance->pos)
                                      + "); give each rule once");
      dominance(s);
    } else {
      expected("COUNT(*) >= <integer> or DOMINANCE(<column>, <n>) <= <percent> (the HAVING conditions: "
               "the confidentiality rules)");
    }
  } while (accept_keyword("AND"));
  if (at_keyword("OR"))
    throw sql_error(peek().pos, "HAVING joins its rules with AND (a cell is published only if every rule "
                                "passes); write AND instead of OR");
}

void parser::count_rule(select_stmt& s) {
  s.having_min_pos = next().pos;
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

void parser::dominance(select_stmt& s) {
  dominance_rule d;
  d.pos = next().pos;
  expect_symbol("(");
  d.value = expression();
  if (!at_symbol(","))
    expected("`,` and the number of largest contributors in DOMINANCE(<column>, <n>)");
  next();
  if (peek().kind != token_kind::integer)
    expected("a whole number of largest contributors (1 to " + std::to_string(kernels::max_dominance_n)
             + ") in DOMINANCE(<column>, <n>)");
  const auto& n = next();
  auto count = parse_integer(n);
  if (count < 1 || count > static_cast<std::int64_t>(kernels::max_dominance_n))
    throw sql_error(n.pos, "DOMINANCE counts the 1 to " + std::to_string(kernels::max_dominance_n)
                             + " largest contributors, not " + n.text + "; write a whole number from 1 to "
                             + std::to_string(kernels::max_dominance_n));
  d.n = static_cast<unsigned>(count);
  expect_symbol(")");
  if (!at_symbol("<="))
    expected("`<=` in DOMINANCE(<column>, <n>) <= <percent> (a cell is published when its n largest "
             "contributors make up at most that share of its total)");
  next();
  if (peek().kind != token_kind::integer)
    expected("a whole number of percent (1 to 99) after DOMINANCE(...) <=");
  const auto& p = next();
  auto percent = parse_integer(p);
  if (percent < 1 || percent > 99)
    throw sql_error(p.pos, "DOMINANCE(...) <= " + p.text + " is not a share from 1 to 99 percent; write a "
                                                          "whole number from 1 to 99 (85 is usual for n = 2)");
  d.p = static_cast<unsigned>(percent);
  s.dominance = std::move(d);
}

void parser::order_by(select_stmt& s) {
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

select_stmt parser::insert() {
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
    // GROUP BY ROLLUP(k1, ..., kL): the keys' groups and their margins, down to the grand total.
    const bool rollup = at_keyword("ROLLUP") && peek(1).kind == token_kind::symbol && peek(1).text == "(";
    if (rollup) {
      s.rollup = true;
      s.rollup_pos = next().pos;
      next();
    }
    auto whole = [&] {
      throw sql_error(peek().pos, "GROUP BY ROLLUP(...) must be the whole GROUP BY: write every key inside it, "
                                  "the coarsest first (GROUP BY ROLLUP(section, division))");
    };
    do {
      if (at_keyword("ROLLUP") && peek(1).kind == token_kind::symbol && peek(1).text == "(")
        whole();
      s.group_by.push_back(group_by_key());
    } while (accept_symbol(","));
    if (rollup) {
      expect_symbol(")");
      if (at_symbol(","))
        whole();
    }
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

group_key parser::group_by_key() {
  group_key k;
  k.pos = peek().pos;
  auto e = expression();
  if (e->kind == expr_kind::column) {
    k.name = e->name;
    k.qualifier = e->qualifier;
    k.pos = e->pos;
  } else {
    k.written = std::move(e);
  }
  return k;
}

std::int64_t parser::parse_integer(const token& t) {
  std::int64_t v = 0;
  for (char c : t.text) {
    if (v > (std::numeric_limits<std::int64_t>::max() - (c - '0')) / 10)
      throw sql_error(t.pos, "the number " + t.text + " is too large (at most 2^63 - 1)");
    v = v * 10 + (c - '0');
  }
  return v;
}

} // namespace detail

std::vector<select_stmt> parse_main(std::string_view source) {
  return detail::parser{source}.main_program();
}

std::vector<expr_ptr> parse_quality(std::string_view source) {
  return detail::parser{source}.quality_program();
}

} // namespace joconde::engines::sql
