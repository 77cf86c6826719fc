// Statement-level checks of joconde-sql/1: table and column names, unions, grouping, HAVING, the
// match between each select list and its output schema, and the data-quality programs (joins are in
// join_check.cpp).

#include "joconde/engines/sql/checker.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace joconde::engines::sql {

namespace {

/// The most elements (groups x rows) one-hot group masks may have: 2^25 words per share vector,
/// 512 MiB per party for the two of rss3.
constexpr std::uint64_t max_mask_elements = std::uint64_t{1} << 25;

std::vector<std::string> table_names(const std::vector<table_schema>& tables) {
  std::vector<std::string> out;
  for (const auto& t : tables)
    out.push_back(t.name);
  return out;
}

position end_position(std::string_view source) {
  position p;
  for (auto c : source) {
    if (c == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  p.offset = source.size();
  return p;
}

/// A column's type as the schema declares it ("integer", "decimal(2)", "category").
std::string declared_type(const column_schema& c) {
  return std::string{to_string(c.type)}
         + (c.type == column_type::decimal ? "(" + std::to_string(c.scale) + ")" : "");
}

/// How an aggregate is computed in limbs (kernels::wide_sum, ...) for `col`: the output's power of
/// ten becomes the kernel's mul or div (set in `e` with the argument's bits), and
/// check_wide_range must accept it. Returns why not, or nothing.
std::optional<std::string> plan_in_limbs(expr& e, const column_schema& col, const value_type& t,
                                         std::uint64_t max_rows) {
  const auto& x = *e.args[0];
  if (col.type != column_type::integer && col.type != column_type::decimal)
    return "beyond the ring it is computed in 128 bits, and then only into an integer or decimal "
           "output column, not " + declared_type(col);
  const bool two = e.args.size() == 2;
  if (x.type.bin != 0 || (two && e.args[1]->type.bin != 0) || !x.range.bounded
      || (two && !e.args[1]->range.bounded))
    return "beyond the ring only statistics of integers and decimals are computed (in 128 bits), "
           "and its argument is a fixed-point value; declare tighter RANGEs or lower max_rows";
  if (col.type == column_type::integer
      && (e.agg != kernels::aggregate::sum || !t.integral || t.dec != 0))
    return "write it to a decimal column";
  // The kernels scale by 10^e10: the output's decimals over the value's (the variance's are
  // twice the argument's; the standard deviation's kernel scales its variance, by the square).
  const bool root = e.agg == kernels::aggregate::stddev_samp || e.agg == kernels::aggregate::stddev_pop;
  const bool covariance = e.agg == kernels::aggregate::covar_samp || e.agg == kernels::aggregate::covar_pop;
  int e10 = static_cast<int>(col.type == column_type::decimal ? col.scale : 0) - t.dec;
  if (root)
    e10 *= 2;
  if (e10 < 0 && two && !covariance)
    return "beyond the ring " + e.name + " is written with at least its value's " + std::to_string(t.dec)
           + " decimals; declare the output column with more";
  if (e10 > 9 || e10 < -9)
    return std::string{"its output has "} + (root ? "5" : "10")
           + " or more decimals more or fewer than the value; choose a closer scale";
  const auto factor = static_cast<word>(static_cast<std::int64_t>(pow10(e10 < 0 ? -e10 : e10)));
  e.wide_mul = e10 > 0 ? factor : 1;
  e.wide_div = e10 < 0 ? factor : 1;
  auto bits_of = [](const expr& a) {
    return static_cast<unsigned>(std::bit_width(static_cast<std::uint64_t>(max_abs(a.range))));
  };
  e.wide_bits = bits_of(x);
  const auto& y = two ? *e.args[1] : x;
  e.wide_bits2 = bits_of(y);
  auto ok = kernels::check_wide_range(e.agg, max_rows, static_cast<std::int64_t>(x.range.lo),
                                      static_cast<std::int64_t>(x.range.hi), e.wide_mul, e.wide_div,
                                      static_cast<std::int64_t>(y.range.lo), static_cast<std::int64_t>(y.range.hi));
  if (!ok)
    return "in 128 bits: " + ok.err().message;
  return std::nullopt;
}

/// An aggregate beyond the ring written to `col`: computed in limbs, or refused saying both reasons.
void check_wide_output(expr& e, const column_schema& col, const value_type& t, std::uint64_t max_rows,
                       std::string_view source) {
  if (auto why = plan_in_limbs(e, col, t, max_rows))
    throw sql_error(e.pos, quote(e, source) + ": " + e.wide_refusal + "; " + *why);
}

/// A moment (VAR_*, STDDEV_*, COVAR_*, CORR, REGR_*) of integers or decimals written whole to a
/// decimal column, where the ring holds it: computed exactly in limbs as beyond the ring and
/// rounded once to the output's units (e.exact_stat), one word. Else (false) its fixed-point form,
/// converted like any value.
bool exact_statistic(expr& e, const column_schema& col, std::uint64_t max_rows) {
  using kernels::aggregate;
  if (e.kind != expr_kind::aggregate || col.type != column_type::decimal)
    return false;
  switch (e.agg) {
    case aggregate::var_samp:
    case aggregate::var_pop:
    case aggregate::stddev_samp:
    case aggregate::stddev_pop:
    case aggregate::covar_samp:
    case aggregate::covar_pop:
    case aggregate::corr:
    case aggregate::regr_slope:
    case aggregate::regr_intercept:
    case aggregate::regr_r2: break;
    default: return false;
  }
  // The largest value written, in the output's units, must stay inside the ring.
  const int e10 = static_cast<int>(col.scale) - e.type.dec;
  if (e10 > 9 || e10 < -9)
    return false;
  const auto top = (max_abs(e.range) >> kernels::stat_frac) + 1;
  const auto written = e10 >= 0 ? sat_mul(top, pow10(e10)) : top / pow10(-e10) + 1;
  if (written >= ring_limit || plan_in_limbs(e, col, e.type, max_rows))
    return false;
  e.exact_stat = true;
  return true;
}

/// AVG of integers or decimals written whole to a decimal column: exactly, rounded half away from
/// zero in the output's units, where kernels::check_avg_rounded accepts (else its fixed-point
/// form, converted like any value).
bool exact_average(expr& e, const column_schema& col, std::uint64_t max_rows) {
  if (e.kind != expr_kind::aggregate || e.agg != kernels::aggregate::avg || col.type != column_type::decimal)
    return false;
  const auto& x = *e.args[0];
  if (x.type.bin != 0 || !x.range.bounded)
    return false;
  const int e10 = static_cast<int>(col.scale) - x.type.dec;
  if (e10 > 9 || e10 < -9)
    return false;
  const auto factor = static_cast<word>(static_cast<std::int64_t>(pow10(e10 < 0 ? -e10 : e10)));
  const word mul = e10 > 0 ? factor : 1;
  const word div = e10 < 0 ? factor : 1;
  if (!kernels::check_avg_rounded(max_rows, static_cast<std::int64_t>(x.range.lo),
                                  static_cast<std::int64_t>(x.range.hi), mul, div))
    return false;
  e.exact_avg = true;
  e.wide_mul = mul;
  e.wide_div = div;
  return true;
}

/// x / y of two exact numbers (whole or decimal, none missing) written whole to a decimal(t)
/// column: both aligned to one scale (X, Y), the quotient is X 10^t / Y rounded half away from
/// zero, exactly (e.exact_div), where |X| 10^t stays inside the ring. Else (false) its fixed-point
/// form, converted like any value.
bool exact_quotient(expr& e, const column_schema& col) {
  if (e.kind != expr_kind::binary || e.op != binary_op::div || col.type != column_type::decimal)
    return false;
  const auto& x = *e.args[0];
  const auto& y = *e.args[1];
  if (x.type.bin != 0 || y.type.bin != 0 || x.nullable || y.nullable || col.scale > 18)
    return false;
  const auto unit = pow10(static_cast<int>(col.scale));
  const auto top = sat_mul(sat_mul(max_abs(x.range), e.factors.empty() ? 1 : static_cast<int128>(e.factors[0])), unit);
  if (top >= ring_limit)
    return false;
  e.exact_div = true;
  e.wide_mul = static_cast<word>(unit);
  e.wide_div = 1;
  return true;
}

void check_output_match(select_item& item, const column_schema& col, const table_schema& out,
                        std::uint64_t max_rows, std::string_view source) {
  const auto& e = *item.value;
  const auto& t = e.type;
  auto target = declared_type(col);
  auto mismatch = [&](const std::string& hint) {
    throw sql_error(e.pos, "output column `" + col.name + "` of `" + out.name + "` is " + target
                             + ", but " + quote(e, source) + " is " + describe(t) + hint);
  };
  if (e.wide) {
    check_wide_output(*item.value, col, t, max_rows, source);
    return;
  }
  switch (col.type) {
    case column_type::integer:
      if (t.kind != value_kind::number || !t.integral || t.dec != 0 || t.bin != 0)
        mismatch(t.kind == value_kind::number ? "; write it to a decimal column" : "");
      break;
    case column_type::decimal:
      if (t.kind != value_kind::number)
        mismatch("");
      if (exact_average(*item.value, col, max_rows) || exact_statistic(*item.value, col, max_rows)
          || exact_quotient(*item.value, col))
        break;  // already in the output's units
      item.convert = decimal_conversion(e, t, e.range, static_cast<int>(col.scale), source);
      break;
    case column_type::boolean:
      if (t.kind != value_kind::boolean)
        mismatch("");
      break;
    case column_type::category:
      if (t.kind != value_kind::category)
        mismatch("");
      if (*t.domain != col.domain) {
        std::string values;
        for (const auto& v : *t.domain)
          values += (values.empty() ? "'" : ", '") + v + "'";
        mismatch(" with other declared values; the output must declare the same values in the same order: ("
                 + values + ")"
                 + (!t.domain->empty() && t.domain->back() == rollup_total
                      ? ", `_T` last: what a GROUP BY ROLLUP margin writes for the keys it adds over"
                      : ""));
      }
      break;
    case column_type::key:
      throw sql_error(e.pos, "output column `" + col.name + "` of `" + out.name
                               + "` is a key, and keys cannot be written; declare it as another "
                                 "type");
  }
}

/// A category's declared values for messages ("{North, South}").
std::string values_of(const column_schema& c) {
  std::string out = "{";
  for (std::size_t i = 0; i < c.domain.size(); ++i)
    out += (i == 0 ? "" : ", ") + c.domain[i];
  return out + "}";
}

/// Throws at `pos` unless `other` has the columns of `first`: same names, order, types, scales and
/// category values.
void check_same_columns(const table_schema& first, const table_schema& other, position pos) {
  const std::string rule = "; every input of a UNION ALL needs the same columns in the same "
                           "order, with the same types, decimals and category values";
  if (other.columns.size() != first.columns.size())
    throw sql_error(pos, "`" + other.name + "` has " + std::to_string(other.columns.size())
                           + " columns but `" + first.name + "` has "
                           + std::to_string(first.columns.size()) + rule);
  for (std::size_t i = 0; i < first.columns.size(); ++i) {
    const auto& a = first.columns[i];
    const auto& b = other.columns[i];
    auto at = "column " + std::to_string(i + 1) + " of `" + other.name + "` ";
    if (b.name != a.name)
      throw sql_error(pos, at + "is `" + b.name + "` but column " + std::to_string(i + 1) + " of `"
                             + first.name + "` is `" + a.name + "`" + rule);
    if (b.type != a.type || (a.type == column_type::decimal && b.scale != a.scale))
      throw sql_error(pos, at + "`" + b.name + "` is " + declared_type(b) + " but in `"
                             + first.name + "` it is " + declared_type(a) + rule);
    if (b.domain != a.domain)
      throw sql_error(pos, at + "`" + b.name + "` declares the values " + values_of(b)
                             + " but in `" + first.name + "` it declares " + values_of(a) + rule);
  }
}

/// Checks the UNION ALL inputs of `s` and builds the united schema: the FROM input's columns with
/// each range widened to the hull of the inputs' ranges (unbounded if any is), and the summed
/// row bound.
void check_union(select_stmt& s, const program_impl& prog) {
  const auto& first = prog.inputs[s.from_index];
  s.united = first;
  for (std::size_t k = 0; k < s.unions.size(); ++k) {
    auto& u = s.unions[k];
    u.index = find_table(prog.inputs, u.name, u.pos, "input");
    if (const auto* earlier = named_before(s, u.index, k, 0))
      throw sql_error(u.pos, "`" + u.name + "` is already in this UNION ALL (at "
                               + where_str(*earlier) + "); unite distinct inputs, each once");
    const auto& other = prog.inputs[u.index];
    check_same_columns(first, other, u.pos);
    for (std::size_t i = 0; i < other.columns.size(); ++i) {
      auto& c = s.united.columns[i];
      const auto& o = other.columns[i];
      c.nullable = c.nullable || o.nullable;  // missing in any input: may be missing in the union
      if (!c.min || !c.max || !o.min || !o.max) {
        c.min.reset();
        c.max.reset();
        continue;
      }
      c.min = std::min(*c.min, *o.min);
      c.max = std::max(*c.max, *o.max);
    }
    s.united.max_rows += other.max_rows;
  }
}

/// Resolves the statement's FROM, UNION and JOIN inputs into `sc` and sets its row bound.
void bind_sources(select_stmt& s, program_impl& prog, scope& sc) {
  sc.tables.push_back(scope_table{&prog.inputs[s.from_index], 0});
  s.max_rows = prog.inputs[s.from_index].max_rows;
  if (!s.unions.empty()) {
    check_union(s, prog);
    sc.tables[0].schema = &s.united;
    for (const auto& u : s.unions)
      sc.united.push_back(u.name);
    s.max_rows = s.united.max_rows;
  }
  check_joins(s, prog, sc);
  sc.max_rows = s.max_rows;
}

/// Chooses how the groups of `s` are formed (docs/task-language.md, "Grouping"): one-hot masks
/// cost (G - 1) n equality tests and G n words per summed column; the sort about 1.4 (n + G)
/// log2(n + G) comparisons, whatever G. Masks are kept where they are cheaper and fit in
/// max_mask_elements; MIN, MAX, MEDIAN, the percentiles and the dominance rule need them (at most
/// 4096 groups).
void choose_grouping(select_stmt& s) {
  if (s.group_by.empty())
    return;
  // ROLLUP groups every row once per level of margins.
  const double n = static_cast<double>(s.max_rows) * static_cast<double>(s.rollup ? s.group_by.size() + 1 : 1);
  const double g = static_cast<double>(s.groups);
  // ROLLUP's masks compare each level's copy with that level's groups only (rollup_masks).
  double masks = (g - 1) * n;
  if (s.rollup) {
    masks = 0;
    double level = 1;
    for (std::size_t l = 0; l <= s.group_by.size(); ++l) {
      masks += (level - 1) * static_cast<double>(s.max_rows);
      if (l < s.group_by.size())
        level *= static_cast<double>(s.group_sizes[l]);
    }
  }
  // ROLLUP sorted: the rows once by cell, the margins runs of cells (sorted_groups::spans), unless
  // COUNT(DISTINCT x), which needs the rows once per level (a value may repeat across cells).
  const bool distinct = std::any_of(s.aggregates.begin(), s.aggregates.end(), [](const expr* e) { return e->distinct; });
  double sorted_n = n;
  double sorted_g = g;
  if (s.rollup && !distinct) {
    sorted_n = static_cast<double>(s.max_rows);
    sorted_g = 1;
    for (auto size : s.group_sizes)
      sorted_g *= static_cast<double>(size);
  }
  const double sort = 1.4 * (sorted_n + sorted_g) * std::log2(sorted_n + sorted_g + 1);
  const bool masks_fit = g * n <= static_cast<double>(max_mask_elements);
  s.sorted_grouping = !masks_fit || masks > sort;
  s.rollup_spans = s.rollup && !distinct && s.sorted_grouping;
  const bool extremum = std::any_of(s.aggregates.begin(), s.aggregates.end(), [](const expr* e) {
    return e->agg == kernels::aggregate::min || e->agg == kernels::aggregate::max
           || e->agg == kernels::aggregate::median || e->agg == kernels::aggregate::percentile_cont
           || e->agg == kernels::aggregate::percentile_disc;
  });
  if (!s.sorted_grouping || (!extremum && !s.dominance))
    return;
  if ((s.groups > 4096 || !masks_fit) && !extremum)
    throw sql_error(s.dominance->pos,
                    "DOMINANCE needs one-hot group masks, at most 4096 groups and " + std::to_string(max_mask_elements)
                      + " (groups x rows), but this GROUP BY gives " + std::to_string(s.groups)
                      + " groups over up to " + std::to_string(static_cast<std::uint64_t>(n))
                      + " rows; group by fewer values, or apply the rule to a coarser table");
  if (s.groups > 4096 || !masks_fit)
    throw sql_error(s.group_by.front().pos,
                    "MIN, MAX, MEDIAN, PERCENTILE_CONT and PERCENTILE_DISC need one-hot group masks, at most 4096 "
                    "groups and "
                      + std::to_string(max_mask_elements) + " (groups x rows), but this GROUP BY gives "
                      + std::to_string(s.groups) + " groups over up to " + std::to_string(static_cast<std::uint64_t>(n))
                      + " rows; group by fewer values for them");
  s.sorted_grouping = false;
}

/// Checks the select list against the output table: count, order, names, types and rows.
void check_output(select_stmt& s, const table_schema& out, std::string_view source) {
  if (s.items.size() != out.columns.size())
    throw sql_error(s.items.size() > out.columns.size() ? s.items[out.columns.size()].value->pos
                                                         : s.pos,
                    "`" + out.name + "` has " + std::to_string(out.columns.size()) + " column"
                      + (out.columns.size() == 1 ? "" : "s") + " but the select list gives "
                      + std::to_string(s.items.size()));
  for (std::size_t i = 0; i < s.items.size(); ++i) {
    auto& item = s.items[i];
    const auto& col = out.columns[i];
    auto name = item_name(item);
    if (name.empty())
      throw sql_error(item.value->pos, "name this select item with AS " + col.name
                                         + " (column " + std::to_string(i + 1) + " of `"
                                         + out.name + "`)");
    if (name != col.name)
      throw sql_error(item.alias.empty() ? item.value->pos : item.alias_pos,
                      "column " + std::to_string(i + 1) + " of `" + out.name + "` is `" + col.name
                        + "`, but this select item is named `" + name
                        + "`; write the columns in the output's order and names");
    check_output_match(item, col, out, s.max_rows, source);
  }
  std::uint64_t rows = s.aggregated ? s.groups : s.max_rows;
  if (s.limit != 0 && s.limit < rows) {
    if (s.limit > out.max_rows)
      throw sql_error(s.limit_pos, "LIMIT " + std::to_string(s.limit) + " may write " + std::to_string(s.limit)
                                     + " rows but `" + out.name + "` declares at most "
                                     + std::to_string(out.max_rows) + "; lower the LIMIT");
    rows = s.limit;
  }
  if (rows > out.max_rows)
    throw sql_error(s.output_pos, "this select may write " + std::to_string(rows) + " rows but `"
                                    + out.name + "` declares at most "
                                    + std::to_string(out.max_rows));
}

void check_statement(select_stmt& s, program_impl& prog, std::string_view source) {
  s.output_index = find_table(prog.outputs, s.output, s.output_pos, "output");
  s.from_index = find_table(prog.inputs, s.from, s.from_pos, "input");
  scope sc;
  sc.source = source;
  bind_sources(s, prog, sc);
  if (s.where) {
    sc.clause = "WHERE";
    check_expr(*s.where, sc, false);
    if (s.where->type.kind != value_kind::boolean)
      throw sql_error(s.where->pos, "WHERE needs a condition (boolean), but "
                                      + quote(*s.where, source) + " is "
                                      + describe(s.where->type));
  }
  check_group_by(s, sc);
  bool any_aggregate = std::any_of(s.items.begin(), s.items.end(),
                                   [](const select_item& i) { return has_aggregate(*i.value); });
  if (s.has_having && s.group_by.empty() && !any_aggregate)
    throw sql_error(s.having_pos, "HAVING needs GROUP BY or an aggregate in the select list");
  s.aggregated = any_aggregate || !s.group_by.empty();
  sc.aggregated = s.aggregated;
  sc.group_by = &s.group_by;
  sc.clause = "the select list";
  if (!s.aggregated && s.where)
    sc.kept_present = required_present(*s.where);  // rows only: aggregates read every row
  for (auto& item : s.items) {
    check_expr(*item.value, sc, false);
    if (!s.aggregated)
      refuse_nullable(*item.value, source, "a row of `" + s.output + "`",
                      "keep only the rows that have it (WHERE " + quote(*item.value, source)
                        + " IS NOT NULL), or aggregate it (aggregates skip missing values)");
  }
  for (const auto& item : s.items)
    collect_aggregates(*item.value, s.aggregates);
  check_dominance(s, sc);
  choose_grouping(s);
  check_output(s, prog.outputs[s.output_index], source);
  if (s.rollup && !s.order_by.empty())
    throw sql_error(s.order_pos, "ORDER BY ... LIMIT cannot cut a GROUP BY ROLLUP table: its margins are sums of its "
                                 "cells, and the secondary suppression needs them all; write the ranking as a "
                                 "select of its own");
  check_order(s, sc, prog.outputs[s.output_index], source);
}

} // namespace

std::string item_name(const select_item& item) {
  if (!item.alias.empty())
    return item.alias;
  if (item.value->kind == expr_kind::column)
    return item.value->name;
  return {};
}

std::string suggestion(const std::string& wrong, const std::vector<std::string>& names) {
  auto near = closest(wrong, names);
  return near.empty() ? std::string{} : " (did you mean `" + near + "`?)";
}

std::string listing(const std::vector<std::string>& names) {
  std::vector<std::string> quoted;
  for (const auto& n : names)
    quoted.push_back("`" + n + "`");
  if (quoted.empty())
    return "none";
  std::string out;
  for (std::size_t i = 0; i < quoted.size(); ++i)
    out += (i == 0 ? "" : i + 1 == quoted.size() ? " and " : ", ") + quoted[i];
  return out;
}

std::size_t find_table(const std::vector<table_schema>& tables, const std::string& name,
                       position pos, const char* what) {
  for (std::size_t i = 0; i < tables.size(); ++i)
    if (tables[i].name == name)
      return i;
  throw sql_error(pos, std::string{"unknown "} + what + " `" + name + "`"
                         + suggestion(name, table_names(tables)) + "; the " + what + "s are "
                         + listing(table_names(tables)));
}

std::string where_str(position p) {
  return std::to_string(p.line) + ":" + std::to_string(p.column);
}

const position* named_before(const select_stmt& s, std::size_t input, std::size_t unions, std::size_t joins) {
  if (s.from_index == input)
    return &s.from_pos;
  for (std::size_t k = 0; k < unions; ++k)
    if (s.unions[k].index == input)
      return &s.unions[k].pos;
  for (std::size_t k = 0; k < joins; ++k)
    if (s.joins[k].index == input)
      return &s.joins[k].pos;
  return nullptr;
}

std::size_t resolve(const scope& sc, const std::string& qualifier, const std::string& name,
                    position pos, const column_schema*& col) {
  std::vector<std::string> all;
  for (const auto& t : sc.tables)
    for (const auto& c : t.schema->columns)
      all.push_back(c.name);
  if (!qualifier.empty()) {
    for (const auto& t : sc.tables) {
      if (t.schema->name != qualifier)
        continue;
      col = t.schema->find(name);
      if (col == nullptr) {
        std::vector<std::string> names;
        for (const auto& c : t.schema->columns)
          names.push_back(c.name);
        throw sql_error(pos, "`" + qualifier + "` has no column `" + name + "`"
                               + suggestion(name, names));
      }
      return t.offset + static_cast<std::size_t>(col - t.schema->columns.data());
    }
    if (std::find(sc.united.begin(), sc.united.end(), qualifier) != sc.united.end())
      throw sql_error(pos, "the columns of a UNION ALL belong to the united table: write `" + name
                             + "` or `" + sc.tables[0].schema->name + "." + name + "`, not `"
                             + qualifier + "." + name + "`");
    std::vector<std::string> names;
    for (const auto& t : sc.tables)
      names.push_back(t.schema->name);
    throw sql_error(pos, "unknown table `" + qualifier + "`" + suggestion(qualifier, names)
                           + "; the tables here are " + listing(names));
  }
  std::size_t found = 0;
  std::size_t index = 0;
  std::vector<std::string> owners;
  for (const auto& t : sc.tables)
    if (const auto* c = t.schema->find(name)) {
      ++found;
      col = c;
      index = t.offset + static_cast<std::size_t>(c - t.schema->columns.data());
      owners.push_back(t.schema->name + "." + name);
    }
  if (found > 1)
    throw sql_error(pos, "`" + name + "` is ambiguous: qualify it as `" + owners[0] + "` or `"
                           + owners[1] + "`");
  if (found == 0) {
    std::string tables;
    for (std::size_t i = 0; i < sc.tables.size(); ++i)
      tables += (i == 0 ? "`" : " or `") + sc.tables[i].schema->name + "`";
    throw sql_error(pos, "unknown column `" + name + "` in " + tables + suggestion(name, all));
  }
  return index;
}

void check_main(program_impl& prog, std::string_view source) {
  std::vector<const select_stmt*> writer(prog.outputs.size(), nullptr);
  for (auto& s : prog.statements) {
    check_statement(s, prog, source);
    if (const auto* first = writer[s.output_index])
      throw sql_error(s.output_pos, "`" + s.output + "` is written twice (first at "
                                      + where_str(first->output_pos)
                                      + "); write each output exactly once");
    writer[s.output_index] = &s;
  }
  for (std::size_t i = 0; i < writer.size(); ++i)
    if (writer[i] == nullptr)
      throw sql_error(end_position(source), "output `" + prog.outputs[i].name
                                              + "` is never written; add INSERT INTO "
                                              + prog.outputs[i].name + " SELECT ... ;");
}

void check_quality(const program_impl& prog, quality_program& q, std::string_view source) {
  scope sc;
  sc.source = source;
  sc.tables.push_back(scope_table{&prog.inputs[q.input_index], 0});
  sc.max_rows = prog.inputs[q.input_index].max_rows;
  sc.clause = "CHECK";
  for (auto& c : q.checks) {
    sc.aggregated = has_aggregate(*c);
    check_expr(*c, sc, false);
    if (c->type.kind != value_kind::boolean)
      throw sql_error(c->pos, "CHECK needs a condition (boolean), but " + quote(*c, source) + " is "
                                + describe(c->type));
  }
}

} // namespace joconde::engines::sql
