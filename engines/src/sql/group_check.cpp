// The GROUP BY keys of joconde-sql/1 (docs/task-language.md §4.1): every key has a set of values
// known before the data, so that the groups, and the output's rows, depend on the schemas alone.
// A key is a category column, an integer column with a declared RANGE, or an expression with such
// a set: a CASE whose results are constants (a recoding into bands or coarser categories) or
// WIDTH_BUCKET (a histogram), written out or named by its select item's AS name.

#include "joconde/engines/sql/checker.hpp"

#include <algorithm>
#include <tuple>

namespace joconde::engines::sql {

namespace {

/// What GROUP BY accepts, for the refusals.
constexpr const char* accepted = "GROUP BY takes category columns, integer columns with a declared RANGE, a CASE "
                                 "whose results are constants ('text' or whole numbers) and WIDTH_BUCKET(x, low, "
                                 "high, n)";

/// Whether two nodes, not yet checked, are written alike: the same operators, functions, columns
/// (qualified alike) and constants. A select item repeating a GROUP BY expression is its key.
bool written_alike(const expr& a, const expr& b) {
  if (a.kind != b.kind || a.args.size() != b.args.size() || a.name != b.name || a.qualifier != b.qualifier
      || a.number != b.number || a.type.kind != b.type.kind || a.type.dec != b.type.dec || a.op != b.op
      || a.negated != b.negated || a.has_else != b.has_else || a.distinct != b.distinct || a.agg != b.agg
      || a.fraction != b.fraction || a.fraction_dec != b.fraction_dec)
    return false;
  for (std::size_t i = 0; i < a.args.size(); ++i)
    if (!written_alike(*a.args[i], *b.args[i]))
      return false;
  return true;
}

bool keyable(const expr& e) {
  return e.kind == expr_kind::case_when || e.kind == expr_kind::width_bucket;
}

/// The domain of GROUP BY column `col`: its size and the encoded value of code 0. Categories have
/// their declared values; integers with a declared RANGE of at most max_sorted_groups values have
/// the range.
std::pair<std::size_t, std::int64_t> column_domain(const group_key& g, const column_schema& col) {
  if (col.type == column_type::category)
    return {col.domain.size(), 0};
  const auto most = kernels::max_sorted_groups;
  if (col.type == column_type::integer && col.min && col.max
      && static_cast<std::uint64_t>(*col.max) - static_cast<std::uint64_t>(*col.min) < most)
    return {static_cast<std::size_t>(static_cast<std::uint64_t>(*col.max) - static_cast<std::uint64_t>(*col.min)) + 1,
            *col.min};
  throw sql_error(g.pos, "GROUP BY needs a category column or an integer column with a declared RANGE of at most "
                           + std::to_string(most) + " values, but `" + g.name + "` is "
                           + std::string{to_string(col.type)}
                           + (col.type != column_type::integer ? std::string{}
                              : col.min && col.max ? " with a RANGE of more values"
                                                   : " without a declared RANGE")
                           + "; group by a category, declare the integer's RANGE, or group by bands of it: "
                             "WIDTH_BUCKET(" + g.name + ", low, high, n) or a CASE with constant results");
}

/// The size of expression key `g` once checked, and its codes: WIDTH_BUCKET's n + 2 values
/// 0..n+1; a CASE's distinct 'text' results (a category, in order of first appearance) or whole
/// numbers (in increasing order, with the implicit 0 of a CASE without ELSE).
std::size_t expression_domain(group_key& g, std::string_view source) {
  const auto& e = *g.value;
  if (e.kind == expr_kind::width_bucket)
    return static_cast<std::size_t>(e.bucket.count) + 2;
  std::vector<const expr*> results;
  for (std::size_t i = 1; i < e.args.size(); i += 2)
    results.push_back(e.args[i].get());
  if (e.has_else)
    results.push_back(e.args.back().get());
  for (const auto* r : results)
    if (r->kind != expr_kind::literal)
      throw sql_error(r->pos, "a CASE in GROUP BY needs constant results ('text' or whole numbers), so that its "
                              "groups are known before the data, but " + quote(*r, source)
                                + " is not a constant; give each WHEN a constant (THEN 'high') and keep the "
                                  "computed values for the aggregates (SUM(" + quote(*r, source) + "))");
  if (e.type.kind == value_kind::category) {
    for (const auto* r : results)
      g.codes.push_back(static_cast<word>(r->number));
    return e.domain.size();
  }
  if (e.type.kind != value_kind::number || !e.type.integral || e.type.dec != 0 || e.type.bin != 0)
    throw sql_error(e.pos, "a CASE in GROUP BY gives 'text' constants or whole numbers, but "
                             + quote(e, source) + " gives " + describe(e.type)
                             + " values; write its results as 'text' constants (THEN 'low') or whole numbers");
  for (const auto* r : results)
    g.values.push_back(r->number);
  if (!e.has_else)
    g.values.push_back(0);  // the rows no WHEN matches
  auto codes = g.values;
  std::sort(g.values.begin(), g.values.end());
  g.values.erase(std::unique(g.values.begin(), g.values.end()), g.values.end());
  for (auto v : codes)
    g.codes.push_back(static_cast<word>(std::lower_bound(g.values.begin(), g.values.end(), v) - g.values.begin()));
  return g.values.size();
}

/// The select item whose AS name is `g`'s unqualified name, or nullptr.
select_item* aliased(select_stmt& s, const group_key& g) {
  if (!g.qualifier.empty())
    return nullptr;
  for (auto& item : s.items)
    if (item.alias == g.name)
      return &item;
  return nullptr;
}

/// Whether an input of `sc` has a column called `name`.
bool input_column(const scope& sc, const std::string& name) {
  return std::any_of(sc.tables.begin(), sc.tables.end(),
                     [&](const scope_table& t) { return t.schema->find(name) != nullptr; });
}

/// The expression key `g` is, or nullptr for a column key (then g's name and qualifier are the
/// column's): the AS name of a select item that can be a key (a CASE, WIDTH_BUCKET or a column)
/// first, like ORDER BY's names, then an input column, else the refusal of the item.
expr* key_expression(select_stmt& s, group_key& g, const scope& sc) {
  const auto& source = sc.source;
  expr* e = g.written.get();
  if (e == nullptr) {
    auto* item = aliased(s, g);
    if (item == nullptr)
      return nullptr;
    const auto& v = *item->value;
    const bool key = !has_aggregate(v) && (keyable(v) || v.kind == expr_kind::column);
    if (!key && input_column(sc, g.name))
      return nullptr;
    e = item->value.get();
    if (has_aggregate(*e))
      throw sql_error(g.pos, "GROUP BY " + g.name + ": the select item `" + g.name + "` is " + quote(*e, source)
                               + ", an aggregate of the groups, not a value of the rows; " + accepted);
    if (e->kind == expr_kind::column) {
      g.name = e->name;
      g.qualifier = e->qualifier;
      return nullptr;
    }
  }
  if (e->kind == expr_kind::literal)
    throw sql_error(g.pos, "GROUP BY " + quote(*e, source) + ": groups are named, not numbered; write the column "
                             "or the AS name of the select item");
  if (!keyable(*e))
    throw sql_error(g.pos, "GROUP BY " + (g.written ? quote(*e, source) : g.name + " (" + quote(*e, source) + ")")
                             + ": its values are not known before the data; " + accepted
                             + ": group by bands of it, WIDTH_BUCKET(" + quote(*e, source)
                             + ", low, high, n) or CASE WHEN ... THEN 'band' ... END");
  return e;
}

/// Marks the nodes of `e` outside aggregates that are expression key `k` (the node itself, or
/// written alike) as its value: the group level reads them (expr::group_key).
void mark(expr& e, const expr& k, std::size_t column) {
  if (e.kind == expr_kind::aggregate)
    return;
  if (keyable(e) && (&e == &k || written_alike(e, k))) {
    e.group_key = true;
    e.column = column;
    return;
  }
  for (auto& a : e.args)
    mark(*a, k, column);
}

/// The keys of GROUP BY ROLLUP(...) of `s` (`exprs` as check_group_by found them): categories
/// (columns or CASEs with 'text' results) without a value `_T`, which a margin writes for the keys
/// it adds over; each gets its rolled values, and the groups are counted with the margins: S_L = 1,
/// S_i = d_i S_(i+1) + 1 for the keys' sizes d_i, S_0 in all (rollup_layout).
void check_rollup(select_stmt& s, const std::vector<expr*>& exprs, const scope& sc) {
  std::size_t groups = 1;
  for (std::size_t i = s.group_by.size(); i-- > 0;) {
    auto& g = s.group_by[i];
    const std::vector<std::string>* values = nullptr;
    std::string key;   // the key, for the messages
    std::string what;  // what it is
    if (exprs[i] == nullptr) {
      const column_schema* col = nullptr;
      resolve(sc, g.qualifier, g.name, g.pos, col);
      if (col->type == column_type::category)
        values = &col->domain;
      key = "`" + g.name + "`";
      what = key + " is " + std::string{to_string(col->type)};
    } else {
      if (exprs[i]->type.kind == value_kind::category)
        values = &exprs[i]->domain;
      key = "`" + quote(*exprs[i], sc.source) + "`";
      what = key + " gives " + describe(exprs[i]->type) + " values";
    }
    if (values == nullptr)
      throw sql_error(g.pos, "GROUP BY ROLLUP writes `" + std::string{rollup_total} + "` for the keys a margin adds "
                               "over, so its keys must be categories, but " + what + "; recode it as a category "
                               "with a CASE whose results are 'text' (CASE WHEN age < 30 THEN 'young' ... END)");
    if (std::find(values->begin(), values->end(), rollup_total) != values->end())
      throw sql_error(g.pos, key + " has a value `" + std::string{rollup_total} + "`, which GROUP BY ROLLUP writes "
                               "for a margin's total; rename that value");
    g.rolled = *values;
    g.rolled.emplace_back(rollup_total);
    const auto size = s.group_sizes[i];
    if (groups > (kernels::max_sorted_groups - 1) / size)
      throw sql_error(s.rollup_pos, "GROUP BY ROLLUP gives more than the " + std::to_string(kernels::max_sorted_groups)
                                      + " (2^20) groups allowed with its margins; roll up fewer or smaller keys");
    groups = size * groups + 1;
  }
  s.groups = groups;
}

} // namespace

void check_group_by(select_stmt& s, const scope& sc) {
  s.groups = 1;
  const auto& last = sc.tables.back();
  const auto width = last.offset + last.schema->columns.size();
  // What each key is, first: the select list and ORDER BY are matched with the keys as written.
  std::vector<expr*> exprs;
  for (auto& g : s.group_by)
    exprs.push_back(key_expression(s, g, sc));
  for (std::size_t i = 0; i < s.group_by.size(); ++i) {
    auto& g = s.group_by[i];
    for (std::size_t j = 0; j < i && exprs[i] != nullptr; ++j)
      if (exprs[j] != nullptr && (exprs[j] == exprs[i] || written_alike(*exprs[j], *exprs[i])))
        throw sql_error(g.pos, "`" + quote(*exprs[i], sc.source) + "` appears twice in GROUP BY (first at "
                                 + where_str(s.group_by[j].pos) + ")");
    if (exprs[i] == nullptr)
      continue;
    g.column = width + i;
    for (auto& item : s.items)
      mark(*item.value, *exprs[i], g.column);
    for (auto& key : s.order_by)
      mark(*key.value, *exprs[i], g.column);
  }
  scope rows = sc;
  rows.aggregated = false;
  rows.group_by = nullptr;
  rows.clause = "GROUP BY";
  for (std::size_t i = 0; i < s.group_by.size(); ++i) {
    auto& g = s.group_by[i];
    std::size_t size = 0;
    std::int64_t low = 0;
    if (exprs[i] == nullptr) {
      const column_schema* col = nullptr;
      g.column = resolve(sc, g.qualifier, g.name, g.pos, col);
      for (std::size_t j = 0; j < i; ++j)
        if (exprs[j] == nullptr && s.group_by[j].column == g.column)
          throw sql_error(g.pos, "`" + g.name + "` appears twice in GROUP BY");
      if (col->nullable)
        throw sql_error(g.pos, "GROUP BY `" + g.name + "`: it is declared NULL (its values may be missing), and a "
                                 "group needs a value; recode it with a CASE that names the missing ones (CASE WHEN "
                                 + g.name + " IS NULL THEN 'unknown' ...)");
      std::tie(size, low) = column_domain(g, *col);
    } else {
      check_expr(*exprs[i], rows, false);
      refuse_nullable(*exprs[i], sc.source, "GROUP BY", "recode the missing values with a CASE (WHEN ... IS NULL THEN ...)");
      g.value = exprs[i];
      size = expression_domain(g, sc.source);
    }
    s.group_sizes.push_back(size);
    s.group_lows.push_back(low);
    if (size > kernels::max_sorted_groups / s.groups)
      throw sql_error(g.pos, "GROUP BY gives " + std::to_string(static_cast<std::uint64_t>(s.groups) * size)
                               + " groups so far, more than the " + std::to_string(kernels::max_sorted_groups)
                               + " (2^20) allowed; group by fewer or smaller columns");
    s.groups *= size;
  }
  if (s.rollup)
    check_rollup(s, exprs, sc);
}

void rolled_type(expr& e, const group_key& g) {
  if (g.rolled.empty())
    return;
  e.type.domain = &g.rolled;
  e.range = interval{0, static_cast<i128>(g.rolled.size()) - 1, true};
}

bool group_value(expr& e, const scope& sc) {
  if (!e.group_key || !sc.aggregated || sc.group_by == nullptr)
    return false;
  for (const auto& g : *sc.group_by)
    if (g.value != nullptr && g.column == e.column) {
      if (&e != g.value) {
        e.type = g.value->type;
        e.range = g.value->range;
      }
      rolled_type(e, g);
      return true;
    }
  return false;
}

} // namespace joconde::engines::sql
