#pragma once

// Small helpers the libFuzzer targets share: reading structured values off the fuzzer's bytes and
// failing loudly when a parser breaks one of its promises (docs/fuzzing.md).

#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace joconde::fuzz {

/// Reads values off the front of the fuzzer's input; reads past the end yield zeros / empty.
class input {
public:
  input(const uint8_t* data, size_t size) : data_(data), size_(size) {
    // nop
  }

  /// The next byte, or 0.
  uint8_t byte() {
    return pos_ < size_ ? data_[pos_++] : 0;
  }

  /// The next 2 bytes, big-endian.
  uint16_t u16() {
    uint16_t hi = byte();
    return static_cast<uint16_t>(hi << 8 | byte());
  }

  /// The next 8 bytes, big-endian.
  uint64_t u64() {
    uint64_t x = 0;
    for (int i = 0; i < 8; ++i)
      x = x << 8 | byte();
    return x;
  }

  /// A string of at most `max` bytes, its length read first (one byte).
  std::string small_string(size_t max = 255) {
    size_t n = byte();
    n = std::min({n, max, size_ - pos_});
    std::string s{reinterpret_cast<const char*>(data_ + pos_), n};
    pos_ += n;
    return s;
  }

  /// Everything not read yet.
  std::string_view rest() {
    std::string_view s{reinterpret_cast<const char*>(data_ + pos_), size_ - pos_};
    pos_ = size_;
    return s;
  }

  /// Everything not read yet, as bytes.
  std::span<const uint8_t> rest_bytes() {
    std::span<const uint8_t> s{data_ + pos_, size_ - pos_};
    pos_ = size_;
    return s;
  }

  /// True when every byte was read.
  bool empty() const {
    return pos_ >= size_;
  }

private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

/// XORs the rest of `in`, read as (u16 offset, u8 mask) triples, into `msg` (offsets modulo its
/// size): mutations of a valid message that keep its length, so the parser gets past the envelope.
inline void apply_patches(input& in, std::string& msg) {
  if (msg.empty())
    return;
  while (!in.empty()) {
    auto at = in.u16() % msg.size();
    msg[at] = static_cast<char>(msg[at] ^ in.byte());
  }
}

/// Aborts with `what`: a parser broke a promise its interface makes (libFuzzer records a crash).
[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "fuzz: invariant violated: %s\n", what);
  std::abort();
}

/// Aborts unless `cond` holds.
inline void require(bool cond, const char* what) {
  if (!cond)
    violated(what);
}

/// Silences Protobuf's own log lines (invalid UTF-8 in a string field, ...): the parse result says
/// everything, and a line per input would slow a campaign down.
inline bool quiet_protobuf() {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}

} // namespace joconde::fuzz
