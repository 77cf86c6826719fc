#pragma once

// The exact moments in limbs that wide_moments.cpp and wide_regression.cpp share: the row counts,
// each variable's exact sum and centre, the exact n (n - 1) comoments, and the cuts of a limb
// number to its top bits. Internal to the kernels.

#include "bigint.hpp"

namespace joconde::engines::kernels::detail {

/// The rows per group, and n and n - 1 made at least 1 (for empty groups and single rows).
struct row_counts {
  secret n;
  secret n_safe;
  secret nm1_safe;
};

row_counts count_rows(backend& b, const grouping& by);

/// One variable's exact sum S, its centre c = floor(S / n) and sc = S - n c in [0, n) (both exact
/// in the ring), and its rows split as x = q 2^24 + r (`whole`: every row below 2^24, r = x and
/// no q).
struct centred_variable {
  limb_pair s;
  secret c;
  secret sc;
  secret q;
  secret r;
  bool whole = false;
};

centred_variable centre_of(backend& b, const grouping& by, const secret& x, unsigned bits, const row_counts& k);

/// n (n - 1) cov(x, y) = n C - sc_x sc_y with C = sum x y - c_x S_y - c_y sc_x = sum (x - c_x)(y - c_y),
/// exactly, canonical (for x == y: n (n - 1) var). In `size` limbs (at least 5): every step is
/// exact modulo 2^(16 size), so the result is where it fits.
bigint comoment(backend& b, const grouping& by, const row_counts& k, const centred_variable& x,
                const centred_variable& y, unsigned bits, std::size_t size = limb_count);

/// A canonical value below 2^125 in magnitude as three words.
wide_secret to_wide(backend& b, const bigint& v);

/// The cuts of a canonical v >= 0 below 2^188: for j = 0..limb_count - kept, v_j =
/// floor(v / 2^(16 j)) from limbs j to j + kept - 1, zeroed unless v_j < 2^60 (kept 4: limbs
/// above j + 3 zero, limb j + 3 below 2^12; then v_j >= 2^44 where j > 0) or v_j < 2^45 (kept 3;
/// then v_j >= 2^29 where j > 0), and `pick`, 1 at the lowest j that fits. Both are j-major,
/// cuts x G.
struct value_cuts {
  secret pick;
  secret candidates;
};

value_cuts cut(backend& b, const bigint& v, std::size_t kept = 4);

/// sum over k of pick[k] values[k], both k-major of `parts` x g: one mul.
secret choose(backend& b, const secret& pick, const secret& values, std::size_t parts);

} // namespace joconde::engines::kernels::detail
