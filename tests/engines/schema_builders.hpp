#pragma once

// Short builders for task-language schemas in tests: integer("age", 0, 120), decimal(...), ...

#include "joconde/engines/schema.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace joconde::test {

using engines::column_schema;
using engines::column_type;
using engines::table_schema;

/// A column of type `t`.
inline column_schema column(std::string name, column_type t, std::optional<std::int64_t> lo = {},
                            std::optional<std::int64_t> hi = {}, unsigned scale = 0,
                            std::vector<std::string> domain = {}) {
  column_schema c;
  c.name = std::move(name);
  c.type = t;
  c.min = lo;
  c.max = hi;
  c.scale = scale;
  c.domain = std::move(domain);
  return c;
}

/// An integer in [lo, hi].
inline column_schema integer(std::string name, std::int64_t lo, std::int64_t hi) {
  return column(std::move(name), column_type::integer, lo, hi);
}

/// An integer without a declared range.
inline column_schema unbounded(std::string name) {
  return column(std::move(name), column_type::integer);
}

/// A decimal with `scale` digits, in [lo, hi] (encoded units) when given.
inline column_schema decimal(std::string name, unsigned scale, std::optional<std::int64_t> lo = {},
                             std::optional<std::int64_t> hi = {}) {
  return column(std::move(name), column_type::decimal, lo, hi, scale);
}

/// A boolean.
inline column_schema boolean(std::string name) {
  return column(std::move(name), column_type::boolean);
}

/// A category with its declared values.
inline column_schema category(std::string name, std::vector<std::string> domain) {
  return column(std::move(name), column_type::category, {}, {}, 0, std::move(domain));
}

/// A join key.
inline column_schema key(std::string name) {
  return column(std::move(name), column_type::key);
}

/// `c` declared UNIQUE: every value on one row at most.
inline column_schema unique(column_schema c) {
  c.unique = true;
  return c;
}

/// A table of at most `max_rows` rows.
/// `c` declared NULL: its values may be missing.
inline column_schema nullable(column_schema c) {
  c.nullable = true;
  return c;
}

inline table_schema table(std::string name, std::vector<column_schema> columns,
                          std::uint64_t max_rows = 1000) {
  return table_schema{std::move(name), std::move(columns), max_rows};
}

} // namespace joconde::test
