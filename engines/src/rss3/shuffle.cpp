// The resharing shuffle of rss3. Three passes j = 0, 1, 2; pass j is the pair (P_j, P_(j+1)),
// which shares the PRG key k_(j+1) (P_j's successor key, P_(j+1)'s own) and draws the pass's
// permutation pi_j from it; the third party P_(j+2) does not hold k_(j+1), so it never learns
// pi_j, and since every party misses one of the three permutations, nobody knows their composition.
//
// Pass j, for x = x_0 + x_1 + x_2 (party i holds x_i, x_(i+1)):
//   1. Without communication the pair holds x as two parts: P_j takes A = x_j + x_(j+1), P_(j+1)
//      takes B = x_(j+2).
//   2. Both apply pi_j: A' = A o pi_j, B' = B o pi_j (element i of A' is A[pi_j[i]]).
//   3. Reshare to three parties. y_(j+2) comes from k_(j+2), the key of P_(j+1) and P_(j+2); y_j from
//      k_j, the key of P_(j+2) and P_j. P_j sends c_j = A' - y_j to P_(j+1), P_(j+1) sends
//      c_(j+1) = B' - y_(j+2) to P_j, and both set y_(j+1) = c_j + c_(j+1). Each message is masked
//      by a key its receiver lacks. Afterwards P_j holds (y_j, y_(j+1)), P_(j+1) holds
//      (y_(j+1), y_(j+2)) and P_(j+2) holds (y_(j+2), y_j): a fresh replicated sharing of x o pi_j.
// Every key is used with the pass's stream id for one purpose only: k_(j+1) for pi_j, k_j for y_j,
// k_(j+2) for y_(j+2); word c n + r of the stream masks row r of column c.
//
// Cost: three rounds in sequence (each party takes part in two); every column travels once each way
// per pass, so a party sends 2 words per element and column in all. All columns go in one message
// per pass. The work is in place: the share the pair member no longer needs becomes the
// accumulator of y_(j+1), so the only extra memory is pi_j (4 bytes a row) and a frame buffer.

#include "joconde/engines/rss3/party.hpp"
#include "joconde/engines/secret_ops.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>

namespace joconde::engines::rss3 {

namespace {

/// Calls f(column, row, at, count) for each run of one column within words [offset, offset +
/// count) of a message that carries `n`-row columns one after the other (`at`: the run's position
/// relative to `offset`).
template <class F>
void for_runs(std::size_t n, std::size_t offset, std::size_t count, F f) {
  for (std::size_t done = 0; done < count;) {
    const std::size_t pos = offset + done;
    const std::size_t row = pos % n;
    const std::size_t m = std::min(count - done, n - row);
    f(pos / n, row, done, m);
    done += m;
  }
}

/// Pass `stream` at a member of its pair: `first` is P_j (holds A), otherwise P_(j+1) (holds B).
void permute_and_reshare(party_backend& p, std::span<secret* const> cols, std::size_t n,
                         std::uint64_t stream, bool first) {
  prg& perm_key = first ? p.successor() : p.own();  // k_(j+1)
  prg& mask_key = first ? p.own() : p.successor();  // k_j at P_j, k_(j+2) at P_(j+1)
  std::vector<std::uint32_t> perm(n);
  std::size_t drawn = 0;
  random_permutation(perm, [&](word* out, std::size_t k) {
    perm_key.fill(stream, drawn, out, k);
    drawn += k;
  });
  // src: the part this party permutes (A in place of x_j at P_j, B = x_(j+2) at P_(j+1)); acc: the
  // share it no longer needs, cleared to accumulate y_(j+1) = c_j + c_(j+1) in whatever order the
  // own and the received frames come.
  std::vector<const word*> src;
  std::vector<word*> acc;
  for (secret* c : cols) {
    if (first)
      for (std::size_t r = 0; r < n; ++r)
        c->a[r] += c->b[r];
    auto& cleared = first ? c->b : c->a;
    std::fill(cleared.begin(), cleared.end(), 0);
    src.push_back(first ? c->a.data() : c->b.data());
    acc.push_back(cleared.data());
  }
  std::vector<word> frame(frame_words);
  auto produce = [&](std::size_t offset, std::size_t count) -> const word* {
    word* out = frame.data();
    mask_key.fill(stream, offset, out, count);
    for_runs(n, offset, count, [&](std::size_t c, std::size_t row, std::size_t at, std::size_t m) {
      const word* s = src[c];
      const std::uint32_t* q = perm.data() + row;
      word* o = out + at;
      word* z = acc[c] + row;
      for (std::size_t k = 0; k < m; ++k) {
        o[k] = s[q[k]] - o[k];
        z[k] += o[k];
      }
    });
    return out;
  };
  auto deliver = [&](std::size_t offset, std::size_t count, const word* data) {
    for_runs(n, offset, count, [&](std::size_t c, std::size_t row, std::size_t at, std::size_t m) {
      word* z = acc[c] + row;
      for (std::size_t k = 0; k < m; ++k)
        z[k] += data[at + k];
    });
  };
  channel* peer = first ? &p.next() : &p.prev();
  const std::size_t words = cols.size() * n;
  std::array<send_job, 1> sends{send_job{peer, words, produce}};
  std::array<recv_job, 1> recvs{recv_job{peer, words, nullptr, deliver}};
  p.round(sends, recvs);
  // The share drawn from the key shared with the third party: y_j at P_j, y_(j+2) at P_(j+1).
  for (std::size_t c = 0; c < cols.size(); ++c)
    mask_key.fill(stream, c * n, first ? cols[c]->a.data() : cols[c]->b.data(), n);
}

} // namespace

void party_backend::shuffle(std::span<secret* const> columns) {
  const std::size_t n = columns.empty() ? 0 : columns[0]->size();
  for (const secret* c : columns)
    same_size(*c, *columns[0], "shuffle");
  if (n > std::size_t{1} << 32)
    refuse("shuffle of " + std::to_string(n) + " rows; at most 2^32 are supported");
  if (std::set<const secret*>(columns.begin(), columns.end()).size() != columns.size())
    refuse("shuffle of a column passed twice");
  for (unsigned pass = 0; pass < 3; ++pass) {
    auto stream = next_stream();
    switch ((self_ + 3 - pass) % 3) {
      case 0:
        permute_and_reshare(*this, columns, n, stream, true);
        break;
      case 1:
        permute_and_reshare(*this, columns, n, stream, false);
        break;
      default:
        // P_(j+2): y_(j+2) from k_(j+2) (own), y_j from k_j (its successor's key).
        for (std::size_t c = 0; c < columns.size(); ++c) {
          own_.fill(stream, c * n, columns[c]->a.data(), n);
          successor_.fill(stream, c * n, columns[c]->b.data(), n);
        }
    }
  }
}

} // namespace joconde::engines::rss3
