// GROUP BY ROLLUP in the executor (docs/task-language.md, "Margins and totals"): every row counted
// once per level, in the group of its keys' prefix, and the secondary suppression that keeps a
// withheld cell from following from its margin.
//
// The groups come depth first: the cells under the first value of the first key, then its margin,
// and so on, the grand total last. With the keys' sizes d_0 .. d_(L-1), S_L = 1 and
// S_i = d_i S_(i+1) + 1 is the size of the subtree under a prefix of i keys, S_0 the groups in all,
// and the group of the prefix (c_0 .. c_(l-1)), its other keys `_T`, is
// sum_(i<l) c_i S_(i+1) + S_l - 1.

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/secret_ops.hpp"
#include "joconde/engines/sql/evaluate.hpp"

#include <algorithm>
#include <bit>

namespace joconde::engines::sql {

namespace {

/// S_0 .. S_L for the keys of `s`.
std::vector<std::size_t> subtree_sizes(const select_stmt& s) {
  const auto keys = s.group_by.size();
  std::vector<std::size_t> sizes(keys + 1, 1);
  for (std::size_t i = keys; i-- > 0;)
    sizes[i] = s.group_sizes[i] * sizes[i + 1] + 1;
  return sizes;
}

/// The group of prefix p of l keys (p the mixed-radix index of (c_0 .. c_(l-1)), the last key
/// fastest): sum_(i<l) c_i S_(i+1) + S_l - 1.
std::size_t group_at(const select_stmt& s, const std::vector<std::size_t>& sizes, std::size_t l, std::size_t p) {
  std::size_t group = sizes[l] - 1;
  for (std::size_t i = l; i-- > 0; p /= s.group_sizes[i])
    group += (p % s.group_sizes[i]) * sizes[i + 1];
  return group;
}

/// Every group in group order, as (l, p): its prefix of l keys, p that prefix's mixed-radix index.
std::vector<std::pair<std::size_t, std::size_t>> depth_first(const select_stmt& s) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  auto walk = [&](auto& self, std::size_t l, std::size_t p) -> void {
    if (l < s.group_by.size())
      for (std::size_t c = 0; c < s.group_sizes[l]; ++c)
        self(self, l + 1, p * s.group_sizes[l] + c);
    out.emplace_back(l, p);  // after the cells under it: a margin follows its cells
  };
  walk(walk, 0, 0);
  return out;
}

/// x[index[k]] += z[k], share by share (local: shares of a sum are sums of shares).
void scatter_add(secret& x, const secret& z, const std::vector<std::size_t>& index) {
  for (std::size_t k = 0; k < index.size(); ++k) {
    x.a[index[k]] += z.a[k];
    if (!x.b.empty())
      x.b[index[k]] += z.b[k];
  }
}

/// The smallest of each block of `columns[j]` (column j: the j-th element of every block), by a
/// tournament of lt and mux, one round of each per halving.
secret block_minimum(backend& b, std::vector<secret> columns) {
  while (columns.size() > 1) {
    std::vector<const secret*> left;
    std::vector<const secret*> right;
    for (std::size_t j = 0; j + 1 < columns.size(); j += 2) {
      left.push_back(&columns[j]);
      right.push_back(&columns[j + 1]);
    }
    auto x = concat(left);
    auto y = concat(right);
    auto smaller = b.mux(b.lt(x, y), x, y);
    const auto blocks = columns[0].size();
    std::vector<secret> next;
    for (std::size_t k = 0; k < left.size(); ++k)
      next.push_back(slice(smaller, k * blocks, blocks));
    if (columns.size() % 2 == 1)
      next.push_back(std::move(columns.back()));
    columns = std::move(next);
  }
  return std::move(columns[0]);
}

} // namespace

secret_table rollup_rows(const select_stmt& s, const secret_table& t, const std::vector<bool>& used,
                         const secret& filter) {
  const auto copies = s.group_by.size() + 1;
  secret_table out;
  std::vector<const secret*> parts(copies, &filter);
  out.valid = concat(parts);
  out.rows = t.rows * copies;
  out.columns.resize(t.columns.size());
  for (std::size_t j = 0; j < t.columns.size(); ++j)
    if (used[j]) {
      std::fill(parts.begin(), parts.end(), &t.columns[j]);
      out.columns[j] = concat(parts);
    }
  return out;
}

secret rollup_copy_codes(backend& b, const select_stmt& s, const std::vector<secret>& code) {
  const auto keys = s.group_by.size();
  const auto sizes = subtree_sizes(s);
  // Level l: the rows' prefix of l keys (sum of c_i S_(i+1), local), then S_l - 1.
  std::vector<secret> levels;
  auto prefix = b.constant(0, code.empty() ? 0 : code[0].size());
  for (std::size_t l = 0; l <= keys; ++l) {
    if (l > 0)
      prefix = b.add(prefix, b.mul_public(code[l - 1], static_cast<word>(sizes[l])));
    levels.push_back(b.add_public(prefix, static_cast<word>(sizes[l] - 1)));
  }
  return concat(std::span<const secret>{levels});
}

secret rollup_masks(backend& b, const select_stmt& s, const std::vector<secret>& code, const secret& filter) {
  const auto keys = s.group_by.size();
  const auto sizes = subtree_sizes(s);
  const auto n = filter.size();
  const auto all = n * (keys + 1);
  auto out = b.constant(0, s.groups * all);
  // Level l's masks over its own G_l = d_0 ... d_(l-1) groups (the prefix's mixed-radix code),
  // placed at the copy l of each of its groups; every other copy of a group stays 0.
  auto prefix = b.constant(0, n);
  std::size_t level_groups = 1;
  for (std::size_t l = 0; l <= keys; ++l) {
    if (l > 0) {
      prefix = b.add(b.mul_public(prefix, static_cast<word>(s.group_sizes[l - 1])), code[l - 1]);
      level_groups *= s.group_sizes[l - 1];
    }
    auto masks = kernels::group_masks(b, prefix, level_groups, filter);
    for (std::size_t j = 0; j < level_groups; ++j) {
      const auto to = group_at(s, sizes, l, j) * all + l * n;
      std::copy_n(masks.a.begin() + static_cast<std::ptrdiff_t>(j * n), n, out.a.begin() + static_cast<std::ptrdiff_t>(to));
      if (!out.b.empty())
        std::copy_n(masks.b.begin() + static_cast<std::ptrdiff_t>(j * n), n, out.b.begin() + static_cast<std::ptrdiff_t>(to));
    }
  }
  return out;
}

std::vector<std::pair<std::size_t, std::size_t>> rollup_spans(const select_stmt& s) {
  const auto keys = s.group_by.size();
  // cells[l]: the cells under a prefix of l keys, d_l ... d_(L-1); prefix p's are p cells[l] ..
  // (p + 1) cells[l] - 1.
  std::vector<std::size_t> cells(keys + 1, 1);
  for (std::size_t i = keys; i-- > 0;)
    cells[i] = s.group_sizes[i] * cells[i + 1];
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (auto [l, p] : depth_first(s))
    out.emplace_back(p * cells[l], (p + 1) * cells[l] - 1);
  return out;
}

std::map<std::size_t, secret> rollup_group_codes(backend& b, const select_stmt& s) {
  const auto keys = s.group_by.size();
  std::vector<std::vector<word>> codes(keys);
  for (auto [l, p] : depth_first(s)) {
    // The prefix's digits, the last key fastest; a key past it is `_T`, code d_k (rolled's last).
    std::vector<word> code(keys);
    for (std::size_t k = keys; k-- > 0;) {
      if (k >= l) {
        code[k] = static_cast<word>(s.group_sizes[k]);
        continue;
      }
      const auto c = p % s.group_sizes[k];
      p /= s.group_sizes[k];
      const auto& g = s.group_by[k];
      code[k] = g.values.empty() ? static_cast<word>(c) : static_cast<word>(g.values[c]);
    }
    for (std::size_t k = 0; k < keys; ++k)
      codes[k].push_back(code[k]);
  }
  std::map<std::size_t, secret> out;
  for (std::size_t k = 0; k < keys; ++k)
    out[s.group_by[k].column] = b.constant(codes[k]);
  return out;
}

void secondary_suppression(backend& b, const select_stmt& s, const secret& counts, const secret& nonempty,
                           having_verdict& verdict) {
  const auto keys = s.group_by.size();
  const auto sizes = subtree_sizes(s);
  // Withheld: a group with rows that a rule withholds; a candidate: one with rows that is published.
  auto withheld = b.mul(nonempty, logical_not(b, verdict.published));
  auto secondary = b.constant(0, s.groups);
  // Top down, one level of margins at a time: a margin and its cells are one equation (the margin
  // is the sum of its cells), safe unless exactly one of them is withheld. Then the published cell
  // of fewest rows (the first of them on a tie) is withheld as well. That cell is the margin of the
  // next level's equation, so the levels go in order.
  for (std::size_t l = 0; l < keys; ++l) {
    std::size_t parents = 1;  // the prefixes of l keys
    for (std::size_t i = 0; i < l; ++i)
      parents *= s.group_sizes[i];
    const auto m = s.group_sizes[l];
    std::vector<std::size_t> parent_at(parents);
    std::vector<std::size_t> child_at(parents * m);  // child j of every parent, j-major
    for (std::size_t p = 0; p < parents; ++p) {
      parent_at[p] = group_at(s, sizes, l, p);
      for (std::size_t j = 0; j < m; ++j)
        child_at[j * parents + p] = group_at(s, sizes, l + 1, p * m + j);
    }
    auto held = gather(withheld, child_at);
    auto candidate = b.sub(gather(nonempty, child_at), held);
    auto exposed = gather(withheld, parent_at);
    for (std::size_t j = 0; j < m; ++j)
      exposed = b.add(exposed, slice(held, j * parents, parents));
    auto alone = b.eq(exposed, b.constant(1, parents));
    // The key count 2^jb + j, moved past every count unless the cell is a candidate: distinct, so
    // exactly one child has the smallest (counts < 2^33).
    const unsigned jb = static_cast<unsigned>(std::bit_width(m));
    std::vector<word> places(parents * m);
    for (std::size_t j = 0; j < m; ++j)
      std::fill_n(places.begin() + static_cast<std::ptrdiff_t>(j * parents), parents, static_cast<word>(j));
    auto key = b.add(b.add(b.mul_public(gather(counts, child_at), word{1} << jb), b.constant(places)),
                     b.mul_public(logical_not(b, candidate), word{1} << (33 + jb)));
    std::vector<secret> columns;
    for (std::size_t j = 0; j < m; ++j)
      columns.push_back(slice(key, j * parents, parents));
    auto least = block_minimum(b, std::move(columns));
    std::vector<const secret*> tiled(m, &alone);
    std::vector<const secret*> lowest(m, &least);
    auto chosen = b.mul(b.eq(key, concat(lowest)), b.mul(candidate, concat(tiled)));
    scatter_add(withheld, chosen, child_at);
    scatter_add(secondary, chosen, child_at);
  }
  verdict.published = b.sub(verdict.published, secondary);
  verdict.code = b.add(verdict.code, b.mul_public(secondary, 2));  // 1 + 2: code 3
}

} // namespace joconde::engines::sql
