#pragma once

// The text helpers every layer shares: trimming, ASCII case-insensitive comparison, hex and base64.
// They live here, in the lowest library, because the engines and the enclave use them too and link
// neither CAF nor the runtime. One implementation of each for the whole tree.

#include "joconde/messages/result.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::text {

/// The value of a hex digit, or -1.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// ASCII case-insensitive equality (header names, schemes).
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

/// `s` without its leading and trailing characters from `chars` (spaces and tabs unless told).
constexpr std::string_view trim(std::string_view s, std::string_view chars = " \t") noexcept {
  auto first = s.find_first_not_of(chars);
  if (first == std::string_view::npos)
    return {};
  return s.substr(first, s.find_last_not_of(chars) - first + 1);
}

/// How hex() writes bytes.
enum class hex_style {
  lower,        ///< "abcd01", two digits per byte, no separators
  upper_colons, ///< "AB:CD:01", as certificate fingerprints are shown
};

/// The bytes of `data` in hex.
std::string hex(std::span<const std::uint8_t> data, hex_style style = hex_style::lower);

/// The bytes of the string `data` in hex.
std::string hex(std::string_view data, hex_style style = hex_style::lower);

/// Parses hex (either case, an even number of digits, no separators); malformed_input naming the
/// first bad position otherwise.
result<std::vector<std::uint8_t>> from_hex(std::string_view str);

/// Standard base64 (RFC 4648 section 4, with padding, no line breaks).
std::string to_base64(std::span<const std::uint8_t> data);

/// The bytes of the string `data` in standard base64.
std::string to_base64(std::string_view data);

/// Parses standard base64: padding required, no whitespace or line breaks, the unused bits of the
/// last digit zero (one spelling per byte string), at most 1 GiB of text; malformed_input saying
/// what is wrong otherwise.
result<std::vector<std::uint8_t>> from_base64(std::string_view str);

} // namespace joconde::text
