// Type, scale and range checking of one expression (the overflow proof of every node).

#include "joconde/engines/sql/checker.hpp"

#include <algorithm>
#include <optional>

namespace joconde::engines::sql {

bool number(const expr& e) {
  return e.type.kind == value_kind::number;
}

int128 sat_mul(int128 a, int128 b) {
  const int128 cap = int128{1} << 100;
  int128 ma = a < 0 ? -a : a;
  int128 mb = b < 0 ? -b : b;
  if (ma != 0 && mb > cap / ma)
    return (a < 0) != (b < 0) ? -cap : cap;
  return a * b;
}

namespace {

using i128 = int128;

bool literal(const expr& e) {
  return e.kind == expr_kind::literal;
}

i128 factor_of(const expr& e, std::size_t i) {
  return static_cast<i128>(static_cast<std::int64_t>(e.factors[i]));
}

interval scaled(const interval& r, i128 f) {
  return interval{r.lo * f, r.hi * f, r.bounded};
}

std::string name_of(const expr& e) {
  return e.qualifier.empty() ? e.name : e.qualifier + "." + e.name;
}

std::string op_word(binary_op op) {
  switch (op) {
    case binary_op::add: return "add";
    case binary_op::sub: return "subtract";
    case binary_op::mul: return "multiply";
    case binary_op::div: return "divide";
    default: return "compare";
  }
}

/// Replaces a text literal compared with a category by the category's code.
void to_code(expr& text, const value_type& category) {
  const auto& dom = *category.domain;
  auto it = std::find(dom.begin(), dom.end(), text.name);
  if (it == dom.end()) {
    auto near = closest(text.name, dom);
    auto hint = near.empty() ? std::string{"; check the spelling against the schema"}
                             : " (did you mean '" + near + "'?)";
    throw sql_error(text.pos, "'" + text.name
                                + "' is not one of the declared values of this category" + hint);
  }
  auto code = static_cast<std::int64_t>(it - dom.begin());
  text.type = category;
  text.number = code;
  text.range = interval{code, code, true};
}

void refuse_wide_operand(const expr& e, std::string_view source) {
  for (const auto& a : e.args)
    if (a->wide)
      throw sql_error(a->pos, quote(*a, source) + ": " + a->wide_refusal + ". Beyond the ring "
                                + a->name + " is computed in 128 bits, but only as a whole "
                                + "select item written to an integer or decimal output column, "
                                + "not inside " + quote(e, source));
}

/// Whether a divisor is positive wherever its group has rows: COUNT, or SUM of values declared
/// above 0 (so 0 only for a group without rows).
bool positive_where_rows(const expr& r) {
  if (r.kind != expr_kind::aggregate)
    return false;
  if (r.agg == kernels::aggregate::count)
    return true;
  return r.agg == kernels::aggregate::sum && r.args.size() == 1 && r.args[0]->range.bounded
         && r.args[0]->range.lo >= 1;
}

/// The x of SUM(x) / COUNT(*) (or COUNT(x)): a mean, the missing values of x counting as 0
/// beside COUNT(*); nullptr for other quotients.
const expr* mean_argument(const expr& l, const expr& r, std::string_view source) {
  if (r.kind != expr_kind::aggregate || r.agg != kernels::aggregate::count || r.distinct)
    return nullptr;
  if (!r.args.empty() && quote(*r.args[0], source) != quote(*l.args[0], source))
    return nullptr;
  return l.args[0].get();
}

/// SUM(x * w) / SUM(w) (or SUM(w * x)) for w >= 1 (positive_where_rows), and SUM(x) / COUNT(*):
/// a (weighted) mean of x, so within x's declared bounds (and 0 for a group without rows), in the
/// quotient's encoding (real value * 2^stat_frac), with a margin for the division protocol's
/// error; none for other divisions.
std::optional<interval> weighted_mean_range(const expr& l, const expr& r, std::string_view source) {
  if (l.kind != expr_kind::aggregate || l.agg != kernels::aggregate::sum || l.args.size() != 1
      || !positive_where_rows(r))
    return std::nullopt;
  const auto& p = *l.args[0];
  const expr* x = mean_argument(l, r, source);
  if (x == nullptr && r.agg == kernels::aggregate::sum && p.kind == expr_kind::binary && p.op == binary_op::mul) {
    const auto w = quote(*r.args[0], source);
    x = quote(*p.args[1], source) == w   ? p.args[0].get()
        : quote(*p.args[0], source) == w ? p.args[1].get()
                                         : nullptr;
  }
  if (x == nullptr || x->type.bin != 0 || !x->range.bounded || x->type.dec < 0 || x->type.dec > 18)
    return std::nullopt;
  const i128 one = i128{1} << kernels::stat_frac;
  const i128 unit = pow10(x->type.dec);
  auto lo = std::min<i128>(x->range.lo, 0) * one / unit;
  auto hi = std::max<i128>(x->range.hi, 0) * one / unit;
  const auto margin = std::max(-lo, hi) / (i128{1} << 28) + 3;
  return interval{lo - margin, hi + margin, true};
}

void check_arithmetic(expr& e, const scope& sc) {
  auto& l = *e.args[0];
  auto& r = *e.args[1];
  if (!number(l) || !number(r))
    throw sql_error(e.op_pos, "cannot " + op_word(e.op) + " " + describe(l.type) + " and "
                                + describe(r.type) + ": arithmetic needs numbers");
  if (!l.range.bounded || !r.range.bounded)
    refuse_unbounded(e, sc.source);
  if (e.op == binary_op::mul) {
    e.factors.assign(2, 1);
    e.type = value_type{};
    e.type.integral = l.type.integral && r.type.integral;
    e.type.dec = l.type.dec + r.type.dec;
    e.type.bin = l.type.bin + r.type.bin;
    i128 c[] = {l.range.lo * r.range.lo, l.range.lo * r.range.hi, l.range.hi * r.range.lo,
                l.range.hi * r.range.hi};
    e.range = interval{*std::min_element(c, c + 4), *std::max_element(c, c + 4), true};
    prove(e, e.range, sc.source);
    return;
  }
  auto common = align(e, {0, 1});
  auto a = scaled(l.range, factor_of(e, 0));
  auto b = scaled(r.range, factor_of(e, 1));
  prove(l, a, sc.source);
  prove(r, b, sc.source);
  e.type = common;
  if (e.op == binary_op::add) {
    e.range = interval{a.lo + b.lo, a.hi + b.hi, true};
  } else if (e.op == binary_op::sub) {
    e.range = interval{a.lo - b.hi, a.hi - b.lo, true};
  } else {
    if (b.lo <= 0 && positive_where_rows(r)) {
      // 0 only for a group without rows: the division counts it as one unit there (evaluate.cpp).
      e.empty_as_one = true;
      b.lo = std::max<i128>(b.lo, factor_of(e, 1));
    }
    if (b.lo <= 0)
      throw sql_error(r.pos, "divisor " + quote(r, sc.source)
                               + " may be zero or negative; declare a RANGE above 0"
                               + (columns_of(r).empty() ? std::string{}
                                                        : " for " + either(columns_of(r)))
                               + " (a COUNT, or a SUM of values declared above 0, may divide: it is "
                                 "0 only where a group has no rows)");
    if (b.hi >= (i128{1} << 48))
      throw sql_error(r.pos, "divisor " + quote(r, sc.source) + " may reach "
                               + format_bound(b.hi)
                               + ", beyond the 2^48 the division protocol accepts; declare a "
                                 "tighter RANGE");
    const i128 one = i128{1} << kernels::stat_frac;
    i128 q[] = {a.lo * one / b.lo, a.lo * one / b.hi, a.hi * one / b.lo, a.hi * one / b.hi};
    e.type = value_type{};
    e.type.bin = static_cast<int>(kernels::stat_frac);
    e.range = interval{*std::min_element(q, q + 4) - 1, *std::max_element(q, q + 4) + 1, true};
    if (auto mean = weighted_mean_range(l, r, sc.source))
      e.range = interval{std::max(e.range.lo, mean->lo), std::min(e.range.hi, mean->hi), true};
  }
  prove(e, e.range, sc.source);
}

void check_comparison(expr& e, const scope& sc) {
  auto& l = *e.args[0];
  auto& r = *e.args[1];
  bool equality = e.op == binary_op::eq || e.op == binary_op::ne;
  e.factors.assign(2, 1);
  e.type = value_type{};
  e.type.kind = value_kind::boolean;
  e.range = interval{0, 1, true};
  if (l.type.kind == value_kind::text && r.type.kind == value_kind::category)
    to_code(l, r.type);
  if (r.type.kind == value_kind::text && l.type.kind == value_kind::category)
    to_code(r, l.type);
  auto lk = l.type.kind;
  auto rk = r.type.kind;
  if (lk == value_kind::text || rk == value_kind::text)
    throw sql_error(lk == value_kind::text ? l.pos : r.pos,
                    "a 'text' literal can only be compared with a category column");
  if (lk == value_kind::category && rk == value_kind::category) {
    if (!equality)
      throw sql_error(e.op_pos, "categories can only be compared with =, <> and IN, not ordered");
    if (*l.type.domain != *r.type.domain)
      throw sql_error(e.op_pos, "cannot compare categories with different declared values");
    return;
  }
  if (lk == value_kind::boolean && rk == value_kind::boolean) {
    if (!equality)
      throw sql_error(e.op_pos, "booleans can only be compared with = and <>");
    return;
  }
  if (lk != value_kind::number || rk != value_kind::number)
    throw sql_error(e.op_pos, "cannot compare " + describe(l.type) + " with " + describe(r.type));
  align(e, {0, 1});
  prove_comparison(e, {0, 1}, sc.source);
}

void check_logic(expr& e) {
  for (auto& a : e.args)
    if (a->type.kind != value_kind::boolean)
      throw sql_error(a->pos, std::string{e.kind == expr_kind::logic_not ? "NOT"
                                          : e.op == binary_op::logic_and ? "AND"
                                                                         : "OR"}
                                + " needs conditions (booleans), but this is " + describe(a->type));
  e.type = value_type{};
  e.type.kind = value_kind::boolean;
  e.range = interval{0, 1, true};
}

void check_in_list(expr& e, const scope& sc) {
  auto& x = *e.args[0];
  e.type = value_type{};
  e.type.kind = value_kind::boolean;
  e.range = interval{0, 1, true};
  e.factors.assign(e.args.size(), 1);
  std::vector<i128> values;
  if (x.type.kind == value_kind::category) {
    for (std::size_t i = 1; i < e.args.size(); ++i) {
      if (e.args[i]->type.kind != value_kind::text)
        throw sql_error(e.args[i]->pos, "IN compares a category with 'text' values of its "
                                          "domain, but this constant is "
                                          + describe(e.args[i]->type));
      to_code(*e.args[i], x.type);
      values.push_back(e.args[i]->number);
    }
  } else if (x.type.kind == value_kind::boolean || x.type.kind == value_kind::number) {
    for (std::size_t i = 1; i < e.args.size(); ++i)
      if (e.args[i]->type.kind != x.type.kind)
        throw sql_error(e.args[i]->pos, "IN compares a value of type " + describe(x.type)
                                          + " with constants of that type, but this constant is "
                                          + describe(e.args[i]->type));
    if (x.type.kind == value_kind::number) {
      std::vector<std::size_t> idx(e.args.size());
      for (std::size_t i = 0; i < idx.size(); ++i)
        idx[i] = i;
      align(e, idx);
      prove_comparison(e, idx, sc.source);
    }
    for (std::size_t i = 1; i < e.args.size(); ++i)
      values.push_back(e.args[i]->number * factor_of(e, i));
  } else {
    throw sql_error(e.op_pos,
                    "IN needs a number, boolean or category value, not " + describe(x.type));
  }
  for (auto v : values) {
    auto w = static_cast<word>(static_cast<std::int64_t>(v));
    if (std::find(e.codes.begin(), e.codes.end(), w) == e.codes.end())
      e.codes.push_back(w);
  }
}

void check_between(expr& e, const scope& sc) {
  for (auto& a : e.args)
    if (!number(*a))
      throw sql_error(a->pos, "BETWEEN compares numbers; this is " + describe(a->type)
                                + (a->type.kind == value_kind::category
                                     ? " (categories can only be compared with =, <> and IN)"
                                     : ""));
  align(e, {0, 1, 2});
  prove_comparison(e, {0, 1, 2}, sc.source);
  e.type = value_type{};
  e.type.kind = value_kind::boolean;
  e.range = interval{0, 1, true};
}

void check_column(expr& e, const scope& sc, bool in_aggregate) {
  const column_schema* col = nullptr;
  e.column = resolve(sc, e.qualifier, e.name, e.pos, col);
  if (col->type == column_type::key)
    throw sql_error(e.pos, "`" + name_of(e) + "` is a key column: keys can only be used in "
                                              "JOIN ... ON, and counted with COUNT(DISTINCT " + name_of(e) + ")");
  const group_key* key = nullptr;  // the GROUP BY key `e` is, read at the group level
  if (sc.aggregated && !in_aggregate) {
    if (sc.group_by != nullptr)
      for (const auto& g : *sc.group_by)
        if (g.value == nullptr && g.column == e.column)
          key = &g;
    if (key == nullptr)
      throw sql_error(e.pos, sc.clause == "CHECK"
                               ? "`" + name_of(e) + "` is a row value in a CHECK that also "
                                 "aggregates; write the row condition as a separate CHECK"
                               : "`" + name_of(e) + "` is neither in GROUP BY nor inside an "
                                 "aggregate; group by it or aggregate it (e.g. SUM(" + name_of(e)
                                   + "))");
  }
  e.type = value_type{};
  e.range = interval{};
  switch (col->type) {
    case column_type::integer:
    case column_type::decimal:
      e.type.integral = col->type == column_type::integer;
      e.type.dec = col->type == column_type::decimal ? static_cast<int>(col->scale) : 0;
      e.range.bounded = col->min.has_value() && col->max.has_value();
      if (e.range.bounded)
        e.range = interval{*col->min, *col->max, true};
      break;
    case column_type::boolean:
      e.type.kind = value_kind::boolean;
      e.range = interval{0, 1, true};
      break;
    case column_type::category:
      e.type.kind = value_kind::category;
      e.type.domain = &col->domain;
      e.range = interval{0, static_cast<i128>(col->domain.size()) - 1, true};
      break;
    case column_type::key: break;
  }
  if (key != nullptr)
    rolled_type(e, *key);
  e.nullable = col->nullable && key == nullptr
               && std::find(sc.kept_present.begin(), sc.kept_present.end(), e.column) == sc.kept_present.end();
}

} // namespace

value_type align(expr& e, const std::vector<std::size_t>& idx) {
  e.factors.assign(e.args.size(), 1);
  value_type common;
  common.kind = value_kind::number;
  common.integral = true;
  common.dec = -1000;
  common.bin = -1000;
  for (auto i : idx) {
    common.dec = std::max(common.dec, e.args[i]->type.dec);
    common.bin = std::max(common.bin, e.args[i]->type.bin);
    common.integral = common.integral && e.args[i]->type.integral;
  }
  for (auto i : idx) {
    const auto& a = *e.args[i];
    e.factors[i] = scale_factor(a, a.type.dec, a.type.bin, common.dec, common.bin);
  }
  return common;
}

void prove_comparison(expr& e, const std::vector<std::size_t>& idx, std::string_view source) {
  bool any_unbounded = false;
  for (auto i : idx)
    any_unbounded = any_unbounded || !e.args[i]->range.bounded;
  for (auto i : idx) {
    auto& a = *e.args[i];
    if (!a.range.bounded) {
      bool others_constant = true;
      for (auto j : idx)
        others_constant = others_constant && (j == i || literal(*e.args[j]));
      if (!others_constant || e.factors[i] != 1)
        refuse_unbounded(e, source);
      continue;
    }
    if (any_unbounded && !literal(a))
      refuse_unbounded(e, source);
    prove(a, scaled(a.range, factor_of(e, i)), source);
  }
}

/// ROUND(x, d): x rounded half away from zero to d decimals, exactly (the conversion of an output
/// column, §3.1 of docs/task-language.md); x itself where it has no more than d decimals.
void check_round(expr& e, const scope& sc) {
  auto& x = *e.args[0];
  if (!number(x))
    throw sql_error(x.pos, "ROUND needs a number, but " + quote(x, sc.source) + " is " + describe(x.type));
  if (!x.range.bounded)
    refuse_unbounded(e, sc.source);
  const int d = static_cast<int>(e.number);
  if (x.type.bin == 0 && x.type.dec <= d) {
    e.type = x.type;
    e.range = x.range;
    return;
  }
  e.rounding = decimal_conversion(x, x.type, x.range, d, sc.source);
  e.type = value_type{};
  e.type.dec = d;
  e.type.integral = d == 0;
  // The rounded bounds: the value's own, scaled to 10^-d units, a unit of margin each way.
  const int128 den = x.type.bin > 0 ? int128{1} << x.type.bin : 1;
  const int128 num = x.type.bin < 0 ? int128{1} << -x.type.bin : 1;
  const int k = d - x.type.dec;
  auto scaled = [&](int128 v) {
    auto a = v * num;
    auto b = den;
    if (k >= 0)
      a *= pow10(k);
    else
      b *= pow10(-k);
    return a / b;
  };
  e.range = interval{scaled(x.range.lo) - 1, scaled(x.range.hi) + 1, true};
  prove(e, e.range, sc.source);
}

void check_expr(expr& e, const scope& sc, bool in_aggregate) {
  if (!in_aggregate && group_value(e, sc))
    return;
  if (e.kind == expr_kind::aggregate) {
    check_aggregate(e, sc, in_aggregate);
    return;
  }
  for (auto& a : e.args)
    check_expr(*a, sc, in_aggregate);
  refuse_wide_operand(e, sc.source);
  e.factors.assign(e.args.size(), 1);
  switch (e.kind) {
    case expr_kind::literal:
      e.range = interval{e.number, e.number, true};
      if (number(e))
        prove(e, e.range, sc.source);
      break;
    case expr_kind::column: check_column(e, sc, in_aggregate); break;
    case expr_kind::negate: {
      auto& a = *e.args[0];
      if (!number(a))
        throw sql_error(e.pos,
                        "cannot negate " + describe(a.type) + ": unary minus needs a number");
      if (!a.range.bounded)
        refuse_unbounded(e, sc.source);
      e.type = a.type;
      e.range = interval{-a.range.hi, -a.range.lo, true};
      break;
    }
    case expr_kind::logic_not: check_logic(e); break;
    case expr_kind::binary:
      switch (e.op) {
        case binary_op::add:
        case binary_op::sub:
        case binary_op::mul:
        case binary_op::div: check_arithmetic(e, sc); break;
        case binary_op::logic_and:
        case binary_op::logic_or: check_logic(e); break;
        default: check_comparison(e, sc); break;
      }
      break;
    case expr_kind::between: check_between(e, sc); break;
    case expr_kind::in_list: check_in_list(e, sc); break;
    case expr_kind::case_when: check_case(e, sc); break;
    case expr_kind::round: check_round(e, sc); break;
    case expr_kind::width_bucket: check_width_bucket(e, sc); break;
    case expr_kind::is_null: check_is_null(e); break;
    case expr_kind::aggregate: break;
  }
  mark_nullable(e, sc.source);
}

bool has_aggregate(const expr& e) {
  if (e.kind == expr_kind::aggregate)
    return true;
  return std::any_of(e.args.begin(), e.args.end(),
                     [](const expr_ptr& a) { return has_aggregate(*a); });
}

void collect_aggregates(const expr& e, std::vector<const expr*>& out) {
  if (e.kind == expr_kind::aggregate) {
    out.push_back(&e);
    return;
  }
  for (const auto& a : e.args)
    collect_aggregates(*a, out);
}

} // namespace joconde::engines::sql
