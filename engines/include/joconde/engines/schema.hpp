#pragma once

// Typed table schemas of the task language and the encoding of clear values as ring elements
// (DESIGN.md §9). The types mirror proto `Column.Type`; ranges and the row bound are what the
// compiler uses to prove that no intermediate value overflows the ring.

#include "joconde/engines/backend.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::engines {

/// A column's data type.
enum class column_type {
  integer,   ///< signed 64-bit integer, encoded as itself (two's complement)
  decimal,   ///< decimal with `scale` digits after the point, encoded as value * 10^scale
  boolean,   ///< encoded as 0 or 1
  category,  ///< one of `domain`, encoded as its 0-based index in `domain`
  key,       ///< text identifier, used only to join: encoded as the first 58 bits of its SHA-256
             ///< (two of 10^6 distinct keys collide with probability about 2^-19)
};

/// "integer", "decimal", "boolean", "category", "key".
std::string_view to_string(column_type t) noexcept;

/// One column of a table.
struct column_schema {
  std::string name;
  column_type type = column_type::integer;
  unsigned scale = 0;                 ///< decimal: digits after the point (0..12)
  std::vector<std::string> domain;    ///< category: the declared values, in order (1..256 values)
  /// Declared range [min, max] in encoded units (a decimal 12.34 with scale 2 is 1234). Booleans
  /// and categories have an implicit range; integers and decimals without one are unbounded, and
  /// the compiler refuses any arithmetic on them that could overflow.
  std::optional<std::int64_t> min;
  std::optional<std::int64_t> max;
  /// Declared UNIQUE: every value occurs at most once among the input's rows (checked at upload),
  /// so a join on it may repeat the other side's key. Integer and key input columns only.
  bool unique = false;
  /// Declared NULL: a value may be missing (an empty CSV field), encoded as null_word; the
  /// algorithm treats it as SQL's NULL (docs/task-language.md §3.2). Not on keys nor with UNIQUE.
  bool nullable = false;
};

/// The encoding of a missing value (NULL) of a nullable column: -2^63, outside every declared range
/// (and refused as a value of a nullable unbounded integer).
inline constexpr word null_word = word{1} << 63;

/// A named input or output table.
struct table_schema {
  std::string name;
  std::vector<column_schema> columns;
  /// The most rows the table may have (inputs: enforced at upload; used by overflow proofs).
  std::uint64_t max_rows = 1'000'000;

  /// The column called `name`, or nullptr.
  const column_schema* find(std::string_view column) const noexcept;
};

/// Checks a schema on its own: names are identifiers and unique, scales and domains are in bounds,
/// min <= max, max_rows in 1..2^32, UNIQUE only on integer and key columns. malformed_input saying
/// what is wrong.
result<void> validate(const table_schema& schema);

/// Encodes one clear CSV field for `col`; malformed_input "column `name`: the value <reason>" (not a
/// number, too many decimals, out of the declared range, not in the domain, a key that is empty,
/// holds a NUL byte or is not UTF-8 ...). The message never quotes the value. An empty field of a
/// nullable column is null_word (missing); of any other column, refused.
result<word> encode_value(const column_schema& col, std::string_view text);

/// The clear text of an encoded value (decimal with exactly `scale` digits after the point,
/// "true"/"false", the category's name, "#<hex>" for a key; empty for null_word in a nullable
/// column).
std::string decode_value(const column_schema& col, word value);

/// How an output marks the cells its confidentiality rule withholds (SDMX's CONF_STATUS: "F" free,
/// "C" confidential): see sql::program::confidentiality.
struct output_flags {
  bool flagged = false;      ///< whether the output has a rule (and so the published column)
  /// The minimum-frequency rule, as written: "HAVING COUNT(*) >= 5", CONF_RULE of a row whose
  /// published code is 0 (empty without that rule).
  std::string rule;
  /// The dominance rule, as written: "DOMINANCE(turnover, 2) <= 85", CONF_RULE of a row whose
  /// published code is 2 (empty without that rule).
  std::string dominance_rule;
  /// GROUP BY ROLLUP's secondary suppression (secondary_rule), CONF_RULE of a row whose published
  /// code is 3, marked D (secondary confidentiality) in CONF_STATUS; empty without ROLLUP.
  std::string secondary_rule;
  std::vector<bool> shown;   ///< per schema column: kept for a withheld row (its group)
};

/// CONF_RULE of a cell withheld by GROUP BY ROLLUP's secondary suppression.
inline constexpr const char* secondary_rule = "secondary: it would give a withheld cell from its margin";

/// Words per value of an aggregate beyond the ring (kernels::wide_secret) in shares and outputs.
inline constexpr unsigned wide_words = 3;

/// The clear text of a three-word integer or decimal value hi 2^64 + mid 2^32 + lo (hi signed,
/// below 2^61 in magnitude; mid and lo in [0, 2^32): an aggregate beyond the ring, see
/// sql::program::output_words); "#invalid-wide" for words outside those ranges or another column
/// type.
std::string decode_wide(const column_schema& col, word hi, word mid, word lo);

} // namespace joconde::engines
