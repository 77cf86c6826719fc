// sql::compile: parses and checks the main algorithm and the data-quality programs, and states the
// program's features and disclosures.

#include "joconde/engines/sql/compiler.hpp"

#include "joconde/engines/sql/checker.hpp"

#include <algorithm>

namespace joconde::engines::sql {

namespace {

const char* aggregate_feature(kernels::aggregate a) {
  switch (a) {
    case kernels::aggregate::count: return "aggregate.count";
    case kernels::aggregate::sum: return "aggregate.sum";
    case kernels::aggregate::avg: return "aggregate.avg";
    case kernels::aggregate::min: return "aggregate.min";
    case kernels::aggregate::max: return "aggregate.max";
    case kernels::aggregate::median: return "aggregate.median";
    case kernels::aggregate::percentile_cont: return "aggregate.percentile_cont";
    case kernels::aggregate::percentile_disc: return "aggregate.percentile_disc";
    case kernels::aggregate::var_samp: return "aggregate.var_samp";
    case kernels::aggregate::stddev_samp: return "aggregate.stddev_samp";
    case kernels::aggregate::corr: return "aggregate.corr";
    case kernels::aggregate::regr_slope: return "aggregate.regr_slope";
    case kernels::aggregate::regr_intercept: return "aggregate.regr_intercept";
    case kernels::aggregate::var_pop: return "aggregate.var_pop";
    case kernels::aggregate::stddev_pop: return "aggregate.stddev_pop";
    case kernels::aggregate::covar_samp: return "aggregate.covar_samp";
    case kernels::aggregate::covar_pop: return "aggregate.covar_pop";
    case kernels::aggregate::regr_r2: return "aggregate.regr_r2";
  }
  return "aggregate.count";
}

void expr_features(const expr& e, std::vector<std::string>& used) {
  if (e.kind == expr_kind::case_when)
    used.emplace_back("case");
  if (e.kind == expr_kind::round)
    used.emplace_back("round");
  if (e.kind == expr_kind::binary && e.op == binary_op::div)
    used.emplace_back("division");
  if (e.kind == expr_kind::width_bucket)
    used.emplace_back("width_bucket");
  if (e.kind == expr_kind::is_null || (e.kind == expr_kind::column && e.nullable))
    used.emplace_back("null");
  if (e.kind == expr_kind::aggregate)
    used.emplace_back(e.distinct ? "aggregate.count_distinct" : aggregate_feature(e.agg));
  for (const auto& a : e.args)
    expr_features(*a, used);
}

std::vector<std::string> features_of(const program_impl& p) {
  std::vector<std::string> used{"select"};
  for (const auto& s : p.statements) {
    if (s.where) {
      used.emplace_back("where");
      expr_features(*s.where, used);
    }
    if (!s.group_by.empty())
      used.emplace_back("group_by");
    for (const auto& g : s.group_by) {
      if (g.value != nullptr)
        used.emplace_back("group_by.expression");
      if (g.written)
        expr_features(*g.written, used);
    }
    if (s.sorted_grouping)
      used.emplace_back("group_by.sorted");
    if (s.rollup)
      used.emplace_back("group_by.rollup");
    if (!s.joins.empty())
      used.emplace_back("join");
    if (std::any_of(s.joins.begin(), s.joins.end(), [](const join_step& j) { return !j.one_to_one; }))
      used.emplace_back("join.one_to_many");
    if (s.joins.size() > 1)
      used.emplace_back("join.several");
    if (!s.joins.empty() && !s.unions.empty())
      used.emplace_back("join.union");
    if (!s.unions.empty())
      used.emplace_back("union");
    if (s.has_having)
      used.emplace_back("having");
    if (s.dominance) {
      used.emplace_back("having.dominance");
      expr_features(*s.dominance->value, used);
    }
    if (!s.order_by.empty())
      used.emplace_back("order_by_limit");
    for (const auto& i : s.items) {
      expr_features(*i.value, used);
      if (i.value->wide)
        used.emplace_back("aggregate.wide");
    }
  }
  for (const auto& q : p.quality) {
    used.emplace_back("quality_check");
    for (const auto& c : q.checks)
      expr_features(*c, used);
  }
  std::vector<std::string> out;
  for (auto& f : all_features())
    if (std::find(used.begin(), used.end(), f) != used.end())
      out.push_back(f);
  return out;
}

/// What join step `j` reveals: whether the keys that must be unique are (the run stops if not).
/// A legacy one-to-one join keeps its words, which CTSCs already state.
std::string join_disclosure(const join_step& j) {
  const std::string left = "`" + j.left_table + "." + j.left.name + "`";
  const std::string right = "`" + j.name + "." + j.right.name + "`";
  const std::string revealed = " is revealed to the Computing Parties (the run stops if ";
  if (j.implicit)
    return "whether the join keys of `" + j.left_table + "` and of `" + j.name
           + "` are unique among their rows" + revealed + "they are not)";
  if (j.one_to_one)
    return "whether the join keys " + left + " and " + right + " are each unique among their rows" + revealed
           + "they are not)";
  const bool input_unique = j.many_is_left;
  const auto& unique_table = input_unique ? j.name : j.left_table;
  return "whether the join key " + (input_unique ? right : left) + " is unique among the rows of `" + unique_table
         + "`" + revealed + "it is not); how often " + (input_unique ? left : right) + " repeats a value is not";
}

/// What ORDER BY ... LIMIT k of `s` reveals: the row count only, which its inputs' sizes give.
std::string order_disclosure(const select_stmt& s) {
  std::string keys;
  for (const auto& k : s.order_by)
    keys += (keys.empty() ? "" : ", ") + k.text;
  const auto k = std::to_string(s.limit);
  return "`" + s.output + "` keeps the first " + k + " of the " + (s.aggregated ? "groups" : "rows")
         + " its select writes, by ORDER BY " + keys + " (equal keys in " + (s.aggregated ? "group" : "row")
         + " order): min(" + k + ", their number) rows, which the Computing Parties know; which "
         + (s.aggregated ? "groups" : "rows") + " are kept is not revealed to them";
}

/// What the dominance rule of `s` tells the analyst beyond the withheld cells: CONF_RULE names the
/// rule that withheld each one (docs/task-language.md §4.1).
std::string dominance_disclosure(const select_stmt& s) {
  const auto& d = *s.dominance;
  const auto share = (d.n == 1 ? std::string{"its largest value of "} + d.written + " makes up"
                               : "its " + std::to_string(d.n) + " largest values of " + d.written + " make up")
                     + " more than " + std::to_string(d.p) + " % of its total";
  if (s.having_min == 0)
    return "`" + s.output + "` marks each group withheld by " + d.text + " in CONF_RULE, so the analyst learns that "
           + share;
  return "`" + s.output + "` names in CONF_RULE the rule that withheld each group: HAVING COUNT(*) >= "
         + std::to_string(s.having_min) + " where it has fewer rows, else " + d.text
         + ", so of a group withheld by the latter the analyst learns that it has at least "
         + std::to_string(s.having_min) + " rows and that " + share;
}

std::vector<std::string> disclosures_of(const program_impl& p) {
  std::string names;
  for (std::size_t i = 0; i < p.inputs.size(); ++i)
    names += (i == 0 ? "`" : i + 1 == p.inputs.size() ? " and `" : ", `") + p.inputs[i].name + "`";
  std::vector<std::string> out{
    "the number of rows of every input (" + names
    + ") and the shape of the program (its operations, in order, and the number of rows each "
      "handles) are known to the Computing Parties"};
  for (const auto& s : p.statements)
    for (const auto& j : s.joins) {
      auto line = join_disclosure(j);
      if (std::find(out.begin(), out.end(), line) == out.end())
        out.push_back(std::move(line));
    }
  for (const auto& s : p.statements)
    if (!s.group_by.empty())
      out.push_back("`" + s.output + "` writes a row only for a group that has rows, so which of its groups "
                    "have none is revealed to the analyst");
  for (const auto& s : p.statements)
    if (!s.order_by.empty())
      out.push_back(order_disclosure(s));
  for (const auto& s : p.statements)
    if (s.dominance)
      out.push_back(dominance_disclosure(s));
  for (const auto& s : p.statements)
    if (s.rollup && s.has_having)
      out.push_back("`" + s.output + "` withholds, besides the cells its rules withhold, the cell of fewest rows "
                    "among the other cells of a margin where one cell alone would be withheld, so that no "
                    "withheld cell follows from its total (CONF_STATUS D); which cells those are tells the "
                    "analyst that they have the fewest rows there");
  for (const auto& q : p.quality)
    out.push_back("the data-quality check of `" + q.input
                  + "` reveals, for each upload of it, whether all its checks passed (one bit), to "
                    "the Computing Parties, the custodian who uploaded it and, in the task's events, "
                    "its peers");
  return out;
}

std::string at(position p, const std::string& message) {
  return std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + message;
}

} // namespace

const std::vector<table_schema>& program::inputs() const noexcept {
  return impl_->inputs;
}

const std::vector<table_schema>& program::outputs() const noexcept {
  return impl_->outputs;
}

const std::vector<std::string>& program::disclosures() const noexcept {
  return impl_->disclosures;
}

const std::vector<std::string>& program::features() const noexcept {
  return impl_->features;
}

std::vector<std::string> program::approximate_columns() const {
  std::vector<std::string> out;
  for (const auto& s : impl_->statements) {
    const auto schema = std::find_if(impl_->outputs.begin(), impl_->outputs.end(),
                                     [&](const table_schema& t) { return t.name == s.output; });
    for (std::size_t i = 0; i < s.items.size() && schema != impl_->outputs.end(); ++i) {
      const auto& e = *s.items[i].value;
      // A fixed point carries stat_frac fraction bits (a median's one bit is exact).
      const bool fixed = e.type.kind == value_kind::number && e.type.bin >= static_cast<int>(kernels::stat_frac);
      if (fixed && !e.wide && !e.exact_avg && !e.exact_stat && !e.exact_div)
        out.push_back(s.output + "." + schema->columns.at(i).name);
    }
  }
  return out;
}

std::vector<unsigned> program::output_words(std::string_view output) const {
  for (const auto& s : impl_->statements) {
    if (s.output != output)
      continue;
    std::vector<unsigned> words;
    for (const auto& item : s.items)
      words.push_back(item.value->wide ? wide_words : 1);
    return words;
  }
  return {};
}

output_flags program::confidentiality(std::string_view output) const {
  output_flags f;
  for (const auto& s : impl_->statements) {
    if (s.output != output || !s.has_having)
      continue;
    f.flagged = true;
    if (s.having_min > 0)
      f.rule = "HAVING COUNT(*) >= " + std::to_string(s.having_min);
    if (s.dominance)
      f.dominance_rule = s.dominance->text;
    if (s.rollup)
      f.secondary_rule = secondary_rule;
    for (const auto& item : s.items)
      f.shown.push_back(!has_aggregate(*item.value));
  }
  return f;
}

std::vector<std::string> program::unique_columns(std::string_view input) const {
  std::vector<bool> unique;
  const table_schema* schema = nullptr;
  for (const auto& t : impl_->inputs)
    if (t.name == input)
      schema = &t;
  if (schema == nullptr)
    return {};
  for (const auto& c : schema->columns)
    unique.push_back(c.unique);
  for (const auto& s : impl_->statements)
    for (const auto& j : s.joins) {
      if (!j.implicit)
        continue;
      if (j.left_table == input)
        unique[j.left_table_column] = true;
      if (j.name == input)
        unique[j.right.column] = true;
    }
  std::vector<std::string> out;
  for (std::size_t c = 0; c < unique.size(); ++c)
    if (unique[c])
      out.push_back(schema->columns[c].name);
  return out;
}

std::vector<std::string> all_features() {
  return {"select",
          "where",
          "group_by",
          "group_by.sorted",
          "group_by.expression",
          "group_by.rollup",
          "join",
          "join.one_to_many",
          "join.several",
          "join.union",
          "union",
          "having",
          "having.dominance",
          "order_by_limit",
          "case",
          "division",
          "round",
          "width_bucket",
          "null",
          "aggregate.count",
          "aggregate.count_distinct",
          "aggregate.sum",
          "aggregate.avg",
          "aggregate.min",
          "aggregate.max",
          "aggregate.median",
          "aggregate.percentile_cont",
          "aggregate.percentile_disc",
          "aggregate.var_samp",
          "aggregate.stddev_samp",
          "aggregate.corr",
          "aggregate.regr_slope",
          "aggregate.regr_intercept",
          "aggregate.var_pop",
          "aggregate.stddev_pop",
          "aggregate.covar_samp",
          "aggregate.covar_pop",
          "aggregate.regr_r2",
          "aggregate.wide",
          "quality_check"};
}

result<program> compile(std::string_view main_source, std::vector<table_schema> inputs,
                        std::vector<table_schema> outputs,
                        const std::map<std::string, std::string>& quality_sources) {
  auto impl = std::make_shared<program_impl>();
  std::vector<std::string> seen;
  for (auto* list : {&inputs, &outputs})
    for (const auto& t : *list) {
      if (auto ok = validate(t); !ok)
        return fail(errc::malformed_input, "schema of `" + t.name + "`: " + ok.err().message);
      if (std::find(seen.begin(), seen.end(), t.name) != seen.end())
        return fail(errc::malformed_input, "two tables are called `" + t.name
                                             + "`; inputs and outputs need distinct names");
      seen.push_back(t.name);
    }
  for (const auto& t : outputs)
    for (const auto& c : t.columns)
      if (c.unique)
        return fail(errc::malformed_input, "schema of `" + t.name + "`: column `" + c.name
                                             + "` is declared UNIQUE, but only input columns can be (the "
                                               "custodian's node checks them at upload); drop UNIQUE from it");
  impl->inputs = std::move(inputs);
  impl->outputs = std::move(outputs);
  try {
    impl->statements = parse_main(main_source);
    check_main(*impl, main_source);
  } catch (const sql_error& e) {
    return fail(errc::compile_error, at(e.pos(), e.what()));
  }
  for (const auto& [name, source] : quality_sources) {
    quality_program q;
    q.input = name;
    auto it = std::find_if(impl->inputs.begin(), impl->inputs.end(),
                           [&name = name](const table_schema& t) { return t.name == name; });
    if (it == impl->inputs.end())
      return fail(errc::compile_error, "quality check of `" + name + "`: no input is called `"
                                         + name + "`; give quality checks for inputs only");
    q.input_index = static_cast<std::size_t>(it - impl->inputs.begin());
    try {
      q.checks = parse_quality(source);
      check_quality(*impl, q, source);
    } catch (const sql_error& e) {
      return fail(errc::compile_error, "quality check of `" + name + "`, " + at(e.pos(), e.what()));
    }
    impl->quality.push_back(std::move(q));
  }
  std::sort(impl->quality.begin(), impl->quality.end(),
            [](const quality_program& a, const quality_program& b) {
              return a.input_index < b.input_index;
            });
  impl->features = features_of(*impl);
  impl->disclosures = disclosures_of(*impl);
  return program{std::shared_ptr<const program_impl>(std::move(impl))};
}

} // namespace joconde::engines::sql
