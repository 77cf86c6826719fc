// The rss3 party: sharing, local operations, multiplication, dot products and the round machinery.

#include "joconde/engines/rss3/party.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace joconde::engines::rss3 {

namespace {

std::string sizes(const secret& x, const secret& y) {
  return std::to_string(x.size()) + " and " + std::to_string(y.size());
}

} // namespace

std::vector<word> reserved_words(std::size_t n) {
  constexpr std::size_t populate_bytes = std::size_t{1} << 21;
  std::vector<word> v;
  v.reserve(n);
  if (n * sizeof(word) >= populate_bytes) {
    auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    auto begin = (reinterpret_cast<std::uintptr_t>(v.data()) + page - 1) & ~(page - 1);
    auto end = reinterpret_cast<std::uintptr_t>(v.data() + n) & ~(page - 1);
    // Best effort: kernels before 5.14 refuse it and the pages are faulted in on first write.
    if (end > begin)
      ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
  }
  return v;
}

std::vector<word> fresh_words(std::size_t n) {
  auto v = reserved_words(n);
  v.resize(n);
  return v;
}

party_backend::party_backend(unsigned self, std::unique_ptr<channel> to_next,
                             std::unique_ptr<channel> to_prev, const seed& own, const seed& successor,
                             std::chrono::milliseconds io_timeout)
  : self_(self), to_next_(std::move(to_next)), to_prev_(std::move(to_prev)), own_(own),
    successor_(successor), io_timeout_(io_timeout), scratch_(frame_words + chunk_words),
    operands_(4 * frame_words) {
  // nop
}

party_backend::~party_backend() = default;

// -- machinery ------------------------------------------------------------------------------------

void party_backend::refuse(const std::string& what) {
  failed_ = true;
  to_next_->close();
  to_prev_->close();
  throw engine_failure(fail(errc::invalid_state, "rss3 party " + std::to_string(self_) + ": " + what));
}

void party_backend::same_size(const secret& x, const secret& y, const char* op) {
  if (x.size() != y.size() || x.a.size() != x.b.size() || y.a.size() != y.b.size())
    refuse(std::string{op} + " of vectors of " + sizes(x, y) + " elements (or malformed shares)");
}

void party_backend::round(std::span<send_job> sends, std::span<recv_job> recvs) {
  if (failed_)
    throw engine_failure(fail(errc::invalid_state, "rss3 party " + std::to_string(self_)
                                                     + ": an earlier operation failed; start a new run"));
  ++stats_.rounds;
  for (auto& s : sends) {
    stats_.bytes_sent += s.words * sizeof(word);
    stats_.bytes_to[(self_ + (s.to == to_next_.get() ? 1 : 2)) % 3] += s.words * sizeof(word);
  }
  try {
    exchange(sends, recvs, io_timeout_);
  } catch (...) {
    failed_ = true;
    to_next_->close();
    to_prev_->close();
    throw;
  }
}

void party_backend::zero_share(std::uint64_t stream, std::size_t offset, word* out, std::size_t n,
                               sharing kind) {
  // Chunk by chunk, so both keystreams are still in L1 when they are combined.
  word* other = scratch_.data() + frame_words;
  for (std::size_t done = 0; done < n;) {
    std::size_t count = std::min(chunk_words, n - done);
    own_.fill(stream, offset + done, out + done, count);
    successor_.fill(stream, offset + done, other, count);
    if (kind == sharing::arithmetic)
      for (std::size_t j = 0; j < count; ++j)
        out[done + j] -= other[j];
    else
      for (std::size_t j = 0; j < count; ++j)
        out[done + j] ^= other[j];
    done += count;
  }
}

// -- sharing --------------------------------------------------------------------------------------

secret party_backend::component(unsigned index, std::span<const word> values, std::size_t n) const {
  secret r{fresh_words(n), fresh_words(n)};
  if (index == self_)
    std::copy(values.begin(), values.end(), r.a.begin());
  else if (index == (self_ + 1) % 3)
    std::copy(values.begin(), values.end(), r.b.begin());
  return r;
}

secret party_backend::constant(std::span<const word> values) {
  return component(0, values, values.size());
}

secret party_backend::constant(word value, std::size_t n) {
  secret r{fresh_words(n), fresh_words(n)};
  if (self_ == 0)
    std::fill(r.a.begin(), r.a.end(), value);
  else if (self_ == 2)
    std::fill(r.b.begin(), r.b.end(), value);
  return r;
}

secret party_backend::share_from(unsigned owner, std::span<const word> values, std::size_t n,
                                 sharing kind) {
  secret r;
  share_from_into(owner, values, n, kind, r);
  return r;
}

void party_backend::share_from_into(unsigned owner, std::span<const word> values, std::size_t n,
                                    sharing kind, secret& r) {
  if (owner > 2)
    refuse("input from party " + std::to_string(owner) + ", there are parties 0 to 2");
  if (self_ == owner ? values.size() != n : !values.empty())
    refuse("input from party " + std::to_string(owner) + " announced as " + std::to_string(n)
           + " values but given " + std::to_string(values.size()) + " here");
  auto stream = next_stream();
  if (r.a.size() != n || r.b.size() != n)
    r = secret{fresh_words(n), fresh_words(n)};
  if (self_ == owner) {
    // x_o and x_(o+1) come from the seeds both holders know; only x_(o+2) travels.
    own_.fill(stream, 0, r.a.data(), n);
    successor_.fill(stream, 0, r.b.data(), n);
    if (spare_.size() != n)
      spare_ = fresh_words(n);
    auto& rest = spare_;
    if (kind == sharing::arithmetic)
      for (std::size_t j = 0; j < n; ++j)
        rest[j] = values[j] - r.a[j] - r.b[j];
    else
      for (std::size_t j = 0; j < n; ++j)
        rest[j] = values[j] ^ r.a[j] ^ r.b[j];
    const word* p = rest.data();
    std::array<send_job, 2> sends{send_words(to_next_.get(), p, n), send_words(to_prev_.get(), p, n)};
    round(sends, {});
  } else if (self_ == (owner + 1) % 3) {
    own_.fill(stream, 0, r.a.data(), n);
    std::array<recv_job, 1> recvs{receive_words(to_prev_.get(), r.b.data(), n)};
    round({}, recvs);
  } else {
    successor_.fill(stream, 0, r.b.data(), n);
    std::array<recv_job, 1> recvs{receive_words(to_next_.get(), r.a.data(), n)};
    round({}, recvs);
  }
}

secret party_backend::input(unsigned owner, std::span<const word> values, std::size_t n) {
  return share_from(owner, values, n, sharing::arithmetic);
}

std::vector<word> party_backend::missing_component(const secret& x) {
  std::size_t n = x.size();
  std::vector<word> missing = fresh_words(n);
  std::array<send_job, 1> sends{send_words(to_next_.get(), x.a.data(), n)};
  std::array<recv_job, 1> recvs{receive_words(to_prev_.get(), missing.data(), n)};
  round(sends, recvs);
  return missing;
}

std::vector<word> party_backend::reveal(const secret& x) {
  same_size(x, x, "reveal");
  auto missing = missing_component(x);
  for (std::size_t j = 0; j < missing.size(); ++j)
    missing[j] += x.a[j] + x.b[j];
  return missing;
}

// -- local operations -----------------------------------------------------------------------------

secret party_backend::add(const secret& x, const secret& y) {
  same_size(x, y, "add");
  secret r{fresh_words(x.size()), fresh_words(x.size())};
  for (std::size_t j = 0; j < r.size(); ++j) {
    r.a[j] = x.a[j] + y.a[j];
    r.b[j] = x.b[j] + y.b[j];
  }
  return r;
}

secret party_backend::sub(const secret& x, const secret& y) {
  same_size(x, y, "sub");
  secret r{fresh_words(x.size()), fresh_words(x.size())};
  for (std::size_t j = 0; j < r.size(); ++j) {
    r.a[j] = x.a[j] - y.a[j];
    r.b[j] = x.b[j] - y.b[j];
  }
  return r;
}

secret party_backend::add_public(const secret& x, word c) {
  same_size(x, x, "add_public");
  secret r{x.a, x.b};
  if (self_ == 0)
    for (auto& v : r.a)
      v += c;
  else if (self_ == 2)
    for (auto& v : r.b)
      v += c;
  return r;
}

secret party_backend::mul_public(const secret& x, word c) {
  same_size(x, x, "mul_public");
  secret r{fresh_words(x.size()), fresh_words(x.size())};
  for (std::size_t j = 0; j < r.size(); ++j) {
    r.a[j] = x.a[j] * c;
    r.b[j] = x.b[j] * c;
  }
  return r;
}

secret party_backend::sum(const secret& x) {
  same_size(x, x, "sum");
  word a = 0;
  word b = 0;
  for (std::size_t j = 0; j < x.size(); ++j) {
    a += x.a[j];
    b += x.b[j];
  }
  return secret{{a}, {b}};
}

// -- multiplication -------------------------------------------------------------------------------

secret party_backend::multiply(const secret& x, const secret& y, sharing kind) {
  secret r;
  multiply_into(x, y, kind, r);
  return r;
}

void party_backend::multiply_into(const secret& x, const secret& y, sharing kind, secret& r) {
  same_size(x, y, kind == sharing::arithmetic ? "mul" : "and");
  std::size_t n = x.size();
  // A fresh result (its pages already populated by reserved_words) grows frame by frame and is
  // written once, never zeroed first; a result of the right size is overwritten in place.
  bool grow = r.a.size() != n || r.b.size() != n;
  if (grow)
    r = secret{reserved_words(n), reserved_words(n)};
  auto stream = next_stream();
  word* frame = scratch_.data();
  // Frame by frame: z_i = x_i y_i + x_i y_(i+1) + x_(i+1) y_i + alpha_i, sent to party i-1 while
  // the next frame is computed; within a frame, chunk by chunk (the zero sharing is still in L1
  // when the products are added), and the frame is encrypted from the cache-hot buffer.
  auto produce = [&](std::size_t off, std::size_t count) -> const word* {
    word* z = grow ? frame : r.a.data() + off;
    for (std::size_t c = 0; c < count; c += chunk_words) {
      std::size_t m = std::min(chunk_words, count - c);
      word* zc = z + c;
      zero_share(stream, off + c, zc, m, kind);
      const word* xa = x.a.data() + off + c;
      const word* xb = x.b.data() + off + c;
      const word* ya = y.a.data() + off + c;
      const word* yb = y.b.data() + off + c;
      if (kind == sharing::arithmetic)
        for (std::size_t j = 0; j < m; ++j)
          zc[j] += xa[j] * (ya[j] + yb[j]) + xb[j] * ya[j];
      else
        for (std::size_t j = 0; j < m; ++j)
          zc[j] ^= (xa[j] & (ya[j] ^ yb[j])) ^ (xb[j] & ya[j]);
    }
    if (grow)
      r.a.insert(r.a.end(), z, z + count);
    return z;
  };
  std::array<send_job, 1> sends{send_job{to_prev_.get(), n, produce}};
  std::array<recv_job, 1> recvs{receive_words(to_next_.get(), r.b.data(), n)};
  if (grow)
    recvs[0].deliver = [&r](std::size_t, std::size_t count, const word* data) {
      r.b.insert(r.b.end(), data, data + count);
    };
  round(sends, recvs);
}

void party_backend::and_round(std::size_t n, const operand_fn& operands, secret& r) {
  if (r.a.size() != n || r.b.size() != n)
    r = secret{fresh_words(n), fresh_words(n)};
  auto stream = next_stream();
  auto produce = [&](std::size_t off, std::size_t count) -> const word* {
    word* la = operands_.data();
    word* lb = la + frame_words;
    word* ra = lb + frame_words;
    word* rb = ra + frame_words;
    operands(off, count, la, lb, ra, rb);
    word* z = r.a.data() + off;
    zero_share(stream, off, z, count, sharing::boolean);
    for (std::size_t j = 0; j < count; ++j)
      z[j] ^= (la[j] & (ra[j] ^ rb[j])) ^ (lb[j] & ra[j]);
    return z;
  };
  std::array<send_job, 1> sends{send_job{to_prev_.get(), n, produce}};
  std::array<recv_job, 1> recvs{receive_words(to_next_.get(), r.b.data(), n)};
  round(sends, recvs);
}

secret party_backend::mul(const secret& x, const secret& y) {
  return multiply(x, y, sharing::arithmetic);
}

secret party_backend::dot(const secret& x, const secret& y, std::size_t block) {
  same_size(x, y, "dot");
  if (block == 0 && x.size() != 0)
    refuse("dot of " + std::to_string(x.size()) + " elements in blocks of 0");
  const std::size_t n = x.size();
  std::size_t k = block == 0 ? 0 : (n + block - 1) / block;
  secret r{std::vector<word>(k), std::vector<word>(k)};
  auto stream = next_stream();
  zero_share(stream, 0, r.a.data(), k, sharing::arithmetic);
  for (std::size_t j = 0; j < k; ++j) {
    word acc = 0;
    for (std::size_t e = j * block; e < std::min((j + 1) * block, n); ++e)
      acc += x.a[e] * (y.a[e] + y.b[e]) + x.b[e] * y.a[e];
    r.a[j] += acc;
  }
  const word* p = r.a.data();
  std::array<send_job, 1> sends{send_words(to_prev_.get(), p, k)};
  std::array<recv_job, 1> recvs{receive_words(to_next_.get(), r.b.data(), k)};
  round(sends, recvs);
  return r;
}

secret party_backend::mux(const secret& c, const secret& x, const secret& y) {
  same_size(c, x, "mux");
  same_size(x, y, "mux");
  return add(y, mul(c, sub(x, y)));
}

} // namespace joconde::engines::rss3
