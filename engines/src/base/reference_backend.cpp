#include "joconde/engines/reference.hpp"

#include "joconde/engines/secret_ops.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace joconde::engines {

namespace {

void same_size(const secret& x, const secret& y, const char* op) {
  if (x.size() != y.size())
    throw engine_failure(fail(errc::invalid_state, std::string{"reference: "} + op + " of vectors of "
                                                     + std::to_string(x.size()) + " and "
                                                     + std::to_string(y.size()) + " elements"));
}

template <class F>
secret map2(const secret& x, const secret& y, const char* op, F f) {
  same_size(x, y, op);
  secret r;
  r.a.resize(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    r.a[i] = f(x.a[i], y.a[i]);
  return r;
}

template <class F>
secret map1(const secret& x, F f) {
  secret r;
  r.a.resize(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    r.a[i] = f(x.a[i]);
  return r;
}

std::int64_t s(word w) {
  return static_cast<std::int64_t>(w);
}

word floor_shift(i128 v, unsigned bits) {
  return static_cast<word>(static_cast<std::int64_t>(v >> bits));
}

/// floor(sqrt(v)) for v >= 0.
word isqrt(u128 v) {
  auto r = static_cast<u128>(std::sqrt(static_cast<long double>(v)));
  while (r * r > v)
    --r;
  while ((r + 1) * (r + 1) <= v)
    ++r;
  return static_cast<word>(r);
}

} // namespace

secret reference_backend::constant(std::span<const word> values) {
  return secret{{values.begin(), values.end()}, {}};
}

secret reference_backend::constant(word value, std::size_t n) {
  return secret{std::vector<word>(n, value), {}};
}

secret reference_backend::input(unsigned owner, std::span<const word> values, std::size_t n) {
  if (owner != 0 || values.size() != n)
    throw engine_failure(fail(errc::invalid_state, "reference: input from party "
                                                     + std::to_string(owner) + " of "
                                                     + std::to_string(values.size()) + " values, "
                                                     + std::to_string(n) + " announced"));
  return constant(values);
}

std::vector<word> reference_backend::reveal(const secret& x) {
  ++stats_.rounds;
  return x.a;
}

secret reference_backend::add(const secret& x, const secret& y) {
  return map2(x, y, "add", [](word p, word q) { return p + q; });
}

secret reference_backend::sub(const secret& x, const secret& y) {
  return map2(x, y, "sub", [](word p, word q) { return p - q; });
}

secret reference_backend::add_public(const secret& x, word c) {
  return map1(x, [c](word p) { return p + c; });
}

secret reference_backend::mul_public(const secret& x, word c) {
  return map1(x, [c](word p) { return p * c; });
}

secret reference_backend::sum(const secret& x) {
  word total = 0;
  for (auto v : x.a)
    total += v;
  return secret{{total}, {}};
}

secret reference_backend::mul(const secret& x, const secret& y) {
  ++stats_.rounds;
  return map2(x, y, "mul", [](word p, word q) { return p * q; });
}

secret reference_backend::mul_trunc(const secret& x, const secret& y, unsigned frac) {
  ++stats_.rounds;
  return map2(x, y, "mul_trunc",
              [frac](word p, word q) { return floor_shift(i128{s(p)} * i128{s(q)}, frac); });
}

secret reference_backend::trunc(const secret& x, unsigned bits) {
  ++stats_.rounds;
  return map1(x, [bits](word p) { return floor_shift(i128{s(p)}, bits); });
}

secret reference_backend::dot(const secret& x, const secret& y, std::size_t block) {
  same_size(x, y, "dot");
  if (block == 0 && !x.a.empty())
    throw engine_failure(fail(errc::invalid_state, "reference: dot of " + std::to_string(x.size())
                                                     + " elements in blocks of 0"));
  ++stats_.rounds;
  secret r;
  r.a.resize(block == 0 ? 0 : (x.size() + block - 1) / block);
  for (std::size_t i = 0; i < x.size(); ++i)
    r.a[i / block] += x.a[i] * y.a[i];
  return r;
}

secret reference_backend::lt(const secret& x, const secret& y) {
  ++stats_.rounds;
  return map2(x, y, "lt", [](word p, word q) { return word{s(p) < s(q)}; });
}

secret reference_backend::eq(const secret& x, const secret& y) {
  ++stats_.rounds;
  return map2(x, y, "eq", [](word p, word q) { return word{p == q}; });
}

secret reference_backend::mux(const secret& c, const secret& x, const secret& y) {
  same_size(c, x, "mux");
  same_size(c, y, "mux");
  ++stats_.rounds;
  secret r;
  r.a.resize(c.size());
  for (std::size_t i = 0; i < c.size(); ++i)
    r.a[i] = c.a[i] != 0 ? x.a[i] : y.a[i];
  return r;
}

void reference_backend::shuffle(std::span<secret* const> columns) {
  const std::size_t n = columns.empty() ? 0 : columns[0]->size();
  for (const secret* c : columns)
    same_size(*c, *columns[0], "shuffle");
  if (n > std::size_t{1} << 32)
    throw engine_failure(fail(errc::invalid_state, "reference: shuffle of " + std::to_string(n)
                                                     + " rows, at most 2^32 are supported"));
  ++stats_.rounds;
  // A real random permutation (not the identity), so that tests of what runs on top of a shuffle
  // see the same kind of orders on the reference engine as on a real one.
  std::vector<std::uint32_t> perm(n);
  random_permutation(perm, [](word* out, std::size_t count) {
    auto* bytes = reinterpret_cast<unsigned char*>(out);
    if (RAND_bytes(bytes, static_cast<int>(count * sizeof(word))) != 1)
      throw engine_failure(fail(errc::crypto_failure, "reference: RAND_bytes failed"));
  });
  for (secret* c : columns)
    c->a = gather(*c, perm).a;
}

secret reference_backend::div(const secret& a, const secret& b, unsigned frac) {
  ++stats_.rounds;
  return map2(a, b, "div", [frac](word p, word q) -> word {
    if (s(q) <= 0)
      return 0;
    i128 num = i128{s(p)} * (i128{1} << frac);
    i128 den = s(q);
    // Round to nearest, halves away from zero.
    i128 quot = num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
    return static_cast<word>(static_cast<std::int64_t>(quot));
  });
}

secret reference_backend::sqrt(const secret& x, unsigned frac) {
  ++stats_.rounds;
  return map1(x, [frac](word p) -> word {
    if (s(p) <= 0)
      return 0;
    return isqrt(static_cast<u128>(s(p)) << frac);
  });
}

} // namespace joconde::engines
