#include "joconde/engines/secret_ops.hpp"

namespace joconde::engines {

secret slice(const secret& x, std::size_t from, std::size_t len) {
  secret r;
  r.a.assign(x.a.begin() + static_cast<std::ptrdiff_t>(from),
             x.a.begin() + static_cast<std::ptrdiff_t>(from + len));
  if (!x.b.empty())
    r.b.assign(x.b.begin() + static_cast<std::ptrdiff_t>(from),
               x.b.begin() + static_cast<std::ptrdiff_t>(from + len));
  return r;
}

void append(secret& out, const secret& x) {
  out.a.insert(out.a.end(), x.a.begin(), x.a.end());
  out.b.insert(out.b.end(), x.b.begin(), x.b.end());
}

secret concat(std::span<const secret* const> parts) {
  std::size_t total = 0;
  bool with_b = false;
  for (const auto* p : parts) {
    total += p->size();
    with_b = with_b || !p->b.empty();
  }
  secret r;
  r.a.reserve(total);
  if (with_b)
    r.b.reserve(total);
  for (const auto* p : parts)
    append(r, *p);
  return r;
}

secret concat(std::span<const secret> parts) {
  std::vector<const secret*> pointers;
  pointers.reserve(parts.size());
  for (const auto& p : parts)
    pointers.push_back(&p);
  return concat(std::span<const secret* const>{pointers});
}

} // namespace joconde::engines
