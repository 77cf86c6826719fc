#pragma once

// Signed integers of many 16-bit limbs per group, for the exact statistics beyond the ring
// (wide_moments.cpp) and their exact rounding (nearest.cpp). Internal to the kernels.
//
// A bigint holds one integer per group as limbs[i] 2^(16 i) summed. It is loose while being built
// (each limb any ring value below 2^61 in magnitude) and canonical after normalise: every limb but
// the last in [0, 2^16), the last signed, so the value's sign is its top limb's.

#include "wide.hpp"

#include <cstddef>
#include <initializer_list>
#include <vector>

namespace joconde::engines::kernels::detail {

constexpr unsigned half = 16;
constexpr word half_radix = word{1} << half;

/// Limbs of the moments: 192 bits hold V mul, below n^2 (w + 1)^2 mul < 2^188 where
/// check_wide_range accepts, with room for the sign.
constexpr std::size_t limb_count = 12;

struct bigint {
  std::vector<secret> limbs;
};

/// `size` limbs of zeros per group.
bigint zeros(backend& b, std::size_t groups, std::size_t size = limb_count);

/// Adds x 2^(16 at + shift) (shift < 16) to v, loosely; nothing where `at` is beyond v's limbs.
void add_at(backend& b, bigint& v, const secret& x, std::size_t at, unsigned shift = 0);

/// Adds a wide value (hi 2^32 + lo) times 2^(16 at + shift), loosely.
void add_wide(backend& b, bigint& v, const limb_pair& x, std::size_t at, unsigned shift = 0);

/// The canonical form, for a value below 2^(16 size - 1) in magnitude: carries from the lowest limb
/// up, one exact split per limb, and the top limb reduced to its signed residue modulo 2^16 (a
/// product keeps only the low limbs of its terms, which changes the top limb by a multiple of 2^16
/// only).
void normalise(backend& b, bigint& v);

/// normalise on several numbers of the same size at once (their limbs side by side: the same rounds
/// as one).
void normalise_all(backend& b, std::initializer_list<bigint*> numbers);

/// v with `size` limbs: a canonical v's value, zeros above (canonical again once normalised).
bigint resized(backend& b, const bigint& v, std::size_t size);

/// v times the per-group secret f, |f| < 2^44, v canonical: one mul; loose.
bigint scaled(backend& b, const bigint& v, const secret& f);

/// The product of two canonical numbers, its low `size` limbs: one mul; loose.
bigint product(backend& b, const bigint& x, const bigint& y, std::size_t size = limb_count);

/// v times the public c >= 0 (any 128-bit value: its 16-bit digits times v's limbs), for a
/// canonical v, normalised; its low limbs as many as v has.
void times_public(backend& b, bigint& v, u128 c);

/// floor(v / d) of a canonical v for 1 <= d < 2^45, canonical: the limbs from the top, each
/// remainder (below d) carried into the next, r 2^16 + limb < 2^62.
bigint long_divide(backend& b, const bigint& v, const secret& d);

/// A value of the ring (|v| < 2^62) as `size` canonical limbs.
bigint limbs_of(backend& b, const secret& v, std::size_t size = limb_count);

/// floor(v / 2^(16 k)) of a canonical v: the limbs k places down, zeros above.
bigint drop_limbs(backend& b, const bigint& v, std::size_t k);

/// Per group, 1 where the canonical v is negative (its top limb is).
secret negative(backend& b, const bigint& v);

/// The largest c >= 0 per group with c = 0 or (2 c - 1)^power p <= q (power 1 or 2), for a canonical
/// p > 0 and q (q of the limbs both are computed in; p at most as many), given `near` within
/// `window` of it (both below 2^60): for power 2 that is sqrt(q / p) / 2 rounded half up, for power
/// 1 q / (2 p) rounded half up. A radix-16 search over [max(0, near - window), near + window],
/// each step 15 exact comparisons of the candidates at once (nearest.cpp).
secret largest_below(backend& b, const bigint& p, const bigint& q, unsigned power, const secret& near, word window);

/// The radix-16 steps of largest_below for `window`: 16^steps > 2 window.
unsigned search_steps(u128 window);

/// largest_below for answers beyond the ring: `near` a canonical limb number (any size), the window
/// below 2^120, the answer as a canonical number of q's limbs.
bigint largest_below(backend& b, const bigint& p, const bigint& q, unsigned power, const bigint& near,
                     u128 window);

} // namespace joconde::engines::kernels::detail
