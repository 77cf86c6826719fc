// sort_distinct: a shuffle, then a comparison sort whose comparisons are revealed.
//
// After backend::shuffle the rows are in an order nobody knows, and with distinct keys the ranks of
// the shuffled keys are a uniformly random permutation. Every comparison below is chosen by the
// outcomes revealed before it (and n), so the whole sequence of outcomes is a function of that
// random permutation only: it tells nothing about the data but n.
//
// The sort is level-synchronous: all comparisons that can be made at once go in one reveal_lt
// (split in batches of batch_limit to bound memory). Two kinds of levels:
// - quicksort: every open segment is partitioned around its first element (a random pivot, thanks
//   to the shuffle); about 2 n ln n = 1.39 n log2 n comparisons and 4.3 ln n levels;
// - insertion: the next places are inserted into the sorted prefix by parallel binary search (one
//   comparison per element and level, log2 of the prefix levels), which leaves them in buckets
//   between consecutive sorted keys; the buckets (about 3 elements each) are then quicksorted.
// Below quicksort_only rows the sort is a quicksort. Above, the first n/64 places are quicksorted
// and then grown to n/16, n/4 and n by insertion: about 0.96 n log2 n comparisons (25 % fewer than
// quicksort alone, measured by simulation at 10^6 and 10^7 rows) in about 120 levels at 10^6 rows
// (quicksort alone: 50); a constant number of steps keeps the levels O(log n).
//
// top_distinct wants only the first k places: the quicksort alone, keeping open only the segments
// that reach below place k (a quickselect).
//
// Only the key moves while sorting (its shares follow their places; a two-word key moves as a
// unit); every other column is permuted once at the end by the order found, locally.

#include "joconde/engines/kernels.hpp"

#include "common.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

namespace joconde::engines::kernels {

using namespace detail;

namespace {

/// Most comparisons in one lt call: bounds the batch buffers at 10^7 rows (rss3 processes lt in
/// blocks of this size anyway, so the split costs it no extra rounds).
constexpr std::size_t batch_limit = std::size_t{1} << 20;

/// Rows below which the sort is a quicksort alone (where levels cost more than comparisons).
constexpr std::size_t quicksort_only = std::size_t{1} << 12;

/// A run of places [first, first + size) not sorted yet; its first place holds the pivot.
struct segment {
  std::uint32_t first = 0;
  std::uint32_t size = 0;
};

/// The sort's state. Buffers are kept between levels, so their capacity is reused.
struct sorter {
  std::size_t words = 1;             // words per key: 1, or 2 for (high, low) pairs
  std::vector<std::uint32_t> order;  // the shuffled row at each place
  secret keys;                       // its key shares, in place order (`words` per place)
  // A level's comparisons: whether the key at place left[k] is below the key at place right[k].
  std::vector<std::uint32_t> left;
  std::vector<std::uint32_t> right;
  std::vector<std::uint8_t> below;  // their revealed outcomes
  secret element;                   // one batch of the keys at left and right
  secret pivot;
  std::size_t limit = 0;      // only places [0, limit) need be sorted (top_distinct)
  std::vector<segment> open;  // quicksort: the segments still unsorted
  std::vector<segment> next;
  std::vector<std::uint32_t> lo;  // insertion: the sorted places [lo, hi) an element may go before
  std::vector<std::uint32_t> hi;
  std::vector<std::uint32_t> spare_order;  // room for rearranging places
  secret spare_keys;
};

bool with_b(const sorter& s) {
  return !s.keys.b.empty();
}

/// Copies the key words of place `from` of `src` to place `to` of `dst`.
void copy_key(const sorter& s, const secret& src, std::size_t from, secret& dst, std::size_t to) {
  for (std::size_t k = 0; k < s.words; ++k) {
    dst.a[to * s.words + k] = src.a[from * s.words + k];
    if (with_b(s))
      dst.b[to * s.words + k] = src.b[from * s.words + k];
  }
}

/// Copies place `from` of the sort's order and keys to place `to` of `order` and `keys`.
void copy_place(const sorter& s, std::size_t from, std::vector<std::uint32_t>& order, secret& keys,
                std::size_t to) {
  order[to] = s.order[from];
  copy_key(s, s.keys, from, keys, to);
}

/// Makes `x` hold n elements in the share layout of the sort's keys.
void resize_like(const sorter& s, secret& x, std::size_t n) {
  x.a.resize(n);
  x.b.resize(with_b(s) ? n : 0);
}

/// Writes word `word` of the key at each place of places[from, from + count) to x[at, at + count).
void gather_keys(const sorter& s, const std::vector<std::uint32_t>& places, std::size_t from,
                 std::size_t count, std::size_t word, secret& x, std::size_t at) {
  for (std::size_t k = 0; k < count; ++k)
    x.a[at + k] = s.keys.a[places[from + k] * s.words + word];
  if (with_b(s))
    for (std::size_t k = 0; k < count; ++k)
      x.b[at + k] = s.keys.b[places[from + k] * s.words + word];
}

/// Runs the level's comparisons (left/right) and stores their outcomes in `below`. One-word keys:
/// one reveal_lt per comparison. (high, low) pairs: with g = 1 - [ll < lr] (0 or 1),
/// (hl, ll) < (hr, lr) exactly when 2 hl + g < 2 hr + 1 (hl < hr: 2 hl + g <= 2 hr - 1; hl > hr:
/// 2 hl + g >= 2 hr + 2; hl == hr: when g == 0): two lt of one element per comparison, one after
/// the other (the second one revealed).
void compare_places(backend& b, sorter& s) {
  const std::size_t m = s.left.size();
  s.below.resize(m);
  for (std::size_t done = 0; done < m; done += batch_limit) {
    const std::size_t count = std::min(batch_limit, m - done);
    resize_like(s, s.element, count);
    resize_like(s, s.pivot, count);
    gather_keys(s, s.left, done, count, 0, s.element, 0);
    gather_keys(s, s.right, done, count, 0, s.pivot, 0);
    std::vector<word> bits;
    if (s.words == 1) {
      bits = b.reveal_lt(s.element, s.pivot);
    } else {
      secret low_left;
      secret low_right;
      resize_like(s, low_left, count);
      resize_like(s, low_right, count);
      gather_keys(s, s.left, done, count, 1, low_left, 0);
      gather_keys(s, s.right, done, count, 1, low_right, 0);
      auto g = one_minus(b, b.lt(low_left, low_right));
      bits = b.reveal_lt(b.add(b.mul_public(s.element, 2), g), b.add_public(b.mul_public(s.pivot, 2), 1));
    }
    for (std::size_t k = 0; k < count; ++k)
      s.below[done + k] = bits[k] != 0 ? 1 : 0;
  }
}

/// Partitions every open segment by the outcomes in `below` (stable: the elements below the pivot,
/// the pivot, the others) and keeps the parts of two or more places open.
void partition_level(sorter& s) {
  std::size_t largest = 0;
  for (const auto& g : s.open)
    largest = std::max<std::size_t>(largest, g.size);
  if (s.spare_order.size() < largest) {
    s.spare_order.resize(largest);
    resize_like(s, s.spare_keys, largest * s.words);
  }
  std::size_t k = 0;
  s.next.clear();
  for (const auto& g : s.open) {
    const std::size_t end = std::size_t{g.first} + g.size;
    // Spare place 0 keeps the pivot; elements below it move down in place (the pivot's place
    // frees the first slot); the others wait at spare places 1, 2, ...
    copy_place(s, g.first, s.spare_order, s.spare_keys, 0);
    std::size_t low = g.first;
    std::size_t high = 1;
    for (std::size_t t = std::size_t{g.first} + 1; t < end; ++t, ++k) {
      if (s.below[k] != 0) {
        copy_place(s, t, s.order, s.keys, low++);
        continue;
      }
      copy_place(s, t, s.spare_order, s.spare_keys, high++);
    }
    for (std::size_t j = 0; j < high; ++j) {
      s.order[low + j] = s.spare_order[j];
      copy_key(s, s.spare_keys, j, s.keys, low + j);
    }
    // A part wholly at or after place `limit` stays unsorted (top_distinct).
    const std::size_t lows = low - g.first;
    if (lows >= 2 && g.first < s.limit)
      s.next.push_back({g.first, static_cast<std::uint32_t>(lows)});
    if (high - 1 >= 2 && low + 1 < s.limit)
      s.next.push_back({static_cast<std::uint32_t>(low + 1), static_cast<std::uint32_t>(high - 1)});
  }
  std::swap(s.open, s.next);
}

/// Quicksort levels until no segment is open.
void quicksort_levels(backend& b, sorter& s) {
  while (!s.open.empty()) {
    s.left.clear();
    s.right.clear();
    for (const auto& g : s.open)
      for (std::uint32_t t = g.first + 1; t < g.first + g.size; ++t) {
        s.left.push_back(t);
        s.right.push_back(g.first);
      }
    compare_places(b, s);
    partition_level(s);
  }
}

/// Rearranges places [0, to) after the binary search of insert_block: bucket c (the elements with
/// lo == c), then sorted place c, for c = 0 .. from; opens every bucket of two or more elements.
void place_buckets(sorter& s, std::size_t from, std::size_t to) {
  std::vector<std::uint32_t> start(from + 1, 0);
  for (std::size_t i = 0; i < to - from; ++i)
    ++start[s.lo[i]];
  s.spare_order.resize(to);
  resize_like(s, s.spare_keys, to * s.words);
  s.open.clear();
  std::size_t at = 0;
  for (std::size_t c = 0; c <= from; ++c) {
    const std::uint32_t count = start[c];
    start[c] = static_cast<std::uint32_t>(at);
    if (count >= 2)
      s.open.push_back({static_cast<std::uint32_t>(at), count});
    at += count;
    if (c < from)
      copy_place(s, c, s.spare_order, s.spare_keys, at++);
  }
  for (std::size_t i = 0; i < to - from; ++i)
    copy_place(s, from + i, s.spare_order, s.spare_keys, start[s.lo[i]]++);
  std::copy_n(s.spare_order.begin(), to, s.order.begin());
  std::copy_n(s.spare_keys.a.begin(), to * s.words, s.keys.a.begin());
  if (with_b(s))
    std::copy_n(s.spare_keys.b.begin(), to * s.words, s.keys.b.begin());
}

/// Sorts places [0, to) given that [0, from) is sorted: parallel binary search of each place of
/// [from, to) in the sorted prefix, then a quicksort of the buckets it leaves.
void insert_block(backend& b, sorter& s, std::size_t from, std::size_t to) {
  const std::size_t k = to - from;
  s.lo.assign(k, 0);
  s.hi.assign(k, static_cast<std::uint32_t>(from));
  for (;;) {
    s.left.clear();
    s.right.clear();
    for (std::size_t i = 0; i < k; ++i)
      if (s.lo[i] < s.hi[i]) {
        s.left.push_back(static_cast<std::uint32_t>(from + i));
        s.right.push_back(static_cast<std::uint32_t>((std::size_t{s.lo[i]} + s.hi[i]) / 2));
      }
    if (s.left.empty())
      break;
    compare_places(b, s);
    std::size_t j = 0;
    for (std::size_t i = 0; i < k; ++i)
      if (s.lo[i] < s.hi[i]) {
        const auto mid = static_cast<std::uint32_t>((std::size_t{s.lo[i]} + s.hi[i]) / 2);
        if (s.below[j++] != 0)
          s.hi[i] = mid;
        else
          s.lo[i] = mid + 1;
      }
  }
  place_buckets(s, from, to);
  quicksort_levels(b, s);
}

/// Sorts places [0, limit) of the rows of `columns` (shuffled first) by their key, as sort_distinct
/// and top_distinct describe, and leaves min(limit, n) rows in every column: those places.
void sort_first(backend& b, std::span<secret* const> columns, std::size_t key_words, std::size_t limit,
                const char* kernel) {
  if (columns.empty())
    return;
  if (key_words != 1 && key_words != 2)
    size_error(kernel, std::to_string(key_words) + " key words (1 or 2 can be)");
  if (columns.size() < key_words)
    size_error(kernel, std::to_string(columns.size()) + " columns for " + std::to_string(key_words) + " key words");
  const std::size_t n = columns[0]->size();
  for (const secret* c : columns)
    expect_size(kernel, "column", *c, n);
  if (n >= std::size_t{1} << 32)
    size_error(kernel, std::to_string(n) + " rows, at most 2^32 - 1 are supported");
  b.shuffle(columns);
  const std::size_t kept = std::min(limit, n);
  if (n < 2) {
    for (secret* c : columns)
      *c = slice(*c, 0, kept);
    return;
  }
  sorter s;
  s.words = key_words;
  s.limit = kept;
  s.order.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    s.order[i] = static_cast<std::uint32_t>(i);
  if (key_words == 1) {
    s.keys = std::move(*columns[0]);
  } else {
    // Interleaved: the two words of a place side by side, so that places move as units.
    const bool shares_b = !columns[0]->b.empty();
    s.keys.a.resize(2 * n);
    s.keys.b.resize(shares_b ? 2 * n : 0);
    for (std::size_t w = 0; w < 2; ++w) {
      for (std::size_t i = 0; i < n; ++i)
        s.keys.a[2 * i + w] = columns[w]->a[i];
      if (shares_b)
        for (std::size_t i = 0; i < n; ++i)
          s.keys.b[2 * i + w] = columns[w]->b[i];
    }
  }
  // The whole order: quicksort, then insertion above quicksort_only rows. The first places only:
  // quickselect, partitioning only the segments that reach below the limit.
  const std::size_t first = n < quicksort_only || kept < n ? n : n >> 6;
  s.open.push_back({0, static_cast<std::uint32_t>(first)});
  quicksort_levels(b, s);
  if (first < n)
    for (unsigned shift : {4u, 2u, 0u})
      insert_block(b, s, n >> (shift + 2), n >> shift);
  for (std::size_t w = 0; w < key_words; ++w) {
    columns[w]->a.resize(kept);
    columns[w]->b.resize(with_b(s) ? kept : 0);
    for (std::size_t i = 0; i < kept; ++i)
      columns[w]->a[i] = s.keys.a[key_words * i + w];
    if (with_b(s))
      for (std::size_t i = 0; i < kept; ++i)
        columns[w]->b[i] = s.keys.b[key_words * i + w];
  }
  s.order.resize(kept);
  for (std::size_t c = key_words; c < columns.size(); ++c)
    *columns[c] = gather(*columns[c], s.order);
}

} // namespace

void sort_distinct(backend& b, std::span<secret* const> columns, std::size_t key_words) {
  sort_first(b, columns, key_words, std::numeric_limits<std::size_t>::max(), "sort_distinct");
}

void top_distinct(backend& b, std::span<secret* const> columns, std::size_t key_words, std::size_t limit) {
  sort_first(b, columns, key_words, limit, "top_distinct");
}

} // namespace joconde::engines::kernels
