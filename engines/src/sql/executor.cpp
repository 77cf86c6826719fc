// sql::run: checks the inputs against the schemas, runs the data-quality checks, then every
// INSERT ... SELECT of the main algorithm, obliviously (WHERE and HAVING only clear valid flags).

#include "joconde/engines/sql/executor.hpp"

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/secret_ops.hpp"
#include "joconde/engines/sql/checker.hpp"
#include "joconde/engines/sql/evaluate.hpp"

#include <algorithm>
#include <optional>

namespace joconde::engines::sql {

namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw engine_failure(fail(errc::invalid_state, message));
}

void check_inputs(const program_impl& p, const std::map<std::string, secret_table>& inputs,
                  const std::string& only) {
  for (const auto& schema : p.inputs) {
    if (!only.empty() && schema.name != only)
      continue;
    auto it = inputs.find(schema.name);
    if (it == inputs.end())
      invalid("input `" + schema.name + "` is missing; every input of the program must be given");
    const auto& t = it->second;
    if (t.columns.size() != schema.columns.size())
      invalid("input `" + schema.name + "` has " + std::to_string(t.columns.size())
              + " columns, its schema declares " + std::to_string(schema.columns.size()));
    if (t.rows > schema.max_rows)
      invalid("input `" + schema.name + "` has " + std::to_string(t.rows)
              + " rows, more than the " + std::to_string(schema.max_rows) + " its schema allows");
    auto fits = [&](const secret& s) {
      return s.a.size() == t.rows && (s.b.empty() || s.b.size() == t.rows);
    };
    for (std::size_t i = 0; i < t.columns.size(); ++i)
      if (!fits(t.columns[i]))
        invalid("column `" + schema.columns[i].name + "` of input `" + schema.name + "` has "
                + std::to_string(t.columns[i].size()) + " values for " + std::to_string(t.rows)
                + " rows");
  }
}

/// The secret 0/1 verdict of one input's checks: 1 if every check holds.
secret run_quality(backend& b, const quality_program& q, const secret_table& t) {
  auto bad = b.constant(0, 1);
  for (const auto& c : q.checks) {
    std::vector<const expr*> aggs;
    collect_aggregates(*c, aggs);
    if (aggs.empty()) {
      frame rows;
      rows.n = t.rows;
      rows.columns = &t.columns;
      // Every input row counts, so the rows failing the check number n - sum(holds) (local). As in
      // SQL, a check fails only where it is false: where it is unknown (a missing value), it holds.
      auto holds = evaluate(b, *c, rows);
      auto known = presence(b, *c, rows);
      bad = b.add(bad, known ? b.sub(b.sum(*known), b.sum(holds))
                             : b.sub(b.constant(static_cast<word>(t.rows), 1), b.sum(holds)));
      continue;
    }
    auto results = run_aggregates(b, aggs, t.columns, t.rows, std::nullopt);
    frame once;
    once.n = 1;
    once.aggregates = &results;
    bad = b.add(bad, logical_not(b, evaluate(b, *c, once)));
  }
  return b.eq(bad, b.constant(0, 1));
}

/// The rows of the FROM input followed by those of each UNION ALL input, every row valid
/// (local: the shares are concatenated).
secret_table united(backend& b, const select_stmt& s,
                    const std::map<std::string, secret_table>& in) {
  std::vector<const secret_table*> parts{&in.at(s.from)};
  for (const auto& u : s.unions)
    parts.push_back(&in.at(u.name));
  secret_table t;
  for (const auto* p : parts)
    t.rows += p->rows;
  for (std::size_t j = 0; j < parts[0]->columns.size(); ++j) {
    std::vector<const secret*> column;
    for (const auto* p : parts)
      column.push_back(&p->columns[j]);
    t.columns.push_back(concat(column));
  }
  t.valid = b.constant(1, t.rows);
  return t;
}

/// The number of columns of the statement's (joined) row: the FROM input's (or the union's), then
/// each joined input's.
std::size_t row_width(const select_stmt& s, const std::map<std::string, secret_table>& in) {
  auto width = in.at(s.from).columns.size();
  for (const auto& j : s.joins)
    width += in.at(j.name).columns.size();
  return width;
}

/// The tables of `s` before its join step `k`, for messages: "`a`", "`a` UNION ALL `b`", "`a`
/// and `b`".
std::string tables_before(const select_stmt& s, std::size_t k) {
  std::string out = "`" + s.from + "`";
  for (const auto& u : s.unions)
    out += " UNION ALL `" + u.name + "`";
  for (std::size_t i = 0; i < k; ++i)
    out += (i + 1 == k ? " and `" : ", `") + s.joins[i].name + "`";
  return out;
}

/// Marks the columns of the (joined) row that `e` reads; at the group level (`grouped`) a GROUP BY
/// expression's value is read from its key, not from the row.
void mark_columns(const expr& e, std::vector<bool>& used, bool grouped = false) {
  if (grouped && e.group_key)
    return;
  if (e.kind == expr_kind::column)
    used.at(e.column) = true;
  for (const auto& a : e.args)
    mark_columns(*a, used, grouped);
}

/// The columns of the statement's (joined) row that it reads: in its select list, WHERE, GROUP BY,
/// the dominance rule and join keys. The others are not carried through joins and sorts (they stay
/// empty).
std::vector<bool> columns_read(const select_stmt& s, std::size_t width) {
  std::vector<bool> used(width, false);
  for (const auto& item : s.items)
    mark_columns(*item.value, used, s.aggregated);
  if (s.where)
    mark_columns(*s.where, used);
  for (const auto& g : s.group_by) {
    if (g.value != nullptr)
      mark_columns(*g.value, used);
    else
      used.at(g.column) = true;
  }
  if (s.dominance)
    mark_columns(*s.dominance->value, used);
  for (const auto& j : s.joins) {
    used.at(j.left.column) = true;
    used.at(j.offset + j.right.column) = true;
  }
  return used;
}

/// `t` with only its columns j whose used[offset + j] is set, in order (and its valid flags, if
/// any); `from` gets their indices in `t`.
secret_table read_columns(const secret_table& t, const std::vector<bool>& used, std::size_t offset,
                          std::vector<std::size_t>& from) {
  secret_table out;
  out.rows = t.rows;
  out.valid = t.valid;
  from.clear();
  for (std::size_t j = 0; j < t.columns.size(); ++j)
    if (used[offset + j]) {
      from.push_back(j);
      out.columns.push_back(t.columns[j]);
    }
  return out;
}

/// The index of column `column` of a table among those `from` kept.
std::size_t kept_index(const std::vector<std::size_t>& from, std::size_t column) {
  return static_cast<std::size_t>(std::find(from.begin(), from.end(), column) - from.begin());
}

/// A row of `width` columns holding `columns` at their places `from`; the others stay empty (the
/// statement does not read them).
std::vector<secret> spread(std::vector<secret>& columns, const std::vector<std::size_t>& from, std::size_t width) {
  std::vector<secret> row(width);
  for (std::size_t i = 0; i < from.size(); ++i)
    row[from[i]] = std::move(columns[i]);
  return row;
}

/// The FROM input (or the union) joined with each JOIN input in turn by kernels::join_many, every
/// row of an input valid; the rows of each step's many side, shuffled, with the columns in
/// statement order. Only the columns the statement reads travel through the joins: the others are
/// empty in the result.
secret_table joined(backend& b, const select_stmt& s, const std::map<std::string, secret_table>& in,
                    const std::vector<bool>& used) {
  std::vector<std::size_t> acc_from;
  secret_table acc;
  if (s.unions.empty()) {
    acc = read_columns(in.at(s.from), used, 0, acc_from);
    acc.valid = b.constant(1, acc.rows);
  } else {
    acc = read_columns(united(b, s, in), used, 0, acc_from);
  }
  for (std::size_t k = 0; k < s.joins.size(); ++k) {
    const auto& j = s.joins[k];
    std::vector<std::size_t> input_from;
    auto input = read_columns(in.at(j.name), used, j.offset, input_from);
    input.valid = b.constant(1, input.rows);  // every uploaded row counts
    const auto left_key = kept_index(acc_from, j.left.column);
    const auto right_key = kept_index(input_from, j.right.column);
    bool keys_ok = false;
    auto out = j.many_is_left
                 ? kernels::join_many(b, acc, left_key, input, right_key, j.one_to_one, keys_ok, j.key_bits)
                 : kernels::join_many(b, input, right_key, acc, left_key, j.one_to_one, keys_ok, j.key_bits);
    if (!keys_ok) {
      const std::string left = "`" + j.left_table + "." + j.left.name + "`";
      const std::string right = "`" + j.name + "." + j.right.name + "`";
      const auto what = j.one_to_one ? "the join keys " + left + " and " + right + " are not both unique among their rows"
                        : j.many_is_left ? "the join key " + right + " is not unique among the rows of `" + j.name + "`"
                                         : "the join key " + left + " is not unique among the rows of `" + j.left_table + "`";
      invalid(what + ", so the join of " + tables_before(s, k) + " with `" + j.name
              + "` cannot run; deduplicate the data (the custodian's node refuses such a file at upload) or "
                "aggregate it first");
    }
    if (!j.many_is_left)
      std::rotate(out.columns.begin(), out.columns.begin() + static_cast<std::ptrdiff_t>(input.columns.size()),
                  out.columns.end());
    for (auto c : input_from)
      acc_from.push_back(j.offset + c);
    acc = std::move(out);
  }
  acc.columns = spread(acc.columns, acc_from, used.size());
  return acc;
}

/// The group columns of an aggregated select: for each GROUP BY key, its value in each of the
/// s.groups groups (mixed radix, the first key most significant), as public constants, at the
/// key's place (an expression key's after the row's columns).
std::map<std::size_t, secret> group_codes(backend& b, const select_stmt& s) {
  std::map<std::size_t, secret> out;
  std::size_t stride = s.groups;
  for (std::size_t i = 0; i < s.group_by.size(); ++i) {
    const auto& values = s.group_by[i].values;
    stride /= s.group_sizes[i];
    std::vector<word> codes(s.groups);
    for (std::size_t g = 0; g < s.groups; ++g) {
      const auto code = (g / stride) % s.group_sizes[i];
      codes[g] = values.empty() ? static_cast<word>(code) + static_cast<word>(s.group_lows[i])
                                : static_cast<word>(values[code]);
    }
    out[s.group_by[i].column] = b.constant(codes);
  }
  return out;
}

/// Zeroes every column of the rows whose valid flag is 0, in one batch: an output must not carry
/// the values of filtered rows, non-matching join rows or suppressed small groups.
void clear_invalid(backend& b, secret_table& t) {
  if (t.columns.empty() || t.rows == 0)
    return;
  secret values;
  secret flags;
  for (const auto& c : t.columns) {
    values.a.insert(values.a.end(), c.a.begin(), c.a.end());
    values.b.insert(values.b.end(), c.b.begin(), c.b.end());
    flags.a.insert(flags.a.end(), t.valid.a.begin(), t.valid.a.end());
    flags.b.insert(flags.b.end(), t.valid.b.begin(), t.valid.b.end());
  }
  auto masked = b.mul(values, flags);
  for (std::size_t j = 0; j < t.columns.size(); ++j) {
    auto from = static_cast<std::ptrdiff_t>(j * t.rows);
    auto to = static_cast<std::ptrdiff_t>((j + 1) * t.rows);
    t.columns[j].a.assign(masked.a.begin() + from, masked.a.begin() + to);
    if (!masked.b.empty())
      t.columns[j].b.assign(masked.b.begin() + from, masked.b.begin() + to);
  }
}

/// The rows a select writes, before ORDER BY ... LIMIT.
secret_table select_rows(backend& b, const select_stmt& s, const std::map<std::string, secret_table>& inputs) {
  // An input is used in place (every row valid, publicly); a union makes a new table whose rows
  // are all valid, and only a join one whose valid flags are secret.
  secret_table combined;
  const auto used = columns_read(s, row_width(s, inputs));
  if (!s.joins.empty())
    combined = joined(b, s, inputs, used);
  else if (!s.unions.empty())
    combined = united(b, s, inputs);
  const bool in_place = s.joins.empty() && s.unions.empty();
  const secret_table& table = in_place ? inputs.at(s.from) : combined;
  frame rows;
  rows.n = table.rows;
  rows.columns = &table.columns;
  std::optional<secret> where;  // nullopt: every row passes, publicly
  if (!s.joins.empty())
    where = table.valid;
  if (s.where)
    where = where ? b.mul(*where, evaluate(b, *s.where, rows)) : evaluate(b, *s.where, rows);
  secret_table out;
  if (!s.aggregated) {
    auto filter = where ? std::move(*where) : b.constant(1, table.rows);
    for (const auto& item : s.items)
      out.columns.push_back(convert(b, evaluate(b, *item.value, rows), item.convert));
    out.valid = std::move(filter);
    out.rows = table.rows;
    clear_invalid(b, out);
    return out;
  }
  const std::size_t groups = s.groups;
  std::optional<secret> masks = where;
  std::optional<kernels::sorted_groups> sorted;
  std::optional<kernels::grouping> by;
  const std::vector<secret>* columns = &table.columns;  // what aggregate arguments are made of
  std::size_t rows_in = table.rows;
  std::map<std::size_t, secret> group_columns;
  std::optional<secret_table> rolled;  // GROUP BY ROLLUP: the rows once per level of margins
  if (!s.group_by.empty()) {
    auto filter = where ? std::move(*where) : b.constant(1, table.rows);
    std::vector<secret> code;  // each key's code per row
    for (std::size_t i = 0; i < s.group_by.size(); ++i)
      code.push_back(group_key_code(b, s, table, i));
    secret combined;
    if (s.rollup && !s.rollup_spans) {
      // The masks compare each copy with its level's groups; the sort needs each copy's group.
      if (s.sorted_grouping)
        combined = rollup_copy_codes(b, s, code);
      else
        masks = rollup_masks(b, s, code, filter);
      rolled = rollup_rows(s, table, used, filter);
      filter = rolled->valid;
      // The aggregates and HAVING's rules read the copies (and not what WHERE found of the rows).
      rows.n = rolled->rows;
      rows.columns = &rolled->columns;
      rows.present.clear();
      rows.filled.clear();
      columns = &rolled->columns;
      rows_in = rolled->rows;
    } else {
      combined = code[0];
      for (std::size_t i = 1; i < s.group_by.size(); ++i)
        combined = b.add(b.mul_public(combined, static_cast<word>(s.group_sizes[i])), code[i]);
    }
    const secret_table& source = rolled ? *rolled : table;
    if (s.sorted_grouping) {
      // The rows sorted by group, anchors included: aggregate arguments are row expressions, so
      // they are evaluated over the sorted rows.
      // Only the columns the statement reads are sorted; the others stay empty.
      std::vector<std::size_t> from;
      auto read = read_columns(source, used, 0, from);
      // ROLLUP by spans: the rows sorted once by cell (`combined` is then the cell code); every
      // group's sums are those of its run of cells.
      std::size_t codes = groups;
      if (s.rollup_spans) {
        codes = 1;
        for (auto size : s.group_sizes)
          codes *= size;
      }
      sorted = kernels::sort_by_group(b, combined, codes, filter, read.columns);
      if (s.rollup_spans)
        sorted->spans = rollup_spans(s);
      sorted->columns = spread(sorted->columns, from, source.columns.size());
      columns = &sorted->columns;
      rows_in = sorted->rows();
      by.emplace(*sorted);
    } else {
      if (!s.rollup)
        masks = kernels::group_masks(b, combined, groups, filter);
      by.emplace(*masks, groups);
    }
    group_columns = s.rollup ? rollup_group_codes(b, s) : group_codes(b, s);
  } else if (masks) {
    by.emplace(*masks, 1);
  }
  auto results = run_aggregates(b, s.aggregates, *columns, rows_in, by);
  frame per_group;
  per_group.n = groups;
  per_group.group_columns = &group_columns;
  per_group.aggregates = &results;
  for (const auto& item : s.items) {
    auto value = evaluate(b, *item.value, per_group);
    if (item.value->wide) {
      // Three words per row, the high one first (program::output_words).
      for (std::size_t k = 0; k < wide_words; ++k)
        out.columns.push_back(slice(value, k * groups, groups));
      continue;
    }
    out.columns.push_back(convert(b, value, item.convert));
  }
  out.rows = groups;
  if (s.group_by.empty() && !s.has_having) {
    out.valid = b.constant(1, 1);
    return out;
  }
  // Rows per group: a COUNT(*) of the select list has them already (over sorted groups another
  // count would cost a shuffle); n (public) when every row counts.
  auto counted = std::find_if(s.aggregates.begin(), s.aggregates.end(),
                              [](const expr* e) {
                                return e->agg == kernels::aggregate::count && !e->distinct
                                       && (e->args.empty() || !e->args[0]->nullable);  // COUNT(x) skips missing x
                              });
  auto counts = counted != s.aggregates.end() ? results.at(*counted)
                : by                          ? kernels::count(b, *by)
                                              : b.constant(static_cast<word>(table.rows), groups);
  out.valid = b.lt(b.constant(0, groups), counts);
  if (s.has_having) {
    // The rules withhold, they do not drop: every group with rows is a row, as without them
    // (program::confidentiality), and their verdict is one more column, the published codes.
    // A withheld group keeps its group columns; its values are zeroed.
    auto verdict = having_rules(b, s, counts, masks, rows);
    if (s.rollup)
      secondary_suppression(b, s, counts, out.valid, verdict);
    secret_table values;
    values.rows = groups;
    values.valid = std::move(verdict.published);
    std::vector<std::size_t> masked;
    for (std::size_t i = 0, at = 0; i < s.items.size(); ++i) {
      const std::size_t words = s.items[i].value->wide ? wide_words : 1;
      for (std::size_t k = 0; k < words && has_aggregate(*s.items[i].value); ++k) {
        masked.push_back(at + k);
        values.columns.push_back(std::move(out.columns[at + k]));
      }
      at += words;
    }
    clear_invalid(b, values);
    for (std::size_t j = 0; j < masked.size(); ++j)
      out.columns[masked[j]] = std::move(values.columns[j]);
    out.columns.push_back(std::move(verdict.code));
  }
  clear_invalid(b, out);
  return out;
}

secret_table run_select(backend& b, const select_stmt& s, const std::map<std::string, secret_table>& inputs) {
  auto out = select_rows(b, s, inputs);
  keep_first(b, s, out);
  return out;
}

} // namespace

secret group_key_code(backend& b, const select_stmt& s, const secret_table& t, std::size_t i) {
  if (s.group_by[i].value != nullptr) {
    frame rows;
    rows.n = t.rows;
    rows.columns = &t.columns;
    return group_code(b, s.group_by[i], rows);
  }
  const auto& column = t.columns[s.group_by[i].column];
  return s.group_lows[i] == 0 ? column : b.add_public(column, word{0} - static_cast<word>(s.group_lows[i]));
}

run_result run(const program& prog, backend& b, const std::map<std::string, secret_table>& inputs,
               const run_scope& scope) {
  const auto& p = prog.impl();
  check_inputs(p, inputs, scope.check_only);
  run_result res;
  std::vector<const quality_program*> checks;
  std::vector<secret> verdicts;
  for (const auto& q : p.quality)
    if ((scope.check_only.empty() || q.input == scope.check_only) && scope.checked.count(q.input) == 0) {
      checks.push_back(&q);
      verdicts.push_back(run_quality(b, q, inputs.at(q.input)));
    }
  bool all_passed = true;
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    auto bit = b.reveal(verdicts[i]);
    bool passed = bit.size() == 1 && bit[0] == 1;
    res.quality[checks[i]->input] = passed;
    all_passed = all_passed && passed;
  }
  if (!all_passed || !scope.check_only.empty())
    return res;
  for (const auto& s : p.statements)
    res.outputs[s.output] = run_select(b, s, inputs);
  return res;
}

} // namespace joconde::engines::sql
