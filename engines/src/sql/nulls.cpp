// Missing values (NULL) in the executor (docs/task-language.md §3.2). A missing value is stored as
// null_word; over a frame of rows each column declared NULL that an expression reads gets, once,
// its presence flags (one equality with null_word) and its values with the missing ones replaced by
// the range's lowest, so that every operator, sort key and proof sees a value in range. Conditions
// follow SQL's three-valued logic as "true" T and "has a value" p: false is p - T.

#include "joconde/engines/secret_ops.hpp"
#include "joconde/engines/sql/evaluate.hpp"

namespace joconde::engines::sql {

namespace {

/// 1 where column `e` of the rows of `f` has a value, once per frame.
const secret& column_present(backend& b, const expr& e, const frame& f) {
  auto it = f.present.find(e.column);
  if (it == f.present.end()) {
    const auto& x = (*f.columns)[e.column];
    it = f.present.emplace(e.column, logical_not(b, b.eq(x, b.constant(null_word, f.n)))).first;
  }
  return it->second;
}

/// x * y for flags that may be absent (always 1).
std::optional<secret> both(backend& b, std::optional<secret> x, const std::optional<secret>& y) {
  if (!x)
    return y;
  if (!y)
    return x;
  return b.mul(*x, *y);
}

/// The (true, false) flags of condition `e`: T from evaluate, F = p - T.
std::pair<secret, secret> truth(backend& b, const expr& e, const frame& f) {
  auto t = evaluate(b, e, f);
  auto p = presence(b, e, f);
  auto false_ = p ? b.sub(*p, t) : logical_not(b, t);
  return {std::move(t), std::move(false_)};
}

} // namespace

const secret& filled_column(backend& b, const expr& e, const frame& f) {
  auto it = f.filled.find(e.column);
  if (it == f.filled.end()) {
    const auto lo = e.range.bounded ? static_cast<word>(static_cast<std::int64_t>(e.range.lo)) : word{0};
    const auto& x = (*f.columns)[e.column];
    // lo + p (x - lo): x where present, lo where missing.
    auto value = b.add_public(b.mul(column_present(b, e, f), b.add_public(x, word{0} - lo)), lo);
    it = f.filled.emplace(e.column, std::move(value)).first;
  }
  return it->second;
}

std::optional<secret> presence(backend& b, const expr& e, const frame& f) {
  if (!e.nullable)
    return std::nullopt;
  switch (e.kind) {
    case expr_kind::column: return column_present(b, e, f);
    case expr_kind::case_when: {
      // The presence of the result taken: the first WHEN that is true, else ELSE's (a CASE without
      // ELSE gives 0 there, a value).
      const auto ones = b.constant(1, f.n);
      auto acc = e.has_else ? presence(b, *e.args.back(), f).value_or(ones) : ones;
      for (std::size_t i = e.args.size() / 2; i-- > 0;)
        acc = b.mux(evaluate(b, *e.args[2 * i], f), presence(b, *e.args[2 * i + 1], f).value_or(ones), acc);
      return acc;
    }
    case expr_kind::binary:
      if (e.op == binary_op::logic_and || e.op == binary_op::logic_or) {
        // Known where true or false: AND is false where either is, OR true where either is.
        auto [t1, f1] = truth(b, *e.args[0], f);
        auto [t2, f2] = truth(b, *e.args[1], f);
        if (e.op == binary_op::logic_and)
          return b.add(b.mul(t1, t2), b.sub(b.add(f1, f2), b.mul(f1, f2)));
        return b.add(b.sub(b.add(t1, t2), b.mul(t1, t2)), b.mul(f1, f2));
      }
      break;
    default: break;
  }
  // Any other operator has a value (is true or false) where every operand has one.
  std::optional<secret> p;
  for (const auto& a : e.args)
    p = both(b, std::move(p), presence(b, *a, f));
  return p;
}

} // namespace joconde::engines::sql
