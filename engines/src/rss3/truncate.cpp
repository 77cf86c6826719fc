// Truncation of the rss3 party (ABY3-style, fused with the reshare): the 3-out-of-3 sharing becomes
// a two-party additive sharing (party 0 holds t0 + t1, parties 1 and 2 hold t2), each part is shifted
// with SecureML's rule, and party 0 reshares its part with PRG randomness.

#include "joconde/engines/rss3/bits.hpp"
#include "joconde/engines/rss3/party.hpp"

#include <array>

namespace joconde::engines::rss3 {

std::vector<word> party_backend::product_3of3(const secret& x, const secret& y) {
  std::size_t n = x.size();
  std::vector<word> z = fresh_words(n);
  zero_share(next_stream(), 0, z.data(), n, sharing::arithmetic);
  for (std::size_t j = 0; j < n; ++j)
    z[j] += x.a[j] * (y.a[j] + y.b[j]) + x.b[j] * y.a[j];
  return z;
}

secret party_backend::truncate_3of3(std::vector<word> t, unsigned bits) {
  if (bits >= 64)
    refuse("truncation by " + std::to_string(bits) + " bits of a 64-bit ring");
  std::size_t n = t.size();
  // Round 1: party 1 gives t1 to party 0, party 2 gives t2 to party 1.
  std::vector<word> got(self_ == 2 ? 0 : n);
  {
    const word* p = t.data();
    std::array<send_job, 1> sends{send_words(to_prev_.get(), p, n)};
    std::array<recv_job, 1> recvs{receive_words(to_next_.get(), got.data(), n)};
    round(self_ == 0 ? std::span<send_job>{} : std::span<send_job>{sends},
          self_ == 2 ? std::span<recv_job>{} : std::span<recv_job>{recvs});
  }
  // Local shifts: floor(A / 2^f) for party 0's part, -floor(-B / 2^f) for the other part.
  std::vector<word>& part = self_ == 1 ? got : t;
  if (self_ == 0)
    for (std::size_t j = 0; j < n; ++j)
      part[j] = (part[j] + got[j]) >> bits;
  else
    for (std::size_t j = 0; j < n; ++j)
      part[j] = word{0} - ((word{0} - part[j]) >> bits);
  // Round 2: components c0 = F(k_0), c1 = A' - c0 (party 0 -> party 1), c2 = B'.
  auto stream = next_stream();
  secret r{fresh_words(n), fresh_words(n)};
  if (self_ == 0) {
    own_.fill(stream, 0, r.a.data(), n);
    for (std::size_t j = 0; j < n; ++j)
      r.b[j] = part[j] - r.a[j];
    const word* p = r.b.data();
    std::array<send_job, 1> sends{send_words(to_next_.get(), p, n)};
    round(sends, {});
  } else if (self_ == 1) {
    r.b = std::move(part);
    std::array<recv_job, 1> recvs{receive_words(to_prev_.get(), r.a.data(), n)};
    round({}, recvs);
  } else {
    r.a = std::move(part);
    successor_.fill(stream, 0, r.b.data(), n);
    round({}, {});
  }
  return r;
}

secret party_backend::repair_truncation(secret q, unsigned bits) {
  std::size_t n = q.size();
  auto bound = word{1} << (63 - bits);
  auto above = constant(bound, n);
  auto below = constant(word{0} - bound, n);
  // c[0, n): bound < q (too high: subtract), c[n, 2n): q < -bound (too low: add).
  auto c = lt(concat({&above, &q}), concat({&q, &below}));
  auto fix = sub(slice(c, n, n), slice(c, 0, n));
  return add(q, mul_public(fix, word{1} << (64 - bits)));
}

secret party_backend::trunc(const secret& x, unsigned bits) {
  same_size(x, x, "trunc");
  if (bits == 0)
    return x;
  if (bits == 1) // x / 2 = 2x / 4, and |2x| < 2^63 still holds for |x| < 2^62
    return trunc(mul_public(x, 2), 2);
  std::vector<word> t = fresh_words(x.size());
  zero_share(next_stream(), 0, t.data(), t.size(), sharing::arithmetic);
  for (std::size_t j = 0; j < t.size(); ++j)
    t[j] += x.a[j];
  return repair_truncation(truncate_3of3(std::move(t), bits), bits);
}

secret party_backend::mul_trunc(const secret& x, const secret& y, unsigned frac) {
  same_size(x, y, "mul_trunc");
  if (frac < 2)
    return trunc(mul(x, y), frac);
  return repair_truncation(truncate_3of3(product_3of3(x, y), frac), frac);
}

} // namespace joconde::engines::rss3
