// Client-side splitting and rebuilding of rss3 shares.

#include "joconde/engines/rss3/party.hpp"
#include "joconde/engines/rss3/prg.hpp"
#include "joconde/engines/rss3/rss3.hpp"

#include <openssl/crypto.h>

namespace joconde::engines::rss3 {

std::vector<secret> split(std::span<const word> values) {
  std::size_t n = values.size();
  std::vector<secret> out(3);
  for (auto& share : out)
    share.a = fresh_words(n);
  auto key = random_seed();
  prg gen{key};
  OPENSSL_cleanse(key.data(), key.size());
  gen.fill(0, 0, out[0].a.data(), n);
  gen.fill(1, 0, out[1].a.data(), n);
  for (std::size_t j = 0; j < n; ++j)
    out[2].a[j] = values[j] - out[0].a[j] - out[1].a[j];
  // Party i also holds x_(i+1).
  for (unsigned i = 0; i < 3; ++i) {
    out[i].b = reserved_words(n);
    out[i].b.assign(out[(i + 1) % 3].a.begin(), out[(i + 1) % 3].a.end());
  }
  return out;
}

result<std::vector<word>> rebuild(std::span<const secret> shares) {
  if (shares.size() != 3)
    return fail(errc::malformed_input, "rss3 rebuild needs the shares of all 3 parties, got "
                                         + std::to_string(shares.size()));
  std::size_t n = shares[0].a.size();
  for (unsigned i = 0; i < 3; ++i)
    if (shares[i].a.size() != n || shares[i].b.size() != n)
      return fail(errc::malformed_input, "rss3 rebuild: party " + std::to_string(i) + " holds "
                                           + std::to_string(shares[i].a.size()) + " and "
                                           + std::to_string(shares[i].b.size())
                                           + " share words where party 0 holds " + std::to_string(n)
                                           + "; download every party's output of the same run");
  for (unsigned i = 0; i < 3; ++i) {
    unsigned k = (i + 1) % 3;
    for (std::size_t j = 0; j < n; ++j)
      if (shares[i].b[j] != shares[k].a[j])
        return fail(errc::malformed_input, "rss3 rebuild: party " + std::to_string(i) + " and party "
                                             + std::to_string(k) + " disagree on share "
                                             + std::to_string(k) + " of row " + std::to_string(j)
                                             + "; the shares are corrupt or from different runs");
  }
  std::vector<word> out(n);
  for (std::size_t j = 0; j < n; ++j)
    out[j] = shares[0].a[j] + shares[1].a[j] + shares[2].a[j];
  return out;
}

} // namespace joconde::engines::rss3
