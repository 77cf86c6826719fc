#pragma once

// What the engines' conformance suite (engine_conformance_test.cpp) shares among its cases: the
// conformance cases (conformance_cases.hpp), random data within their declared ranges, the
// plaintext run they are checked against, and a run of any engine of the registry through the
// engine interface (split, activate, rebuild) at its parties, each a process on loopback
// (engines/three_parties.hpp). Include once.

#include "joconde/engines/engine.hpp"
#include "joconde/engines/reference.hpp"
#include "joconde/engines/schema.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/engines/sql/executor.hpp"

#include "conformance/conformance_cases.hpp"
#include "engines/schema_builders.hpp"
#include "engines/three_parties.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace joconde::test {

using namespace joconde::engines;

/// The fixed-point tolerance in units of the output's last decimal: an MPC engine's truncation,
/// division and square root may be approximations (rss3's are, rss3/rss3.hpp); the reference engine
/// is exact.
inline bool within_fixed_point_bound(std::int64_t expected, std::int64_t got) {
  auto diff = static_cast<double>(expected) - static_cast<double>(got);
  return std::abs(diff) <= 2.0 + 1e-5 * std::abs(static_cast<double>(expected));
}


// -- data -----------------------------------------------------------------------------------------

using clear_table = std::vector<std::vector<word>>;  // columns of encoded values

inline word random_value(const column_schema& c, std::mt19937_64& rng) {
  if (c.nullable && rng() % 4 == 0)
    return null_word;  // a quarter missing
  switch (c.type) {
    case column_type::boolean:
      return rng() % 2;
    case column_type::category:
      return rng() % c.domain.size();
    default: {
      auto lo = c.min.value_or(-1'000'000);
      auto hi = c.max.value_or(1'000'000);
      auto span = static_cast<std::uint64_t>(hi - lo) + 1;
      return static_cast<word>(lo + static_cast<std::int64_t>(rng() % span));
    }
  }
}

/// Random rows within the declared ranges. The key columns in `unique` (those the program needs
/// unique: declared UNIQUE or keys of a one-to-one join, program::unique_columns) get distinct ids
/// drawn from 0..2n-1, so two such tables of n rows share about half their keys; other key columns
/// draw ids from 0..n/2 with repeats (each about twice), so that a key of a unique side has no
/// match, one match or several, and about half the repeating rows match none.
inline clear_table random_table(const table_schema& t, std::size_t rows, std::mt19937_64& rng,
                                const std::vector<std::string>& unique = {}) {
  clear_table out(t.columns.size());
  for (std::size_t c = 0; c < t.columns.size(); ++c) {
    const auto& col = t.columns[c];
    if (col.type == column_type::key && std::find(unique.begin(), unique.end(), col.name) != unique.end()) {
      std::vector<std::size_t> ids(2 * rows);
      std::iota(ids.begin(), ids.end(), 0);
      std::shuffle(ids.begin(), ids.end(), rng);
      for (std::size_t r = 0; r < rows; ++r)
        out[c].push_back(*encode_value(col, "id-" + std::to_string(ids[r])));
    } else if (col.type == column_type::key) {
      for (std::size_t r = 0; r < rows; ++r)
        out[c].push_back(*encode_value(col, "id-" + std::to_string(rng() % (rows / 2 + 1))));
    } else {
      for (std::size_t r = 0; r < rows; ++r)
        out[c].push_back(random_value(col, rng));
    }
  }
  return out;
}

// -- running --------------------------------------------------------------------------------------

struct clear_output {
  std::vector<std::vector<word>> columns;
  std::vector<word> valid;
};

struct clear_result {
  std::map<std::string, clear_output> outputs;
  std::map<std::string, bool> quality;
};

/// `out` (as word_columns lays it out) with each three-word column named in `approximate` (as
/// "output.column") joined into one word, mid 2^32 + lo (hi 2^64 vanishes in the ring), so that it
/// can be compared within a bound: such a value (STDDEV_SAMP, CORR or REGR_* beyond the ring, in
/// these cases) is below 2^62. Sets `schema` to the layout returned.
inline clear_output join_approximate(const sql::program& prog, const table_schema& declared,
                                     const std::set<std::string>& approximate, const clear_output& out,
                                     table_schema& schema) {
  const auto words = prog.output_words(declared.name);
  clear_output joined;
  joined.valid = out.valid;
  schema = table_schema{declared.name, {}, declared.max_rows};
  std::size_t at = 0;
  for (std::size_t c = 0; c < declared.columns.size(); ++c) {
    const auto& col = declared.columns[c];
    const bool wide = c < words.size() && words[c] == wide_words;
    if (wide && approximate.count(declared.name + "." + col.name) > 0) {
      std::vector<word> v(out.columns.at(at).size());
      for (std::size_t r = 0; r < v.size(); ++r)
        v[r] = (out.columns.at(at + 1)[r] << 32) + out.columns.at(at + 2)[r];
      joined.columns.push_back(std::move(v));
      schema.columns.push_back(col);
    } else if (wide) {
      const char* parts[] = {".hi", ".mid", ".lo"};
      for (std::size_t k = 0; k < wide_words; ++k) {
        joined.columns.push_back(out.columns.at(at + k));
        schema.columns.push_back(column(col.name + parts[k], column_type::integer));
      }
    } else {
      joined.columns.push_back(out.columns.at(at));
      schema.columns.push_back(col);
    }
    at += wide ? wide_words : 1;
  }
  if (prog.confidentiality(declared.name).flagged) {
    joined.columns.push_back(out.columns.at(at));
    schema.columns.push_back(column("published", column_type::integer));
  }
  return joined;
}

inline clear_result run_reference(const sql::program& prog,
                           const std::map<std::string, clear_table>& data) {
  std::map<std::string, secret_table> inputs;
  for (const auto& [name, cols] : data) {
    secret_table t;
    t.rows = cols.empty() ? 0 : cols[0].size();
    for (const auto& c : cols)
      t.columns.push_back(secret{c, {}});
    t.valid = secret{std::vector<word>(t.rows, 1), {}};
    inputs.emplace(name, std::move(t));
  }
  reference_backend b;
  auto res = sql::run(prog, b, inputs);
  clear_result out;
  out.quality = res.quality;
  for (auto& [name, t] : res.outputs) {
    clear_output o;
    for (auto& c : t.columns)
      o.columns.push_back(c.a);
    o.valid = t.valid.a;
    out.outputs.emplace(name, std::move(o));
  }
  return out;
}

inline void put_blob(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& blob) {
  auto n = static_cast<std::uint64_t>(blob.size());
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), blob.begin(), blob.end());
}

inline secret get_blob(const std::vector<std::uint8_t>& in, std::size_t& pos) {
  if (pos + 8 > in.size())
    throw std::runtime_error("truncated party result");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | in[pos + i];
  pos += 8;
  if (pos + n > in.size())
    throw std::runtime_error("truncated party result");
  auto s = decode_shares(std::span{in}.subspan(pos, n), std::size_t{1} << 32);
  pos += n;
  if (!s)
    throw std::runtime_error(s.err().describe());
  return std::move(*s);
}


/// Every engine of the registry that runs real MPC (not the testing-only reference engine).
inline std::vector<const engine*> real_engines() {
  std::vector<const engine*> out;
  for (const auto& name : engine_names())
    if (const auto* e = find_engine(name); e != nullptr && !e->caps().testing_only)
      out.push_back(e);
  return out;
}

/// Party `party`'s activation with the harness's endpoints, keys, timeouts and listening socket `o`,
/// and `inputs`, its shares.
inline activation activation_for(unsigned party, const rss3::options& o, std::map<std::string, secret_table> inputs) {
  return {.party = party,
          .endpoints = o.endpoints,
          .keys = o.keys,
          .connect_timeout = o.connect_timeout,
          .io_timeout = o.io_timeout,
          .listen_fd = o.listen_fd,
          .on_refused_connections = {},
          .inputs = std::move(inputs)};
}

/// Each party's shares of `data`, split by `e` as a Data Custodian would (with the all-ones valid
/// flags).
inline std::array<std::map<std::string, secret_table>, 3> split_inputs(const engine& e,
                                                                       const std::map<std::string, clear_table>& data) {
  std::array<std::map<std::string, secret_table>, 3> shares;
  for (const auto& [name, cols] : data) {
    std::size_t rows = cols.empty() ? 0 : cols[0].size();
    for (unsigned p = 0; p < 3; ++p)
      shares[p][name].rows = rows;
    for (const auto& c : cols) {
      auto parts = e.split(c);
      for (unsigned p = 0; p < 3; ++p)
        shares[p][name].columns.push_back(std::move(parts[p]));
    }
    auto valid = e.split(std::vector<word>(rows, 1));
    for (unsigned p = 0; p < 3; ++p)
      shares[p][name].valid = std::move(valid[p]);
  }
  return shares;
}

/// Runs the program with engine `e` at its three parties, three processes, through the engine
/// interface; returns the rebuilt outputs and the quality verdicts, or throws saying what failed.
inline clear_result run_engine(const engine& e, const sql::program& prog,
                               const std::map<std::string, clear_table>& data) {
  const auto& name = e.caps().name;
  if (e.caps().parties != 3)
    throw std::runtime_error("engine " + name + " needs " + std::to_string(e.caps().parties)
                             + " parties; the harness (engines/three_parties.hpp) runs three");
  auto shares = split_inputs(e, data);
  test::three_options opts;
  for (unsigned p = 0; p < 3; ++p)
    opts.replace[p] = [&, p](const rss3::options& o) {
      auto report = e.activate(prog, activation_for(p, o, shares[p]));
      if (!report)
        throw engine_failure(report.err());
      std::vector<std::uint8_t> out;
      for (const auto& schema : prog.outputs()) {
        auto it = report->outputs.find(schema.name);
        if (it == report->outputs.end())
          continue;
        for (const auto& c : it->second.columns)
          put_blob(out, encode_shares(c));
        put_blob(out, encode_shares(it->second.valid));
      }
      for (const auto& schema : prog.inputs()) {
        auto it = report->quality.find(schema.name);
        out.push_back(it == report->quality.end() ? 2 : it->second ? 1 : 0);
      }
      return out;
    };
  auto outcomes = test::run_three_parties({}, opts);
  for (unsigned p = 0; p < 3; ++p)
    if (!outcomes[p].ok)
      throw std::runtime_error(name + " party " + std::to_string(p) + ": " + outcomes[p].error);

  clear_result result;
  std::array<std::size_t, 3> pos{0, 0, 0};
  auto rebuild = [&]() {
    std::array<secret, 3> parts;
    for (unsigned p = 0; p < 3; ++p)
      parts[p] = get_blob(outcomes[p].bytes, pos[p]);
    auto values = e.rebuild(parts);
    if (!values)
      throw std::runtime_error(values.err().describe());
    return std::move(*values);
  };
  // Every party saw the same quality verdicts, so every party wrote the same outputs.
  auto quality_at = outcomes[0].bytes.size() - prog.inputs().size();
  bool quality_failed = false;
  for (std::size_t i = 0; i < prog.inputs().size(); ++i) {
    auto v = outcomes[0].bytes[quality_at + i];
    for (unsigned p = 1; p < 3; ++p)
      BOOST_TEST(outcomes[p].bytes[outcomes[p].bytes.size() - prog.inputs().size() + i] == v);
    if (v != 2)
      result.quality[prog.inputs()[i].name] = v == 1;
    quality_failed = quality_failed || v == 0;
  }
  if (!quality_failed)
    for (const auto& schema : prog.outputs()) {
      clear_output o;
      for (std::size_t c = 0; c < word_columns(prog, schema).columns.size(); ++c)
        o.columns.push_back(rebuild());
      o.valid = rebuild();
      result.outputs.emplace(schema.name, std::move(o));
    }
  return result;
}

inline std::vector<std::size_t> sizes() {
  std::vector<std::size_t> s{0, 1, 7, 100};
  if (const char* large = std::getenv("JOCONDE_CONFORMANCE_LARGE"); large && *large == '1') {
    s.push_back(1000);
    s.push_back(10'000);
  }
  return s;
}

} // namespace joconde::test
