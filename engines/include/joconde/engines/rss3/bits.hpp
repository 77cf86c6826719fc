#pragma once

// Building blocks of rss3 on boolean (XOR, bit-sliced) sharings: conversions between arithmetic and
// boolean sharings, a parallel-prefix adder, the one-hot most significant bit and oblivious shifts by
// a secret amount. Used by comparisons, division and square root; internal to the engine.

#include "joconde/engines/rss3/party.hpp"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <utility>
#include <vector>

namespace joconde::engines::rss3 {

// -- local helpers --------------------------------------------------------------------------------

/// Applies `f` to both share vectors of x, element-wise (linear maps of XOR or additive shares).
template <class F>
secret map(const secret& x, F f) {
  secret r{fresh_words(x.size()), fresh_words(x.size())};
  for (std::size_t j = 0; j < x.size(); ++j) {
    r.a[j] = f(x.a[j]);
    r.b[j] = f(x.b[j]);
  }
  return r;
}

/// Applies `f` to the share vectors of x and y pairwise.
template <class F>
secret zip(const secret& x, const secret& y, F f) {
  secret r{fresh_words(x.size()), fresh_words(x.size())};
  for (std::size_t j = 0; j < x.size(); ++j) {
    r.a[j] = f(x.a[j], y.a[j]);
    r.b[j] = f(x.b[j], y.b[j]);
  }
  return r;
}

/// The sharings one after the other.
secret concat(const std::vector<const secret*>& parts);

/// The sharings one after the other.
inline secret concat(std::initializer_list<const secret*> parts) {
  return concat(std::vector<const secret*>(parts));
}

/// Elements [offset, offset + count) of x.
secret slice(const secret& x, std::size_t offset, std::size_t count);

/// Runs `f` on consecutive slices of at most `block` elements of x and y and concatenates the
/// results, so that the temporaries of multi-round operations stay bounded.
secret blockwise(const secret& x, const secret& y, std::size_t block,
                 const std::function<secret(const secret&, const secret&)>& f);

/// XORs the public word c into a boolean sharing (component 0, held by parties 0 and 2).
void xor_public(const party_backend& be, secret& x, word c);

// -- conversions and circuits ---------------------------------------------------------------------

/// Bits of s + t for boolean sharings s and t (Kogge-Stone). 7 rounds.
secret add_bool(party_backend& be, const secret& s, const secret& t);

/// The boolean sharing of an arithmetic sharing. 8 rounds.
secret to_boolean(party_backend& be, const secret& x);

/// The arithmetic sharing of the 64-bit value of a boolean sharing (ABY3: two shares from the PRG,
/// the third computed with the adder and opened to its two holders). 9 rounds.
secret to_arithmetic(party_backend& be, const secret& x);

/// For boolean x, the word with only the most significant set bit of x (0 for x == 0). 6 rounds.
secret msb_onehot(party_backend& be, const secret& x);

/// Broadcast masks of the bits of amount(j) for the one-hot `onehot` (j = its set bit): mask k is
/// all ones where bit k of the amount is set. `amount` must be defined on [0, top]. Local.
std::vector<secret> amount_masks(const party_backend& be, const secret& onehot, unsigned top,
                                 const std::function<unsigned(unsigned)>& amount, unsigned bits);

/// x << amount, with the amount given by `masks` (see amount_masks). One round per mask.
secret shift_left(party_backend& be, secret x, const std::vector<secret>& masks);

/// The 128-bit (hi, lo) shifted left (or right) by the amount of `masks`. One round per mask.
void shift_wide(party_backend& be, secret& hi, secret& lo, const std::vector<secret>& masks, bool left);

} // namespace joconde::engines::rss3
