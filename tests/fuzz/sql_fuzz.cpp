// libFuzzer target: the task language joconde-sql/1 (engines/src/sql: lexer, parser, checker,
// overflow proofs, compiler), as CTSC validation compiles a CTSC's main algorithm and data-quality
// checks from untrusted text.
//
// The first byte picks the output tables the program must write; the rest is the main algorithm,
// optionally followed by a 0x01 byte and the data-quality check of `persons`.

#include "fuzz_input.hpp"

#include "joconde/engines/sql/compiler.hpp"

namespace {

using namespace joconde::engines;

column_schema col(std::string name, column_type t, std::optional<int64_t> lo = {},
                  std::optional<int64_t> hi = {}, unsigned scale = 0,
                  std::vector<std::string> domain = {}) {
  return column_schema{std::move(name), t, scale, std::move(domain), lo, hi};
}

column_schema region() {
  return col("region", column_type::category, {}, {}, 0, {"North", "South", "East"});
}

/// A column declared NULL.
column_schema score() {
  auto c = col("score", column_type::integer, 0, 100);
  c.nullable = true;
  return c;
}

std::vector<table_schema> inputs() {
  std::vector<std::string> values;
  for (int i = 0; i < 20; ++i)
    values.push_back("v" + std::to_string(i));
  return {{"persons",
           {col("id", column_type::key), col("age", column_type::integer, 0, 120),
            col("income", column_type::decimal, 0, 10'000'000'000, 2), region(),
            col("employed", column_type::boolean), col("weight", column_type::integer, 1, 100'000),
            col("hours", column_type::integer),
            col("balance", column_type::decimal, -1'000'000, 1'000'000, 2), score()},
           1'000'000},
          {"incomes",
           {col("id", column_type::key), col("amount", column_type::integer, 0, 1'000'000),
            col("weight", column_type::integer, 1, 10)},
           1000},
          {"big", {col("c20", column_type::category, {}, {}, 0, values), col("d20", column_type::category, {}, {}, 0, values)}, 1000}};
}

std::vector<std::vector<table_schema>> output_sets() {
  return {
    {{"out", {col("age", column_type::integer, 0, 120)}, 1'000'000}},
    {{"adults",
      {col("age", column_type::integer, 0, 120), col("income", column_type::decimal, 0, 0, 2),
       col("flag", column_type::boolean)},
      1'000'000}},
    {{"by_region",
      {region(), col("n", column_type::integer, 0, 0), col("mean_income", column_type::decimal, 0, 0, 2),
       col("ratio", column_type::decimal, 0, 0, 3)}},
     {"joined", {col("total", column_type::integer, 0, 0), col("slope", column_type::decimal, 0, 0, 4)}},
     {"spread",
      {col("sd", column_type::decimal, 0, 0, 4), col("v", column_type::decimal, 0, 0, 4),
       col("c", column_type::decimal, 0, 0, 4), col("i", column_type::decimal, 0, 0, 1),
       col("lo", column_type::integer, 0, 0), col("hi", column_type::integer, 0, 0)}}},
    {{"rolled",
      {col("region", column_type::category, {}, {}, 0, {"North", "South", "East", "_T"}),
       col("band", column_type::category, {}, {}, 0, {"young", "old", "_T"}), col("n", column_type::integer, 0, 0)}}},
  };
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto ins = inputs();
  static const auto outs = output_sets();
  joconde::fuzz::input in{data, size};
  const auto& out = outs[in.byte() % outs.size()];
  auto text = in.rest();
  std::map<std::string, std::string> quality;
  auto cut = text.find('\x01');
  if (cut != std::string_view::npos) {
    quality["persons"] = std::string{text.substr(cut + 1)};
    text = text.substr(0, cut);
  }
  auto program = sql::compile(text, ins, out, quality);
  if (program)
    joconde::fuzz::require(program->outputs().size() == out.size(), "a program writes its outputs");
  return 0;
}
