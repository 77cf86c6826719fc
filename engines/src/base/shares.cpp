#include "joconde/engines/engine.hpp"

#include <cstring>

namespace joconde::engines {

namespace {

// Layout: "JSH1", one byte of components (1 or 2), three zero bytes, the row count as 8 bytes
// little-endian, then the rows of `a` and (with 2 components) of `b`, 8 bytes little-endian each.
constexpr std::uint8_t magic[4] = {'J', 'S', 'H', '1'};
constexpr std::size_t header_size = 16;

void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

} // namespace

std::vector<std::uint8_t> encode_shares(const secret& x) {
  bool two = !x.b.empty();
  std::vector<std::uint8_t> out;
  out.reserve(header_size + 8 * x.size() * (two ? 2 : 1));
  out.insert(out.end(), std::begin(magic), std::end(magic));
  out.push_back(two ? 2 : 1);
  out.insert(out.end(), 3, 0);
  put_u64(out, x.size());
  for (auto v : x.a)
    put_u64(out, v);
  for (auto v : x.b)
    put_u64(out, v);
  return out;
}

result<secret> decode_shares(std::span<const std::uint8_t> bytes, std::size_t max_rows) {
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
  if (body % 8 != 0 || body / 8 != rows * components)
    return fail(errc::malformed_input, "share file of " + std::to_string(rows) + " rows has "
                                         + std::to_string(body) + " bytes of shares, expected "
                                         + std::to_string(rows * components * 8));
  secret x;
  x.a.resize(rows);
  if (components == 2)
    x.b.resize(rows);
  const auto* p = bytes.data() + header_size;
  for (std::size_t i = 0; i < rows; ++i, p += 8)
    x.a[i] = get_u64(p);
  for (std::size_t i = 0; i < x.b.size(); ++i, p += 8)
    x.b[i] = get_u64(p);
  return x;
}

} // namespace joconde::engines
