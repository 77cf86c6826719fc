#include "common.hpp"

#include <algorithm>
#include <bit>

namespace joconde::engines::kernels::detail {

void size_error(const char* kernel, const std::string& what) {
  throw engine_failure(fail(errc::invalid_state, std::string{"kernel "} + kernel + ": " + what
                                                   + "; pass vectors of consistent lengths"));
}

void expect_size(const char* kernel, const char* name, const secret& x, std::size_t n) {
  if (x.size() != n || (!x.b.empty() && x.b.size() != x.a.size()))
    size_error(kernel, std::string{name} + " has " + std::to_string(x.size()) + " elements, "
                         + std::to_string(n) + " expected");
}

std::size_t rows_of(const char* kernel, const secret& masks, std::size_t groups) {
  if (groups == 0)
    size_error(kernel, "0 groups requested (a category needs at least one value)");
  if (masks.size() % groups != 0)
    size_error(kernel, "masks of " + std::to_string(masks.size()) + " elements do not split into "
                         + std::to_string(groups) + " groups");
  return masks.size() / groups;
}

secret tile(const secret& x, std::size_t times) {
  secret r;
  r.a.reserve(x.size() * times);
  if (!x.b.empty())
    r.b.reserve(x.size() * times);
  for (std::size_t t = 0; t < times; ++t)
    append(r, x);
  return r;
}

secret stretch(const secret& x, std::size_t times) {
  secret r;
  r.a.reserve(x.size() * times);
  for (auto v : x.a)
    r.a.insert(r.a.end(), times, v);
  if (!x.b.empty()) {
    r.b.reserve(x.size() * times);
    for (auto v : x.b)
      r.b.insert(r.b.end(), times, v);
  }
  return r;
}

secret one_minus(backend& b, const secret& x) {
  return b.add_public(b.mul_public(x, w(-1)), 1);
}

secret constants(backend& b, const std::vector<word>& values) {
  return b.constant(std::span<const word>{values});
}

} // namespace joconde::engines::kernels::detail

namespace joconde::engines::kernels::detail {

namespace {

/// Upper bound on the elements of one batched dot call (keeps two operands near 128 MiB).
constexpr std::size_t dot_batch_elements = std::size_t{1} << 23;

} // namespace

std::vector<secret> group_dots(backend& b, const secret& masks, std::size_t groups, std::size_t n,
                               const std::vector<const secret*>& cols) {
  std::vector<secret> out;
  out.reserve(cols.size());
  if (n == 0) {
    for (std::size_t i = 0; i < cols.size(); ++i)
      out.push_back(b.constant(0, groups));
    return out;
  }
  const auto per_column = groups * n;
  const auto per_call = std::max<std::size_t>(1, dot_batch_elements / per_column);
  for (std::size_t first = 0; first < cols.size(); first += per_call) {
    const auto k = std::min(per_call, cols.size() - first);
    if (k == 1 && groups == 1) {
      out.push_back(b.dot(masks, *cols[first], n));
      continue;
    }
    secret ys;
    ys.a.reserve(k * per_column);
    if (!cols[first]->b.empty())
      ys.b.reserve(k * per_column);
    for (std::size_t i = first; i < first + k; ++i)
      for (std::size_t g = 0; g < groups; ++g)
        append(ys, *cols[i]);
    auto sums = b.dot(k == 1 ? masks : tile(masks, k), ys, n);
    for (std::size_t i = 0; i < k; ++i)
      out.push_back(slice(sums, i * groups, groups));
  }
  return out;
}

std::vector<secret> group_dots(backend& b, const grouping& by, const std::vector<const secret*>& cols) {
  if (const auto* s = by.sorted())
    return cols.empty() ? std::vector<secret>{} : sorted_sums(b, *s, cols);
  return group_dots(b, *by.masks(), by.groups(), rows_of("group_dots", by), cols);
}

std::size_t rows_of(const char* kernel, const grouping& by) {
  if (const auto* s = by.sorted())
    return s->rows();
  return rows_of(kernel, *by.masks(), by.groups());
}

} // namespace joconde::engines::kernels::detail

namespace joconde::engines::kernels::detail {

void check_table(const char* kernel, const char* name, const secret_table& t, std::size_t key) {
  if (key >= t.columns.size())
    size_error(kernel, std::string{name} + " key column " + std::to_string(key) + " of a table with "
                         + std::to_string(t.columns.size()) + " columns");
  for (auto& c : t.columns)
    expect_size(kernel, name, c, t.rows);
  expect_size(kernel, name, t.valid, t.rows);
}

secret keys_or_distinct(backend& b, const secret& key, const secret& valid, word base, word step, word offset) {
  std::vector<word> filler(key.size());
  for (std::size_t i = 0; i < filler.size(); ++i)
    filler[i] = base + step * i + offset;
  auto f = constants(b, filler);
  return b.add(f, b.mul(valid, b.sub(key, f)));
}

void scatter(secret& dst, std::span<const std::size_t> index, const secret& src) {
  for (std::size_t i = 0; i < index.size(); ++i)
    dst.a[index[i]] = src.a[i];
  if (!dst.b.empty())
    for (std::size_t i = 0; i < index.size(); ++i)
      dst.b[index[i]] = src.b[i];
}

void prefix_sums(secret& x) {
  for (auto* v : {&x.a, &x.b})
    for (std::size_t i = 1; i < v->size(); ++i)
      (*v)[i] += (*v)[i - 1];
}

unsigned index_bits(std::size_t n) {
  return std::max(1u, static_cast<unsigned>(std::bit_width(n)));
}

std::vector<std::size_t> opened_ones(backend& b, const secret& flags, std::size_t ones, const char* kernel,
                                     const char* what) {
  auto opened = b.reveal(flags);
  std::vector<std::size_t> at;
  at.reserve(ones);
  for (std::size_t i = 0; i < opened.size(); ++i)
    if (opened[i] == 1)
      at.push_back(i);
    else if (opened[i] != 0)
      size_error(kernel, std::string{"a flag of "} + what + " opened to " + std::to_string(opened[i]));
  if (at.size() != ones)
    size_error(kernel, std::to_string(at.size()) + " " + what + " opened for " + std::to_string(ones));
  return at;
}

std::size_t pow2_at_least(std::size_t n) {
  std::size_t p = 1;
  while (p < n)
    p <<= 1;
  return p;
}

} // namespace joconde::engines::kernels::detail
