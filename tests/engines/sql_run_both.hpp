#pragma once

// Runs a compiled joconde-sql/1 program on the reference backend and on rss3 (three processes on
// loopback, party 0 inputting every table) and rebuilds its outputs as the analyst would: for the
// executor tests of joins and of ORDER BY ... LIMIT.

#include "joconde/engines/reference.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/engines/sql/executor.hpp"

#include "three_parties.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace joconde::test {

/// A clear input table: its columns of encoded values.
using clear_table = std::vector<std::vector<std::int64_t>>;

/// An output as the analyst rebuilds it: every column the run writes (three words of a statistic
/// beyond the ring, the published codes of HAVING's rules), then the valid flags.
struct clear_output {
  std::vector<std::vector<engines::word>> columns;
  std::vector<engines::word> valid;
};

using clear_outputs = std::map<std::string, clear_output>;

/// This party's shares of `d` (the reference backend holds the clear values).
inline std::map<std::string, engines::secret_table> shared(engines::backend& b, const std::map<std::string, clear_table>& d,
                                                           unsigned party) {
  std::map<std::string, engines::secret_table> out;
  for (const auto& [name, columns] : d) {
    auto& t = out[name];
    t.rows = columns[0].size();
    for (const auto& c : columns) {
      std::vector<engines::word> values(c.begin(), c.end());
      t.columns.push_back(
        b.input(0, party == 0 ? std::span<const engines::word>{values} : std::span<const engines::word>{}, t.rows));
    }
  }
  return out;
}

/// Every output of `p` revealed, in schema order: per output its rows and columns, then each
/// column, then the valid flags.
inline std::vector<engines::word> revealed(engines::backend& b, const engines::sql::program& p,
                                           const engines::sql::run_result& res) {
  std::vector<engines::word> out;
  auto put = [&](const engines::secret& s) {
    auto v = b.reveal(s);
    out.insert(out.end(), v.begin(), v.end());
  };
  for (const auto& schema : p.outputs()) {
    const auto& t = res.outputs.at(schema.name);
    out.push_back(t.rows);
    out.push_back(t.columns.size());
    for (const auto& c : t.columns)
      put(c);
    put(t.valid);
  }
  return out;
}

/// The outputs of `p` from the words revealed() gives.
inline clear_outputs parse(const engines::sql::program& p, const std::vector<engines::word>& words) {
  clear_outputs out;
  std::size_t at = 0;
  auto take = [&](std::size_t n) {
    BOOST_TEST_REQUIRE(at + n <= words.size());
    std::vector<engines::word> v(words.begin() + static_cast<std::ptrdiff_t>(at),
                                 words.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
    return v;
  };
  for (const auto& schema : p.outputs()) {
    auto rows = static_cast<std::size_t>(take(1)[0]);
    auto columns = static_cast<std::size_t>(take(1)[0]);
    auto& o = out[schema.name];
    for (std::size_t c = 0; c < columns; ++c)
      o.columns.push_back(take(rows));
    o.valid = take(rows);
  }
  return out;
}

/// Rows for messages: "(1, 2) (3, 4) ".
inline std::string rows_text(const std::vector<std::vector<std::int64_t>>& rows) {
  std::string out;
  for (const auto& r : rows) {
    out += "(";
    for (std::size_t i = 0; i < r.size(); ++i)
      out += (i == 0 ? "" : ", ") + std::to_string(r[i]);
    out += ") ";
  }
  return out;
}

/// Runs `p` over `d` on the reference backend and on rss3; the outputs of each, by engine name.
inline std::map<std::string, clear_outputs> run_both(const engines::sql::program& p,
                                                     const std::map<std::string, clear_table>& d) {
  std::map<std::string, clear_outputs> out;
  engines::reference_backend ref;
  auto res = engines::sql::run(p, ref, shared(ref, d, 0));
  out["reference"] = parse(p, revealed(ref, p, res));
  three_options opts;
  opts.io_timeout = std::chrono::seconds{60};
  opts.overall = std::chrono::seconds{120};
  auto parties = run_three_parties(
    [&](engines::backend& b, unsigned party) {
      auto r = engines::sql::run(p, b, shared(b, d, party));
      return to_bytes(revealed(b, p, r));
    },
    opts);
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST_REQUIRE(parties[i].ok, "rss3 party " << i << ": " << parties[i].error);
  BOOST_TEST_REQUIRE((parties[0].bytes == parties[1].bytes && parties[0].bytes == parties[2].bytes));
  out["rss3"] = parse(p, to_words(parties[0].bytes));
  return out;
}

/// Rows as the tests write them: each row's written columns, then its valid flag.
using expected_rows = std::vector<std::vector<std::int64_t>>;

/// Runs `p` over `d` on both engines; each must write `expected` to every output named there,
/// row by row and in order.
inline void expect_rows(const engines::sql::program& p, const std::map<std::string, clear_table>& d,
                        const std::map<std::string, expected_rows>& expected) {
  for (const auto& [engine, outputs] : run_both(p, d))
    for (const auto& [name, rows] : expected)
      BOOST_TEST_CONTEXT(engine << ", " << name) {
        const auto& o = outputs.at(name);
        expected_rows got(o.valid.size());
        for (std::size_t r = 0; r < o.valid.size(); ++r) {
          for (const auto& c : o.columns)
            got[r].push_back(static_cast<std::int64_t>(c[r]));
          got[r].push_back(static_cast<std::int64_t>(o.valid[r]));
        }
        BOOST_TEST(got == rows, "got " << rows_text(got) << "\nexpected " << rows_text(rows));
      }
}

/// a / d (d > 0) rounded half away from zero, as published values are.
inline std::int64_t round_half_away(std::int64_t a, std::int64_t d) {
  const std::int64_t m = (2 * (a < 0 ? -a : a) + d) / (2 * d);
  return a < 0 ? -m : m;
}

} // namespace joconde::test
