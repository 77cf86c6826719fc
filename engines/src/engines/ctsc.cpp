#include "joconde/engines/ctsc.hpp"

#include "joconde/engines/engine.hpp"

#include <algorithm>
#include <map>
#include <optional>

namespace joconde::engines {

namespace {

result<column_type> type_of(const v1::Column& c) {
  switch (c.type()) {
    case v1::Column::TYPE_INTEGER: return column_type::integer;
    case v1::Column::TYPE_FIXED_POINT: return column_type::decimal;
    case v1::Column::TYPE_BOOLEAN: return column_type::boolean;
    case v1::Column::TYPE_CATEGORY: return column_type::category;
    case v1::Column::TYPE_TEXT_KEY: return column_type::key;
    default: return fail(errc::malformed_input, "column `" + c.name() + "` has no type");
  }
}

/// A declared bound as encoded units, parsed like a CSV value of the column.
result<std::optional<std::int64_t>> bound_of(const column_schema& col, const std::string& text,
                                             const char* which) {
  if (text.empty())
    return std::optional<std::int64_t>{};
  auto v = encode_value(col, text);
  if (!v)
    return fail(errc::malformed_input, std::string{"the range "} + which + " of " + v.err().message
                                         + " (\"" + text + "\" in the CTSC)");
  return std::optional<std::int64_t>{static_cast<std::int64_t>(*v)};
}

} // namespace

result<table_schema> schema_of(const std::string& key,
                               const google::protobuf::RepeatedPtrField<v1::Column>& columns,
                               std::uint64_t max_rows) {
  table_schema t;
  t.name = key;
  t.max_rows = max_rows == 0 ? default_max_rows : max_rows;
  for (const auto& c : columns) {
    column_schema col;
    col.name = c.name();
    auto type = type_of(c);
    if (!type)
      return std::move(type).err();
    col.type = *type;
    col.scale = c.scale();
    col.domain.assign(c.domain().begin(), c.domain().end());
    col.unique = c.unique();
    col.nullable = c.nullable();
    auto lo = bound_of(col, c.min(), "minimum");
    if (!lo)
      return std::move(lo).err();
    auto hi = bound_of(col, c.max(), "maximum");
    if (!hi)
      return std::move(hi).err();
    col.min = *lo;
    col.max = *hi;
    t.columns.push_back(std::move(col));
  }
  if (auto r = validate(t); !r)
    return r.err();
  return t;
}

result<sql::program> compile_ctsc(const v1::Ctsc& ctsc) {
  auto check_language = [](const v1::Algorithm& a, const std::string& what) -> result<void> {
    if (a.language() != sql::language)
      return fail(errc::unsupported, what + " is written in '" + a.language() + "'; this build runs "
                                       + std::string{sql::language});
    return ok();
  };
  if (auto r = check_language(ctsc.main_algorithm(), "the main algorithm"); !r)
    return r.err();
  std::vector<table_schema> inputs;
  std::map<std::string, std::string> quality;
  for (const auto& in : ctsc.inputs()) {
    auto s = schema_of(in.key(), in.schema(), in.max_rows());
    if (!s)
      return std::move(s).err();
    inputs.push_back(std::move(*s));
    if (!in.data_quality().source().empty()) {
      if (auto r = check_language(in.data_quality(), "the data-quality check of " + in.key()); !r)
        return r.err();
      quality[in.key()] = in.data_quality().source();
    }
  }
  std::vector<table_schema> outputs;
  for (const auto& out : ctsc.outputs()) {
    auto s = schema_of(out.key(), out.schema(), out.max_rows());
    if (!s)
      return std::move(s).err();
    outputs.push_back(std::move(*s));
  }
  auto prog = sql::compile(ctsc.main_algorithm().source(), std::move(inputs), std::move(outputs),
                           quality);
  if (!prog && prog.err().code == errc::compile_error
      && prog.err().message.rfind("quality check", 0) != 0)
    return fail(errc::compile_error, "main algorithm: " + prog.err().message);
  return prog;
}

result<void> check_algorithm(const v1::Ctsc& ctsc) {
  const engine* e = find_engine(ctsc.engine().name());
  if (e == nullptr)
    return fail(errc::unsupported, "this node has no MPC engine '" + ctsc.engine().name() + "'");
  auto prog = compile_ctsc(ctsc);
  if (!prog)
    return std::move(prog).err();
  if (auto r = e->supports(*prog); !r)
    return r;
  const auto& stated = ctsc.main_algorithm().disclosures();
  const auto& says = prog->disclosures();
  if (!std::equal(stated.begin(), stated.end(), says.begin(), says.end())) {
    std::string expected;
    for (const auto& d : says)
      expected += "\n  - " + d;
    return fail(errc::malformed_input, "main_algorithm.disclosures must state what the algorithm "
                                       "reveals beyond its outputs, exactly as the compiler says "
                                       "(`joconde sql check` prints it):" + expected);
  }
  return ok();
}

} // namespace joconde::engines
