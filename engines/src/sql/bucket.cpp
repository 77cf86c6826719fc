// WIDTH_BUCKET(x, low, high, n) in the executor (docs/task-language.md, "Buckets"), obliviously:
// 0 below low, n + 1 from high on, else floor((x - low) n / (high - low)) + 1, by comparisons with
// public values and an exact division by a public one; nothing depends on the data but the values.

#include "joconde/engines/secret_ops.hpp"
#include "joconde/engines/sql/evaluate.hpp"

namespace joconde::engines::sql {

secret width_bucket(backend& b, const expr& e, const frame& f) {
  auto x = evaluate(b, *e.args[0], f);
  if (e.factors[0] != 1)
    x = b.mul_public(x, e.factors[0]);
  const auto& plan = e.bucket;
  const auto n = f.n;
  const auto count = static_cast<word>(plan.count);
  if (!plan.edges.empty()) {
    // The edges at or below x: n + 1 - [x < E_0] - ... - [x < E_n], in one comparison batch.
    secret xs;
    std::vector<word> edges;
    for (auto edge : plan.edges) {
      append(xs, x);
      edges.insert(edges.end(), n, edge);
    }
    auto below = b.lt(xs, b.constant(edges));
    auto out = b.constant(count + 1, n);
    for (std::size_t k = 0; k < plan.edges.size(); ++k)
      out = b.sub(out, slice(below, k * n, n));
    return out;
  }
  // inside = [x < H] - [x < L] (L < H), above = 1 - [x < H]: one comparison batch. Inside, the
  // bucket is floor((x - L) n / (H - L)) + 1, exactly by the planned passes; outside the dividend
  // is 0, and so its quotient.
  std::vector<word> bounds(n, static_cast<word>(plan.low));
  bounds.insert(bounds.end(), n, static_cast<word>(plan.high));
  auto lt = b.lt(concat({&x, &x}), b.constant(bounds));
  auto below_low = slice(lt, 0, n);
  auto below_high = slice(lt, n, n);
  auto inside = b.sub(below_high, below_low);
  auto above = logical_not(b, below_high);
  auto offset = b.mul(b.add_public(x, word{0} - static_cast<word>(plan.low)), inside);
  auto q = floor_by_passes(b, b.mul_public(offset, count), plan.division);
  return b.add(b.add(q, inside), b.mul_public(above, count + 1));
}

} // namespace joconde::engines::sql
