// GROUP BY expression keys in the executor: each row's group code, from which group_masks or
// sort_by_group form the groups as they do for category columns (docs/task-language.md §4.1).

#include "joconde/engines/sql/evaluate.hpp"

namespace joconde::engines::sql {

secret group_code(backend& b, const group_key& key, const frame& f) {
  const auto& e = *key.value;
  if (e.kind != expr_kind::case_when)
    return evaluate(b, e, f);
  // The code of the first result whose WHEN holds, from the last WHEN back: the conditions are
  // row values, the codes public.
  const std::size_t pairs = e.args.size() / 2;
  auto acc = b.constant(key.codes.at(pairs), f.n);
  for (std::size_t i = pairs; i-- > 0;)
    acc = b.mux(evaluate(b, *e.args[2 * i], f), b.constant(key.codes.at(i), f.n), acc);
  return acc;
}

} // namespace joconde::engines::sql
