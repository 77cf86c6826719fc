// libFuzzer target: CSV files a Data Custodian uploads (engines/src/base/csv.cpp, parse_csv), read
// against one of a few schemas that between them use every column type. A file that parses must
// come back unchanged through format_csv and parse_csv (keys excepted: they are stored hashed).

#include "fuzz_input.hpp"

#include "joconde/engines/csv.hpp"

#include <vector>

namespace {

using namespace joconde::engines;

column_schema col(std::string name, column_type t, std::optional<int64_t> lo = {},
                  std::optional<int64_t> hi = {}, unsigned scale = 0,
                  std::vector<std::string> domain = {}) {
  return column_schema{std::move(name), t, scale, std::move(domain), lo, hi};
}

std::vector<table_schema> make_schemas() {
  std::vector<table_schema> out;
  out.push_back({"persons",
                 {col("age", column_type::integer, 0, 130),
                  col("income", column_type::decimal, -1'000'000'00, 1'000'000'00, 2),
                  col("employed", column_type::boolean),
                  col("region", column_type::category, {}, {}, 0, {"north", "south", "east", "west"})},
                 1000});
  out.push_back({"ledger",
                 {col("amount", column_type::integer), col("rate", column_type::decimal, {}, {}, 12)},
                 50});
  out.push_back({"links", {col("id", column_type::key), col("weight", column_type::integer, -5, 5)}, 100});
  // Columns declared NULL: an empty field is missing, -2^63 is refused.
  auto amount = col("amount", column_type::integer);
  amount.nullable = true;
  auto region = col("region", column_type::category, {}, {}, 0, {"a", "b"});
  region.nullable = true;
  out.push_back({"survey", {amount, region}, 100});
  return out;
}

const std::vector<table_schema>& schemas() {
  static const auto all = make_schemas();
  return all;
}

bool has_key(const table_schema& s) {
  for (const auto& c : s.columns)
    if (c.type == column_type::key)
      return true;
  return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  joconde::fuzz::input in{data, size};
  const auto& schema = schemas()[in.byte() % schemas().size()];
  auto text = in.rest();
  auto table = parse_csv(text, schema);
  if (!table)
    return 0;
  joconde::fuzz::require(table->columns.size() == schema.columns.size(), "one column per schema column");
  joconde::fuzz::require(table->rows <= schema.max_rows, "no more rows than max_rows");
  for (const auto& c : table->columns)
    joconde::fuzz::require(c.size() == table->rows, "every column has `rows` values");
  if (has_key(schema))
    return 0;
  auto again = parse_csv(format_csv(schema, table->columns, table->rows), schema);
  joconde::fuzz::require(again.ok(), "format_csv writes what parse_csv reads");
  joconde::fuzz::require(again->rows == table->rows && again->columns == table->columns,
                         "parse_csv(format_csv(t)) == t");
  return 0;
}
