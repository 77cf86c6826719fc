#pragma once

// One rss3 party: the backend that `rss3::connect` returns. Party i holds the additive shares x_i and
// x_(i+1) of every value, PRG seeds k_i (its own) and k_(i+1) (its successor's), a channel to party
// i+1 and one to party i-1. Header of the implementation (the operations are split over several
// source files); users only need rss3.hpp.

#include "joconde/engines/backend.hpp"
#include "joconde/engines/rss3/channel.hpp"
#include "joconde/engines/rss3/prg.hpp"
#include "joconde/engines/rss3/rss3.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace joconde::engines::rss3 {

/// A zeroed vector of n words, its pages faulted in as reserved_words does.
std::vector<word> fresh_words(std::size_t n);

/// An empty vector with room for n words. When it is 2 MiB or more, its pages are faulted in up
/// front with one madvise(MADV_POPULATE_WRITE) call instead of one fault per 4 KiB page, and
/// without huge-page advice: on virtual machines that hand free memory back to the host (virtio
/// free page reporting, which works on 2 MiB blocks), a transparent huge page almost always comes
/// from memory the host must fault in again, which made first touching a 1e7-word vector three to
/// four times dearer and very variable (measured on the 2-core benchmark machine).
std::vector<word> reserved_words(std::size_t n);

/// Words per compute chunk inside a frame (zero sharing and products): 32 KiB, so the keystreams
/// and the partial result stay in L1/L2 between the passes over them.
inline constexpr std::size_t chunk_words = 4096;

/// Whether shares add up (arithmetic, Z_2^64) or XOR up (boolean, bit-sliced words).
enum class sharing { arithmetic, boolean };

/// The rss3 backend of one party.
class party_backend final : public backend {
public:
  /// A party with its two authenticated channels and its two PRG seeds (wiped by the caller).
  party_backend(unsigned self, std::unique_ptr<channel> to_next, std::unique_ptr<channel> to_prev,
                const seed& own, const seed& successor, std::chrono::milliseconds io_timeout);
  ~party_backend() override;

  unsigned party() const noexcept override { return self_; }
  unsigned parties() const noexcept override { return 3; }
  backend_stats stats() const noexcept override { return stats_; }

  secret constant(std::span<const word> values) override;
  secret constant(word value, std::size_t n) override;
  secret input(unsigned owner, std::span<const word> values, std::size_t n) override;
  std::vector<word> reveal(const secret& x) override;

  secret add(const secret& x, const secret& y) override;
  secret sub(const secret& x, const secret& y) override;
  secret add_public(const secret& x, word c) override;
  secret mul_public(const secret& x, word c) override;
  secret sum(const secret& x) override;

  secret mul(const secret& x, const secret& y) override;
  secret mul_trunc(const secret& x, const secret& y, unsigned frac) override;
  secret trunc(const secret& x, unsigned bits) override;
  secret dot(const secret& x, const secret& y, std::size_t block) override;
  secret lt(const secret& x, const secret& y) override;
  secret eq(const secret& x, const secret& y) override;
  std::vector<word> reveal_lt(const secret& x, const secret& y) override;
  secret mux(const secret& c, const secret& x, const secret& y) override;
  void shuffle(std::span<secret* const> columns) override;
  secret div(const secret& a, const secret& b, unsigned frac) override;
  secret sqrt(const secret& x, unsigned frac) override;

  // -- building blocks (also used by the comparison and fixed-point files) ---------------------

  /// Element-wise product (arithmetic) or AND (boolean) of two sharings of the same kind. One round.
  secret multiply(const secret& x, const secret& y, sharing kind);
  /// As multiply, into `out` (reusing its memory when it already has the right size; it must not
  /// be x or y).
  void multiply_into(const secret& x, const secret& y, sharing kind, secret& out);
  /// Computes the operand shares of elements [offset, offset + count) of an AND round into la, lb
  /// (left operand, components i and i+1) and ra, rb (right operand).
  using operand_fn = std::function<void(std::size_t offset, std::size_t count, word* la, word* lb,
                                        word* ra, word* rb)>;
  /// One boolean AND round over n elements whose operands are computed frame by frame by
  /// `operands`, so they never exist as whole vectors (cache friendly). Result into `out`.
  void and_round(std::size_t n, const operand_fn& operands, secret& out);
  /// Party `owner`'s private `values` as a fresh sharing of `kind` (others pass an empty span and
  /// the same n). One round: the owner sends n words to each counterpart.
  secret share_from(unsigned owner, std::span<const word> values, std::size_t n, sharing kind);
  /// As share_from, into `out` (reusing its memory when it already has the right size).
  void share_from_into(unsigned owner, std::span<const word> values, std::size_t n, sharing kind,
                       secret& out);
  /// A sharing in which component `component` is `values` (known to the two parties holding that
  /// component, typically a share itself) and the others are 0. Local; pass an empty span at the
  /// party that does not hold the component.
  secret component(unsigned component, std::span<const word> values, std::size_t n) const;
  /// Truncation by `bits` of a value given as this party's 3-out-of-3 share `t` (already masked
  /// with a zero sharing). Two rounds.
  secret truncate_3of3(std::vector<word> t, unsigned bits);
  /// Repairs the rare failure of truncate_3of3: its result is off by exactly +-2^(64 - bits)
  /// (with probability |x| / 2^64), which puts it beyond +-2^(63 - bits) where no correct result
  /// of |x| < 2^62 lies; one batched comparison finds those and moves them back. bits >= 2.
  secret repair_truncation(secret q, unsigned bits);
  /// The 3-out-of-3 shares of x * y plus a zero sharing (no communication).
  std::vector<word> product_3of3(const secret& x, const secret& y);
  /// The boolean sharing (into work_[3]) whose bit 63 is [x < y], for |x - y| < 2^63: lt's adder.
  /// Eight rounds.
  void lt_bits(const secret& x, const secret& y);
  /// x - y split for a boolean adder, as split_for_boolean_into does, into work_[1] (S) and
  /// work_[2] (T): how lt and eq begin. One round.
  void split_difference(const secret& x, const secret& y);
  /// The component of `x` this party lacks (x_(i-1)), received from party i - 1 while sending it
  /// x_i: what opening x takes, for arithmetic (+) and boolean (^) sharings alike. One round.
  std::vector<word> missing_component(const secret& x);
  /// Arithmetic sharing of the bit at position `bit` of a boolean sharing. Two rounds.
  secret bit_to_arithmetic(const secret& x, unsigned bit);
  /// A boolean sharing S and arithmetic-to-boolean-ready T with S + T = d (as integers mod 2^64):
  /// S is d0 + d1 reshared by party 0, T is d2 held by parties 1 and 2. One round.
  std::pair<secret, secret> split_for_boolean(const secret& d);
  /// As split_for_boolean, into s and t.
  void split_for_boolean_into(const secret& d, secret& s, secret& t);
  /// A fresh PRG stream id (every party draws the same sequence).
  std::uint64_t next_stream() noexcept { return stream_++; }
  /// Words [offset, offset + n) of the zero sharing of `stream`: F(k_i) - F(k_(i+1)) (arithmetic)
  /// or F(k_i) ^ F(k_(i+1)) (boolean).
  void zero_share(std::uint64_t stream, std::size_t offset, word* out, std::size_t n, sharing kind);
  /// Throws engine_failure(invalid_state) after closing the channels, so the others fail too.
  [[noreturn]] void refuse(const std::string& what);
  /// Throws unless x and y have the same size.
  void same_size(const secret& x, const secret& y, const char* op);

  /// One communication round: moves the messages, counts rounds and bytes; on failure closes the
  /// channels and rethrows.
  void round(std::span<send_job> sends, std::span<recv_job> recvs);

  /// The channel to party i+1.
  channel& next() noexcept { return *to_next_; }
  /// The channel to party i-1.
  channel& prev() noexcept { return *to_prev_; }
  /// The PRG keyed by k_i.
  prg& own() noexcept { return own_; }
  /// The PRG keyed by k_(i+1).
  prg& successor() noexcept { return successor_; }

private:
  unsigned self_;
  std::unique_ptr<channel> to_next_;
  std::unique_ptr<channel> to_prev_;
  prg own_;
  prg successor_;
  std::chrono::milliseconds io_timeout_;
  std::uint64_t stream_ = 0;
  backend_stats stats_;
  bool failed_ = false;
  std::vector<word> scratch_;
  std::vector<word> operands_;
  // Working vectors of lt and eq, kept between calls: memory already touched is several times
  // cheaper than fresh pages (bounded by block_elements).
  std::array<secret, 7> work_;
  // The owner's third share in share_from, kept for the same reason.
  std::vector<word> spare_;
};

/// Both authenticated channels of a party and its PRG seeds, before the backend is built.
struct links {
  std::unique_ptr<channel> to_next;  ///< channel to party i+1
  std::unique_ptr<channel> to_prev;  ///< channel to party i-1
  seed own{};                        ///< k_i
  seed successor{};                  ///< k_(i+1), received from party i+1

  links() = default;
  links(links&&) = default;
  links& operator=(links&&) = default;
  /// Wipes the seeds.
  ~links();
};

/// Connects, authenticates and agrees the seeds as `connect` does, without building the backend
/// (tests use the channels to misbehave on purpose).
result<links> open_links(const options& opts);

} // namespace joconde::engines::rss3
