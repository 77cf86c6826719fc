// Type, scale and range checking of CASE: its results share one type, and results that are all
// 'text' constants make a category of those values (a recoding: age bands, regrouped regions).

#include "joconde/engines/sql/checker.hpp"

#include <algorithm>

namespace joconde::engines::sql {

namespace {

bool text_literal(const expr& e) {
  return e.kind == expr_kind::literal && e.type.kind == value_kind::text;
}

/// Types a CASE whose results `values` (indices into e.args) are all 'text' constants: a category
/// whose values are the texts in order of first appearance, each text its code.
void check_text_case(expr& e, const std::vector<std::size_t>& values) {
  if (!e.has_else)
    throw sql_error(e.pos, "a CASE giving 'text' values needs an ELSE branch, for the rows no WHEN matches: add "
                           "ELSE 'other' (or another of its values) before END");
  e.domain.clear();
  for (auto i : values)
    if (std::find(e.domain.begin(), e.domain.end(), e.args[i]->name) == e.domain.end())
      e.domain.push_back(e.args[i]->name);
  e.type = value_type{};
  e.type.kind = value_kind::category;
  e.type.domain = &e.domain;
  for (auto i : values) {
    auto& text = *e.args[i];
    const auto code = static_cast<std::int64_t>(std::find(e.domain.begin(), e.domain.end(), text.name)
                                                - e.domain.begin());
    text.type = e.type;
    text.number = code;
    text.range = interval{code, code, true};
  }
  e.factors.assign(e.args.size(), 1);
  e.range = interval{0, static_cast<int128>(e.domain.size()) - 1, true};
}

} // namespace

void check_case(expr& e, const scope& sc) {
  std::size_t pairs = e.args.size() / 2;
  std::vector<std::size_t> values;
  for (std::size_t i = 0; i < pairs; ++i) {
    const auto& c = *e.args[2 * i];
    if (c.type.kind != value_kind::boolean)
      throw sql_error(c.pos, "WHEN needs a condition (boolean), but this is " + describe(c.type));
    values.push_back(2 * i + 1);
  }
  if (e.has_else)
    values.push_back(e.args.size() - 1);
  const auto texts = std::count_if(values.begin(), values.end(), [&](std::size_t i) { return text_literal(*e.args[i]); });
  if (texts == static_cast<std::ptrdiff_t>(values.size())) {
    check_text_case(e, values);
    return;
  }
  if (texts > 0) {
    const auto other = *std::find_if(values.begin(), values.end(), [&](std::size_t i) { return !text_literal(*e.args[i]); });
    throw sql_error(e.args[other]->pos, "the branches of CASE must have one type: a CASE of 'text' constants gives "
                                        "a category of those values, but this branch is "
                                        + describe(e.args[other]->type) + "; make every result a 'text' constant");
  }
  const auto& first = e.args[values[0]]->type;
  for (auto i : values) {
    const auto& t = e.args[i]->type;
    bool same = t.kind == first.kind
                && (t.kind != value_kind::category || *t.domain == *first.domain);
    if (!same || t.kind == value_kind::text || t.kind == value_kind::key)
      throw sql_error(e.args[i]->pos, "the branches of CASE must have one type: " + describe(first)
                                        + " and " + describe(t));
  }
  e.factors.assign(e.args.size(), 1);
  if (first.kind == value_kind::number) {
    e.type = align(e, values);
  } else {
    e.type = first;
    if (first.kind == value_kind::category && !e.has_else)
      throw sql_error(e.pos, "a CASE giving a category needs an ELSE branch");
  }
  e.range = e.has_else ? interval{ring_limit, -ring_limit, true} : interval{0, 0, true};
  for (auto i : values) {
    const auto f = static_cast<int128>(static_cast<std::int64_t>(e.factors[i]));
    const auto& r = e.args[i]->range;
    e.range.bounded = e.range.bounded && r.bounded;
    e.range.lo = std::min(e.range.lo, r.lo * f);
    e.range.hi = std::max(e.range.hi, r.hi * f);
  }
  if (e.range.bounded)
    prove(e, e.range, sc.source);
}

} // namespace joconde::engines::sql
