#include "joconde/engines/engine.hpp"

#include <bit>
#include <cstring>

namespace joconde::engines {

namespace {

// Layout: "JSH1", one byte of components (1 or 2), three zero bytes, the row count as 8 bytes
// little-endian, then the rows of `a` and (with 2 components) of `b`, 8 bytes little-endian each.
constexpr std::uint8_t magic[4] = {'J', 'S', 'H', '1'};
constexpr std::size_t header_size = 16;

std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

} // namespace

std::vector<std::uint8_t> encode_shares(const secret& x) {
  bool two = !x.b.empty();
  std::vector<std::uint8_t> out(header_size + 8 * x.size() * (two ? 2 : 1));
  std::memcpy(out.data(), magic, 4);
  out[4] = two ? 2 : 1;
  auto* p = out.data() + 8;
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<std::uint8_t>(std::uint64_t{x.size()} >> (8 * i));
  p = out.data() + header_size;
  for (const auto* column : {&x.a, &x.b}) {
    // An absent second component: memcpy must not see its null data() (found by shares_fuzz).
    if (column->empty())
      continue;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(p, column->data(), 8 * column->size());
      p += 8 * column->size();
    } else {
      for (auto v : *column)
        for (int i = 0; i < 8; ++i)
          *p++ = static_cast<std::uint8_t>(v >> (8 * i));
    }
  }
  return out;
}

result<std::size_t> check_shares(std::span<const std::uint8_t> bytes, std::size_t max_rows) {
  if (bytes.size() < header_size || std::memcmp(bytes.data(), magic, 4) != 0)
    return fail(errc::malformed_input, "not a joconde share file (no JSH1 header)");
  auto components = bytes[4];
  if ((components != 1 && components != 2) || bytes[5] != 0 || bytes[6] != 0 || bytes[7] != 0)
    return fail(errc::malformed_input, "share file header is malformed");
  auto rows = get_u64(bytes.data() + 8);
  if (rows > max_rows)
    return fail(errc::too_large, "share file holds " + std::to_string(rows) + " rows, at most "
                                   + std::to_string(max_rows) + " allowed");
  auto body = bytes.size() - header_size;
  // Divided, not multiplied: rows * components wraps for a row count near 2^64 that a caller
  // without a row limit lets through (found by shares_fuzz).
  if (body % (8 * components) != 0 || body / (8 * components) != rows)
    return fail(errc::malformed_input, "share file of " + std::to_string(rows) + " rows has "
                                         + std::to_string(body) + " bytes of shares, expected "
                                         + std::to_string(rows * components * 8));
  return static_cast<std::size_t>(rows);
}

result<secret> decode_shares(std::span<const std::uint8_t> bytes, std::size_t max_rows) {
  auto rows = check_shares(bytes, max_rows);
  if (!rows)
    return rows.err();
  secret x;
  x.a.resize(*rows);
  if (bytes[4] == 2)
    x.b.resize(*rows);
  const auto* p = bytes.data() + header_size;
  for (auto* column : {&x.a, &x.b}) {
    if (column->empty())
      continue;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(column->data(), p, 8 * column->size());
      p += 8 * column->size();
    } else {
      for (auto& v : *column) {
        v = get_u64(p);
        p += 8;
      }
    }
  }
  return x;
}

} // namespace joconde::engines
