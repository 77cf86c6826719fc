#define BOOST_TEST_MODULE engine_conformance
#include <boost/test/unit_test.hpp>

// The engines' conformance suite (DESIGN.md §9): every operator and language feature of
// joconde-sql/1 on random data of several sizes, run by the plaintext reference engine and by every
// other engine of the registry (engine_names) through the engine interface, its parties processes
// on loopback. Integer, boolean and category results must be exactly equal; fixed-point results
// (AVG, VAR_*, STDDEV_*, COVAR_*, CORR, REGR_*, division) within `within_fixed_point_bound`. A join's
// output at row level has its rows in a shuffled order: its valid rows are compared as sorted
// multisets, their numbers must agree, and its invalid rows must be zeros. Larger
// sizes run with JOCONDE_CONFORMANCE_LARGE=1. The cases are in conformance_cases.hpp, the data and runs in
// conformance_support.hpp.

#include "conformance/conformance_support.hpp"

#include "joconde/engines/sql/ast.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace joconde;
using namespace joconde::engines;
using namespace joconde::test;

namespace {

/// Whether output `name` of `prog` comes from a join at row level: its rows come in a shuffled
/// order, so only the multiset of its valid rows is defined.
bool unordered(const sql::program& prog, const std::string& name) {
  for (const auto& s : prog.impl().statements)
    if (s.output == name)
      return !s.joins.empty() && !s.aggregated;
  return false;
}

/// The valid rows of `o` in a canonical order (sorted on the columns not in `approximate` first),
/// as an output whose rows are all valid.
clear_output sorted_valid_rows(const clear_output& o, const std::vector<bool>& approximate) {
  std::vector<std::size_t> order;
  for (std::size_t c = 0; c < o.columns.size(); ++c)
    if (!approximate[c])
      order.push_back(c);
  for (std::size_t c = 0; c < o.columns.size(); ++c)
    if (approximate[c])
      order.push_back(c);
  std::vector<std::vector<std::int64_t>> rows;
  for (std::size_t r = 0; r < o.valid.size(); ++r)
    if (o.valid[r] == 1) {
      std::vector<std::int64_t> row;
      for (auto c : order)
        row.push_back(static_cast<std::int64_t>(o.columns[c][r]));
      rows.push_back(std::move(row));
    }
  std::sort(rows.begin(), rows.end());
  clear_output out;
  out.columns.resize(o.columns.size());
  for (const auto& row : rows)
    for (std::size_t k = 0; k < order.size(); ++k)
      out.columns[order[k]].push_back(static_cast<word>(row[k]));
  out.valid.assign(rows.size(), 1);
  return out;
}

/// The random inputs of case `c` (compiled as `prog`) with `rows` rows each.
std::map<std::string, clear_table> case_data(const conformance_case& c, const sql::program& prog, std::size_t rows) {
  std::mt19937_64 rng{std::hash<std::string>{}(c.name) ^ rows};
  std::map<std::string, clear_table> data;
  for (const auto& t : c.inputs)
    data.emplace(t.name, random_table(t, rows, rng, prog.unique_columns(t.name)));
  return data;
}

/// Case `c` at every size: engine `e` agrees with the plaintext reference run.
void check_case(const engine& e, const conformance_case& c) {
  const auto& name = e.caps().name;
  auto prog = sql::compile(c.source, c.inputs, c.outputs, c.quality);
  BOOST_REQUIRE_MESSAGE(prog.ok(), c.name << ": " << (prog ? "" : prog.err().describe()));
  BOOST_TEST(e.supports(*prog).ok(), name << " cannot run " << c.name);
  for (auto rows : sizes()) {
    auto data = case_data(c, *prog, rows);
    auto expected = run_reference(*prog, data);
    clear_result got;
    try {
      got = run_engine(e, *prog, data);
    } catch (const std::exception& e) {
      BOOST_ERROR(name << ", " << c.name << " with " << rows << " rows: " << e.what());
      continue;
    }
    BOOST_TEST_CONTEXT(name << ", " << c.name << " with " << rows << " rows") {
      BOOST_TEST(got.quality == expected.quality);
      BOOST_TEST(got.outputs.size() == expected.outputs.size());
      std::size_t values = 0;
      for (const auto& declared : c.outputs) {
        if (!expected.outputs.count(declared.name) || !got.outputs.count(declared.name))
          continue;
        table_schema schema;
        const auto raw_e = join_approximate(*prog, declared, c.approximate, expected.outputs.at(declared.name), schema);
        const auto raw_g = join_approximate(*prog, declared, c.approximate, got.outputs.at(declared.name), schema);
        // A row the analyst must not see (filtered, unmatched, suppressed) carries only zeros, so
        // rebuilding an output never discloses the rows it drops.
        for (const auto* o : {&raw_e, &raw_g})
          for (std::size_t r = 0; r < o->valid.size(); ++r)
            if (o->valid[r] == 0)
              for (std::size_t col = 0; col < o->columns.size(); ++col)
                BOOST_TEST(o->columns[col][r] == 0u, (o == &raw_e ? "reference " : "") << schema.name << "."
                                                       << schema.columns[col].name << " row " << r
                                                       << " is invalid but not zero");
        std::vector<bool> approximate;
        for (const auto& col : schema.columns)
          approximate.push_back(c.approximate.count(schema.name + "." + col.name) > 0);
        // A join's rows at row level come shuffled: the same valid rows, in any order.
        const bool shuffled = unordered(*prog, schema.name);
        if (shuffled)
          BOOST_TEST(raw_g.valid.size() == raw_e.valid.size(), schema.name << ": numbers of rows differ");
        const auto e = shuffled ? sorted_valid_rows(raw_e, approximate) : raw_e;
        const auto g = shuffled ? sorted_valid_rows(raw_g, approximate) : raw_g;
        BOOST_TEST(g.valid == e.valid, schema.name << (shuffled ? ": numbers of valid rows differ" : ": valid flags differ"));
        for (std::size_t col = 0; col < schema.columns.size(); ++col) {
          const auto& name = schema.columns[col].name;
          const bool approx = approximate[col];
          if (g.columns[col].size() != e.columns[col].size()) {
            BOOST_ERROR(schema.name << "." << name << " has " << g.columns[col].size() << " rows, the reference "
                                    << e.columns[col].size());
            continue;
          }
          for (std::size_t r = 0; r < e.columns[col].size(); ++r, ++values) {
            auto ev = static_cast<std::int64_t>(e.columns[col][r]);
            auto gv = static_cast<std::int64_t>(g.columns[col][r]);
            if (approx)
              BOOST_TEST(within_fixed_point_bound(ev, gv),
                         schema.name << "." << name << " row " << r << ": reference " << ev
                                     << ", " << name << " " << gv);
            else
              BOOST_TEST(ev == gv, schema.name << "." << name << " row " << r << ": reference "
                                               << ev << ", " << name << " " << gv);
          }
        }
      }
      BOOST_TEST_MESSAGE(name << " " << c.name << " rows=" << rows << ": " << values << " values agree");
    }
  }
}


} // namespace

BOOST_AUTO_TEST_CASE(the_registry_names_every_engine_it_finds) {
  for (const auto& name : engine_names()) {
    const engine* e = find_engine(name);
    BOOST_REQUIRE_MESSAGE(e != nullptr, "engine_names() names " << name << ", find_engine does not find it");
    BOOST_TEST(e->caps().name == name);
  }
  BOOST_REQUIRE(find_engine("reference") != nullptr);
  BOOST_TEST(find_engine("reference")->caps().testing_only);
  BOOST_TEST(!real_engines().empty(), "the registry has no engine besides the reference engine");
}

BOOST_AUTO_TEST_CASE(every_case_agrees_between_reference_and_every_engine) {
  for (const engine* e : real_engines())
    for (const auto& c : cases())
      check_case(*e, c);
}

BOOST_AUTO_TEST_CASE(one_to_many_joins_meet_keys_with_no_one_and_several_matches) {
  // The data of join_one_to_many at 100 rows: persons' ids distinct, and among them ids that no
  // job, one job and several jobs have; some jobs have no person.
  const auto all = cases();
  auto c = std::find_if(all.begin(), all.end(), [](const conformance_case& k) { return k.name == "join_one_to_many"; });
  BOOST_REQUIRE(c != all.end());
  auto prog = sql::compile(c->source, c->inputs, c->outputs, c->quality);
  BOOST_REQUIRE(prog.ok());
  BOOST_TEST(prog->unique_columns("persons") == (std::vector<std::string>{"id"}), boost::test_tools::per_element());
  BOOST_TEST(prog->unique_columns("jobs").empty());
  auto data = case_data(*c, *prog, 100);
  const auto& ids = data.at("persons")[0];
  const auto& person_of_job = data.at("jobs")[0];
  BOOST_TEST(std::set<word>(ids.begin(), ids.end()).size() == ids.size());
  std::map<std::size_t, std::size_t> persons_by_matches;
  for (auto id : ids)
    ++persons_by_matches[std::min<std::size_t>(2, std::count(person_of_job.begin(), person_of_job.end(), id))];
  BOOST_TEST(persons_by_matches[0] > 0u);
  BOOST_TEST(persons_by_matches[1] > 0u);
  BOOST_TEST(persons_by_matches[2] > 0u);
  BOOST_TEST(std::any_of(person_of_job.begin(), person_of_job.end(),
                         [&](word p) { return std::find(ids.begin(), ids.end(), p) == ids.end(); }));
}

BOOST_AUTO_TEST_CASE(cases_cover_every_language_feature) {
  std::set<std::string> used;
  for (const auto& c : cases()) {
    auto prog = sql::compile(c.source, c.inputs, c.outputs, c.quality);
    BOOST_REQUIRE_MESSAGE(prog.ok(), c.name << ": " << (prog ? "" : prog.err().describe()));
    used.insert(prog->features().begin(), prog->features().end());
  }
  for (const auto& f : sql::all_features())
    BOOST_TEST(used.count(f) == 1u, "no conformance case uses feature " << f);
}

// A counterpart that deviates in the middle of a program (here: party 2 holds one row fewer, so its
// messages have the wrong length from its first comparison on) ends the run with an error at every
// party of every engine: no crash, no hang, no result.
BOOST_AUTO_TEST_CASE(a_deviating_party_aborts_the_run_at_every_party) {
  const auto all = cases();
  const auto& c = all[4];  // group_by_having: comparisons, group masks, HAVING
  BOOST_REQUIRE(c.name == "group_by_having");
  auto prog = sql::compile(c.source, c.inputs, c.outputs, c.quality);
  BOOST_REQUIRE(prog.ok());
  for (const engine* e : real_engines()) {
    BOOST_TEST_CONTEXT(e->caps().name) {
      std::mt19937_64 rng{5};
      auto data = random_table(c.inputs[0], 100, rng);
      std::array<std::map<std::string, secret_table>, 3> shares;
      for (unsigned p = 0; p < 3; ++p)
        shares[p]["persons"].rows = p == 2 ? 99 : 100;
      for (const auto& col : data) {
        auto parts = e->split(col);
        for (unsigned p = 0; p < 3; ++p) {
          if (p == 2) {
            parts[p].a.pop_back();
            parts[p].b.pop_back();
          }
          shares[p]["persons"].columns.push_back(std::move(parts[p]));
        }
      }
      for (unsigned p = 0; p < 3; ++p)
        shares[p]["persons"].valid.a.assign(shares[p]["persons"].rows, 0);
      test::three_options opts;
      opts.io_timeout = std::chrono::seconds(5);
      opts.overall = std::chrono::seconds(30);
      for (unsigned p = 0; p < 3; ++p)
        opts.replace[p] = [&, p](const rss3::options& o) {
          auto report = e->activate(*prog, activation_for(p, o, shares[p]));
          if (!report)
            throw engine_failure(report.err());
          return std::vector<std::uint8_t>(report->outputs.size(), 1);
        };
      auto out = test::run_three_parties({}, opts);
      for (unsigned p = 0; p < 3; ++p) {
        BOOST_TEST(!out[p].ok, "party " << p << " returned a result");
        BOOST_TEST((out[p].error.find("protocol_error") != std::string::npos
                    || out[p].error.find("timeout") != std::string::npos),
                   "party " << p << ": " << out[p].error);
        BOOST_TEST(WIFEXITED(out[p].status), "party " << p << " crashed");
      }
    }
  }
}

// The same program through the engine interface a Computing Party uses (find_engine, split,
// activate, rebuild), every engine against the reference engine's own activation.
BOOST_AUTO_TEST_CASE(the_engine_interface_runs_a_program_end_to_end) {
  const auto all = cases();
  const auto& c = all[2];  // global_aggregates
  BOOST_REQUIRE(c.name == "global_aggregates");
  auto prog = sql::compile(c.source, c.inputs, c.outputs, c.quality);
  BOOST_REQUIRE(prog.ok());
  const engine* rss3 = find_engine("rss3");
  const engine* reference = find_engine("reference");
  BOOST_REQUIRE(rss3 != nullptr && reference != nullptr);
  BOOST_TEST(find_engine("spdz") == nullptr);
  BOOST_TEST(rss3->caps().parties == 3u);
  BOOST_TEST(!rss3->caps().testing_only);
  BOOST_TEST(reference->caps().testing_only);

  std::mt19937_64 rng{11};
  std::map<std::string, clear_table> data{{"persons", random_table(c.inputs[0], 50, rng)}};
  std::map<std::string, secret_table> clear;
  clear["persons"].rows = 50;
  for (const auto& col : data.at("persons"))
    clear["persons"].columns.push_back(reference->split(col)[0]);
  activation ref_act;
  ref_act.inputs = clear;
  auto expected = reference->activate(*prog, ref_act);
  BOOST_REQUIRE_MESSAGE(expected.ok(), (expected ? "" : expected.err().describe()));

  const auto& schema = c.outputs[0];
  for (const engine* e : real_engines()) {
    BOOST_TEST(e->split(data.at("persons")[0]).size() == e->caps().parties);
    clear_result got;
    try {
      got = run_engine(*e, *prog, data);
    } catch (const std::exception& ex) {
      BOOST_ERROR(ex.what());
      continue;
    }
    BOOST_REQUIRE(got.outputs.count("o") == 1u);
    for (std::size_t col = 0; col < schema.columns.size(); ++col) {
      auto ev = static_cast<std::int64_t>(expected->outputs.at("o").columns[col].a[0]);
      auto gv = static_cast<std::int64_t>(got.outputs.at("o").columns[col][0]);
      if (c.approximate.count("o." + schema.columns[col].name))
        BOOST_TEST(within_fixed_point_bound(ev, gv), e->caps().name << " " << schema.columns[col].name << ": " << ev
                                                                     << " vs " << gv);
      else
        BOOST_TEST(ev == gv, e->caps().name << " " << schema.columns[col].name);
    }
  }
}

// rss3's own: the stray byte (0x07, no such party) and the refusal line are rss3's wire protocol
// and its words for the operator, so this case names it.
BOOST_AUTO_TEST_CASE(the_engine_tells_its_caller_of_connections_it_refused) {
  // Before party 2 connects, a stranger sends one byte (0x07, no such party) to party 0's MPC
  // endpoint. The run succeeds, and party 0's caller hears of the refused connection through
  // activation::on_refused_connections (the CT VM logs it); party 1 refused nothing and hears nothing.
  const auto all = cases();
  const auto& c = all[2];  // global_aggregates
  auto prog = sql::compile(c.source, c.inputs, c.outputs, c.quality);
  BOOST_REQUIRE(prog.ok());
  const engine* rss3 = find_engine("rss3");
  BOOST_REQUIRE(rss3 != nullptr);
  std::mt19937_64 rng{12};
  auto data = random_table(c.inputs[0], 20, rng);
  std::array<std::map<std::string, secret_table>, 3> shares;
  for (unsigned p = 0; p < 3; ++p)
    shares[p]["persons"].rows = 20;
  for (const auto& col : data) {
    auto parts = rss3->split(col);
    for (unsigned p = 0; p < 3; ++p)
      shares[p]["persons"].columns.push_back(std::move(parts[p]));
  }
  test::three_options opts;
  for (unsigned p = 0; p < 3; ++p)
    opts.replace[p] = [&, p](const rss3::options& o) {
      if (p == 2) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(o.endpoints[0].port);
        ::inet_pton(AF_INET, o.endpoints[0].host.c_str(), &addr.sin_addr);
        const std::uint8_t stray = 0x07;
        bool sent = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
                    && ::send(fd, &stray, 1, MSG_NOSIGNAL) == 1;
        if (fd >= 0)
          ::close(fd);
        if (!sent)
          throw engine_failure(error{errc::io_error, "the stranger could not reach party 0"});
      }
      auto act = activation_for(p, o, shares[p]);
      std::vector<std::string> heard;
      act.on_refused_connections = [&](const refused_connections& r) {
        heard.push_back(r.line);
        for (const auto& [reason, n] : r.by_reason)
          heard.push_back(reason + " " + std::to_string(n));
      };
      auto report = rss3->activate(*prog, std::move(act));
      if (!report)
        throw engine_failure(report.err());
      std::string said;
      for (const auto& h : heard)
        said += h + "\n";
      return std::vector<std::uint8_t>(said.begin(), said.end());
    };
  auto out = test::run_three_parties({}, opts);
  for (unsigned p = 0; p < 3; ++p)
    BOOST_REQUIRE_MESSAGE(out[p].ok, "party " << p << ": " << out[p].error);
  std::string heard0(out[0].bytes.begin(), out[0].bytes.end());
  BOOST_TEST(heard0 == "rss3 MPC endpoint: 1 connection refused: 1 bad party id\nbad-party-id 1\n");
  BOOST_TEST(out[1].bytes.empty());
  BOOST_TEST(out[2].bytes.empty());
}
