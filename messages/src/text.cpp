// Hex and base64 (see text.hpp); base64 is OpenSSL's, checked strictly before it is decoded.

#include "joconde/messages/text.hpp"

#include <openssl/evp.h>

namespace joconde::text {

namespace {

std::span<const std::uint8_t> bytes_of(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The value of a base64 digit, or -1.
int base64_value(char c) noexcept {
  constexpr std::string_view digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto at = digits.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

} // namespace

std::string hex(std::span<const std::uint8_t> data, hex_style style) {
  const char* digits = style == hex_style::lower ? "0123456789abcdef" : "0123456789ABCDEF";
  const bool colons = style == hex_style::upper_colons;
  std::string out;
  out.reserve(data.size() * (colons ? 3 : 2));
  for (auto b : data) {
    if (colons && !out.empty())
      out.push_back(':');
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0x0f]);
  }
  return out;
}

std::string hex(std::string_view data, hex_style style) {
  return hex(bytes_of(data), style);
}

result<std::vector<std::uint8_t>> from_hex(std::string_view str) {
  if (str.size() % 2 != 0)
    return fail(errc::malformed_input, "hex string has an odd number of digits ("
                                         + std::to_string(str.size()) + "); give two per byte");
  std::vector<std::uint8_t> out;
  out.reserve(str.size() / 2);
  for (std::size_t i = 0; i < str.size(); i += 2) {
    auto hi = hex_value(str[i]);
    auto lo = hex_value(str[i + 1]);
    if (hi < 0 || lo < 0)
      return fail(errc::malformed_input, "hex string has a non-hex character at position "
                                           + std::to_string(hi < 0 ? i : i + 1)
                                           + "; use only 0-9, a-f and A-F");
    out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return out;
}

std::string to_base64(std::span<const std::uint8_t> data) {
  // EVP_EncodeBlock counts in int: whole groups of 3 bytes at a time, far below INT_MAX.
  constexpr std::size_t step = std::size_t{3} << 20;
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  std::size_t written = 0;
  for (std::size_t at = 0; at < data.size(); at += step) {
    auto part = data.subspan(at, std::min(step, data.size() - at));
    auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + written), part.data(),
                             static_cast<int>(part.size()));
    written += static_cast<std::size_t>(n);
  }
  out.resize(written);
  return out;
}

std::string to_base64(std::string_view data) {
  return to_base64(bytes_of(data));
}

result<std::vector<std::uint8_t>> from_base64(std::string_view str) {
  if (str.size() > (std::size_t{1} << 30))
    return fail(errc::malformed_input, "base64 text is longer than 1 GiB");
  if (str.size() % 4 != 0)
    return fail(errc::malformed_input, "base64 text must be a multiple of 4 characters long (it has "
                                         + std::to_string(str.size()) + "); is it cut short?");
  std::size_t pad = 0;
  if (!str.empty() && str.back() == '=')
    pad = str[str.size() - 2] == '=' ? 2 : 1;
  for (std::size_t i = 0; i + pad < str.size(); ++i)
    if (base64_value(str[i]) < 0)
      return fail(errc::malformed_input, "not base64: unexpected character at offset "
                                           + std::to_string(i) + " (use A-Z, a-z, 0-9, '+' and '/', "
                                           "'=' only as padding at the end)");
  // The bits the last digit carries beyond the bytes must be zero, or two texts mean the same bytes.
  if (pad > 0 && (base64_value(str[str.size() - pad - 1]) & (pad == 1 ? 0x03 : 0x0f)) != 0)
    return fail(errc::malformed_input, "not base64: the last digit before the padding has bits "
                                       "set that encode nothing (a non-canonical encoding)");
  std::vector<std::uint8_t> out(str.size() / 4 * 3);
  auto n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(str.data()),
                           static_cast<int>(str.size()));
  if (n < 0)
    return fail(errc::malformed_input, "not base64");
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

} // namespace joconde::text
