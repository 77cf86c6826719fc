#pragma once

// The exact multi-word arithmetic of the kernels beyond the ring (wide.cpp), for the statistics
// built on it (wide_moments.cpp). Internal to the kernels.

#include "common.hpp"

#include <utility>

namespace joconde::engines::kernels::detail {

/// An exact value hi 2^32 + lo per group (|hi| < 2^62), canonical where lo is in [0, 2^32): the
/// sums and quotients wide.cpp works in, made three words (wide_secret) for the result.
struct limb_pair {
  secret hi;
  secret lo;
};

/// q = floor(x / 2^f) and r = x - q 2^f in [0, 2^f), exactly, for |x| < 2^62 and f < 60: trunc,
/// then one lt of two elements corrects it by one either way (backend::trunc may be one too many;
/// one too few costs nothing more to allow).
std::pair<secret, secret> exact_split(backend& b, const secret& x, unsigned f);

/// (hi, lo) with lo in [0, 2^32) for the value hi 2^32 + lo, |lo| < 2^62.
limb_pair canonical(backend& b, const secret& hi, const secret& lo);

/// The canonical pair v as a result: its high limb split again, exactly.
wide_secret three_words(backend& b, const limb_pair& v);

/// A ring value (|v| < 2^62) as a result.
wide_secret three_words(backend& b, const secret& v);

/// q = floor(a / d) and r = a - q d in [0, d), exactly, for |a| < 2^62 and 1 <= d < 2^62 (a
/// secret d; public values as constants): three div, three mul and one lt of five elements. Where
/// |a| < 2^16 d (a long division's digit) one div and one mul suffice: `passes` 1.
std::pair<secret, secret> floor_div(backend& b, const secret& a, const secret& d, int passes = 3);

/// floor(v / d) of a canonical wide value for 1 <= d < 2^30: the high limb first, its remainder
/// (below d) carried into the low one, r 2^32 + lo < 2^62. With `rest`, the last remainder
/// v - q d in [0, d) there.
limb_pair divide(backend& b, const limb_pair& v, const secret& d, secret* rest = nullptr);

/// v / d rounded half away from zero, exactly, as three words, for a canonical v with
/// |hi| < 2^61 and 1 <= d < 2^30: divide on |v|, up by one where twice the remainder reaches d,
/// the sign back.
wide_secret rounded_quotient(backend& b, const limb_pair& v, const secret& d);

/// The canonical sum per group of the rows of x (below 2^bits in magnitude, bits <= 61) times mul
/// (mul < 2^30): exact block sums split into limbs, added per group, carried.
limb_pair scaled_sum(backend& b, const grouping& by, const secret& x, unsigned bits, word mul);

} // namespace joconde::engines::kernels::detail
