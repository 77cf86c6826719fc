// The engine benchmark: three rss3 parties in three processes on loopback (tests/engines/
// three_parties.hpp). Each figure prepares its inputs, then party 0 times the operation between two
// barriers (a reveal of one word before and after), so the figure covers all three parties finishing.
// Prints `figure: value unit` lines, and beside each `<name>_bytes_per_party: N bytes` (the most any
// party sent during the timed part) and `<name>_cpu_per_party: T ms` (the most CPU time, user plus
// system, any party spent in it: less sensitive to other load than the wall-clock figure).
// Usage: joconde-bench-engine [FIGURE...], e.g. `joconde-bench-engine mul_1e7`; no argument runs
// every figure. round_trip_1e3 is 1000 sequential one-element multiplications (round latency);
// shuffle_1e6 shuffles 10^6 rows of three words (backend::shuffle), sort_1e6 sorts 10^6 rows of a
// distinct random key (|key| < 2^62) and two payload words (kernels::sort_distinct), join_1n_1e6
// joins 10^6 rows with unique 58-bit keys to 3 10^6 rows whose keys repeat, each side with two
// payload words (kernels::join_many, two-word sort keys).
//
// To add a figure, append to `figures()` an entry with a name, its unit conversion and two steps:
// `prepare` (untimed; returns whatever the timed step needs) and `run` (timed).

#include "../engines/three_parties.hpp"

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/engines/sql/executor.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <iostream>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using joconde::engines::backend;
using joconde::engines::secret;
using joconde::engines::word;

/// What `prepare` hands to `run`: any secrets the operation needs.
struct prepared {
  std::vector<secret> inputs;
  std::map<std::string, joconde::engines::secret_table> tables;  ///< task-language inputs
};

/// One benchmark figure.
struct figure {
  std::string name;   ///< as printed and as selected on the command line, e.g. "mul_1e7"
  std::size_t n = 0;  ///< elements processed (for the rates)
  bool rate = true;   ///< print n per second as `<name>_per_s`, else milliseconds as `<name>_ms`
  std::function<prepared(backend&, unsigned party, std::size_t n)> prepare;
  std::function<void(backend&, prepared&)> run;
};

/// Random words from a fixed seed per party (inputs are private to their owner).
std::vector<word> random_words(std::size_t n, unsigned party, unsigned bits) {
  std::mt19937_64 gen{1234 + party};
  std::vector<word> out(n);
  for (auto& v : out)
    v = static_cast<word>(static_cast<std::int64_t>(gen()) >> (64 - bits));
  return out;
}

/// Party `owner` shares n random values of `bits` bits.
secret input_random(backend& be, unsigned party, unsigned owner, std::size_t n, unsigned bits) {
  auto values = party == owner ? random_words(n, party, bits) : std::vector<word>{};
  return be.input(owner, values, n);
}

/// x from party 0 and y from party 1, n random 62-bit values each.
prepared two_inputs(backend& be, unsigned party, std::size_t n) {
  prepared p;
  p.inputs.push_back(input_random(be, party, 0, n, 62));
  p.inputs.push_back(input_random(be, party, 1, n, 62));
  return p;
}

/// As two_inputs with one element.
prepared two_inputs_small(backend& be, unsigned party, std::size_t) {
  return two_inputs(be, party, 1);
}

/// Party 0 shares n rows: a key column of distinct random values, |key| < 2^62, and two random
/// payload columns.
prepared keyed_rows(backend& be, unsigned party, std::size_t n) {
  std::vector<word> keys;
  if (party == 0) {
    keys = random_words(n, party, 63);
    // Random 63-bit values collide with probability about n^2 / 2^64; replace any that do.
    std::set<word> seen;
    std::mt19937_64 gen{99};
    for (auto& k : keys)
      while (!seen.insert(k).second)
        k = static_cast<word>(static_cast<std::int64_t>(gen()) >> 1);
  }
  prepared p;
  p.inputs.push_back(be.input(0, keys, n));
  p.inputs.push_back(input_random(be, party, 0, n, 64));
  p.inputs.push_back(input_random(be, party, 0, n, 64));
  return p;
}

/// A 1:N join's sides as tables (kernels::join_many): party 0 shares n rows of a unique side (a
/// distinct 58-bit key, the width of a text key, and two random payload words) and 3 n rows of a
/// repeating side whose keys are those of the unique side (each about 2.7 times; about 1 in 20
/// rows another key, unmatched) with two payload words. inputs: nothing; tables "unique", "many".
prepared one_to_many_rows(backend& be, unsigned party, std::size_t n) {
  std::vector<word> unique_keys;
  std::vector<word> many_keys;
  if (party == 0) {
    std::mt19937_64 gen{4242};
    std::set<word> seen;
    while (unique_keys.size() < n)
      if (auto k = gen() >> 6; seen.insert(k).second)
        unique_keys.push_back(k);
    for (std::size_t i = 0; i < 3 * n; ++i)
      many_keys.push_back(gen() % 20 == 0 ? gen() >> 6 : unique_keys[gen() % n]);
  }
  auto table = [&](const std::vector<word>& keys, std::size_t rows) {
    joconde::engines::secret_table t;
    t.rows = rows;
    t.columns.push_back(be.input(0, keys, rows));
    t.columns.push_back(input_random(be, party, 0, rows, 64));
    t.columns.push_back(input_random(be, party, 0, rows, 64));
    t.valid = be.constant(1, rows);
    return t;
  };
  prepared p;
  p.tables["unique"] = table(unique_keys, n);
  p.tables["many"] = table(many_keys, 3 * n);
  return p;
}

/// The three columns of keyed_rows, as the shuffle and the sort take them.
std::vector<secret*> columns_of(prepared& p) {
  return {&p.inputs[0], &p.inputs[1], &p.inputs[2]};
}

// -- task-language figures ------------------------------------------------------------------------

namespace sql = joconde::engines::sql;
using joconde::engines::column_schema;
using joconde::engines::column_type;
using joconde::engines::secret_table;
using joconde::engines::table_schema;

/// Input `name`: a category g with 10 values, x in [0, 10^6], a join key k (integer, < 2^40), a
/// code c in [0, 4095].
table_schema bench_table(const std::string& name, std::uint64_t rows) {
  table_schema t;
  t.name = name;
  t.max_rows = rows;
  column_schema g;
  g.name = "g";
  g.type = column_type::category;
  for (int i = 0; i < 10; ++i)
    g.domain.push_back("g" + std::to_string(i));
  column_schema x;
  x.name = "x";
  x.min = 0;
  x.max = 1'000'000;
  column_schema k;
  k.name = "k";
  k.min = 0;
  k.max = std::int64_t{1} << 40;
  column_schema c;
  c.name = "c";
  c.min = 0;
  c.max = 4095;
  t.columns = {g, x, k, c};
  return t;
}

/// Output `name` of integer `columns` (g a category as in bench_table if `grouped`), and decimal(2)
/// ones for those named in `decimals`.
table_schema bench_output(const std::string& name, std::vector<std::string> columns, bool grouped,
                          const std::set<std::string>& decimals = {}) {
  table_schema t;
  t.name = name;
  t.max_rows = std::uint64_t{1} << 20;
  for (auto& c : columns) {
    column_schema col;
    col.name = c;
    if (decimals.count(c) != 0) {
      col.type = column_type::decimal;
      col.scale = 2;
    }
    if (grouped && c == "g") {
      col.type = column_type::category;
      for (int i = 0; i < 10; ++i)
        col.domain.push_back("g" + std::to_string(i));
    }
    t.columns.push_back(col);
  }
  return t;
}

/// Compiles a benchmark program; exits on a compile error (a bug in the benchmark).
sql::program bench_program(const std::string& source, std::vector<table_schema> inputs,
                           table_schema output) {
  auto prog = sql::compile(source, std::move(inputs), {std::move(output)});
  if (!prog) {
    std::cerr << "joconde-bench-engine: " << prog.err().describe() << "\n";
    std::exit(2);
  }
  return std::move(*prog);
}

/// Input tables `a` (and `b`) of n random rows, secret-shared by party 0 (untimed), g among the
/// first `groups` categories. The keys of `a` are the even numbers, those of `b` alternate even and
/// odd: half of the rows match.
prepared bench_tables(backend& be, unsigned party, std::size_t n, std::size_t tables, std::size_t groups = 10) {
  prepared p;
  for (std::size_t t = 0; t < tables; ++t) {
    std::mt19937_64 gen{77 + t};
    std::vector<word> g(n), x(n), k(n), c(n);
    for (std::size_t r = 0; r < n; ++r) {
      g[r] = gen() % groups;
      x[r] = gen() % 1'000'001;
      k[r] = t == 0 ? 2 * r : 2 * r + (r % 2);
      c[r] = gen() % 4096;
    }
    secret_table table;
    table.rows = n;
    for (auto* col : {&g, &x, &k, &c})
      table.columns.push_back(be.input(0, party == 0 ? std::span<const word>{*col} : std::span<const word>{}, n));
    table.valid = be.constant(1, n);
    p.tables.emplace(t == 0 ? "a" : "b", std::move(table));
  }
  return p;
}

/// A figure that runs `prog` on `tables` inputs of n rows (g among the first `groups` categories).
figure sql_figure(std::string name, std::size_t n, std::size_t tables, sql::program prog, std::size_t groups = 10) {
  return {std::move(name), n, false,
          [tables, groups](backend& be, unsigned party, std::size_t rows) {
            return bench_tables(be, party, rows, tables, groups);
          },
          [prog](backend& be, prepared& p) { sql::run(prog, be, p.tables); }};
}

/// The task-language figures of issue 4: sum, count of x > c, group-by, join.
void add_sql_figures(std::vector<figure>& out) {
  const std::uint64_t million = 1'000'000;
  out.push_back(sql_figure("sum_1e6", million, 1,
                           bench_program("INSERT INTO o SELECT SUM(x) AS s FROM a;",
                                         {bench_table("a", million)}, bench_output("o", {"s"}, false))));
  out.push_back(sql_figure("count_gt_1e6", million, 1,
                           bench_program("INSERT INTO o SELECT COUNT(*) AS n FROM a WHERE x > 500000;",
                                         {bench_table("a", million)}, bench_output("o", {"n"}, false))));
  out.push_back(sql_figure("groupby10_1e6", million, 1,
                           bench_program("INSERT INTO o SELECT g, COUNT(*) AS n, SUM(x) AS s FROM a GROUP BY g;",
                                         {bench_table("a", million)},
                                         bench_output("o", {"g", "n", "s"}, true))));
  out.push_back(sql_figure("join_1e5", 100'000, 2,
                           bench_program("INSERT INTO o SELECT COUNT(*) AS n, SUM(b.x) AS s FROM a JOIN b ON a.k = b.k;",
                                         {bench_table("a", 100'000), bench_table("b", 100'000)},
                                         bench_output("o", {"n", "s"}, false))));
  // Issue 16: joins and groupings on the sort.
  out.push_back(sql_figure("groupby4096_1e6", million, 1,
                           bench_program("INSERT INTO o SELECT c, COUNT(*) AS n, SUM(x) AS s FROM a GROUP BY c;",
                                         {bench_table("a", million)}, bench_output("o", {"c", "n", "s"}, false))));
  // A standard deviation per group, exact (issue 17): 4096 groups on the sort, x up to 10^6.
  out.push_back(sql_figure("stddev_groupby4096_1e5", 100'000, 1,
                           bench_program("INSERT INTO o SELECT c, STDDEV_SAMP(x) AS s FROM a GROUP BY c;",
                                         {bench_table("a", 100'000)}, bench_output("o", {"c", "s"}, false, {"s"}))));
  out.push_back(sql_figure("join_1e6", million, 2,
                           bench_program("INSERT INTO o SELECT COUNT(*) AS n, SUM(b.x) AS s FROM a JOIN b ON a.k = b.k;",
                                         {bench_table("a", million), bench_table("b", million)},
                                         bench_output("o", {"n", "s"}, false))));
  // The demo's program (ops/demo-data): a 1:1 join, then per category COUNT, AVG and STDDEV_SAMP
  // with small-cell suppression.
  out.push_back(sql_figure(
    "demo_1e6", million, 2,
    bench_program("INSERT INTO o SELECT a.g, COUNT(*) AS n, AVG(b.x) AS mean, STDDEV_SAMP(b.x) AS sd\n"
                  "FROM a JOIN b ON a.k = b.k GROUP BY a.g HAVING COUNT(*) >= 10;",
                  {bench_table("a", million), bench_table("b", million)},
                  bench_output("o", {"g", "n", "mean", "sd"}, true, {"mean", "sd"}))));
  // Issue 17: MEDIAN per group over 6 groups (the categories of g cut to six).
  auto six = bench_table("a", million);
  six.columns[0].domain.resize(6);
  auto medians = bench_output("o", {"g", "m"}, true, {"m"});
  medians.columns[0].domain.resize(6);
  out.push_back(sql_figure("median_1e6", million, 1,
                           bench_program("INSERT INTO o SELECT g, MEDIAN(x) AS m FROM a GROUP BY g;", {six}, medians),
                           6));
  // Issue 17: the ten rows of largest x among 10^6 (ORDER BY ... LIMIT: a quickselect).
  out.push_back(sql_figure("topk_1e6", million, 1,
                           bench_program("INSERT INTO o SELECT c, x FROM a ORDER BY x DESC LIMIT 10;",
                                         {bench_table("a", million)}, bench_output("o", {"c", "x"}, false))));
  // GROUP BY ROLLUP: ten categories by two bands of x, with their margins and the grand total (31
  // groups over the rows taken three times), under HAVING with the secondary suppression.
  auto rolled = bench_output("o", {"g", "band", "n", "s"}, true);
  rolled.columns[0].domain.push_back("_T");
  rolled.columns[1].type = column_type::category;
  rolled.columns[1].domain = {"low", "high", "_T"};
  out.push_back(sql_figure("rollup_1e6", million, 1,
                           bench_program("INSERT INTO o SELECT g, CASE WHEN x < 500000 THEN 'low' ELSE 'high' END AS band,\n"
                                         "  COUNT(*) AS n, SUM(x) AS s FROM a GROUP BY ROLLUP(g, band) HAVING COUNT(*) >= 10;",
                                         {bench_table("a", million)}, rolled)));
  // Missing values: groupby10_1e6 with x declared NULL (the cost does not depend on how many are
  // missing), COUNT(x) and AVG(x) over the present ones, and a three-valued WHERE.
  auto gaps = bench_table("a", million);
  gaps.columns[1].nullable = true;
  out.push_back(sql_figure("nulls_groupby10_1e6", million, 1,
                           bench_program("INSERT INTO o SELECT g, COUNT(x) AS n, AVG(x) AS m FROM a\n"
                                         "WHERE x > 1000 OR c > 10 GROUP BY g;",
                                         {gaps}, bench_output("o", {"g", "n", "m"}, true, {"m"}))));
  // SUM and AVG beyond the ring: x declared up to 10^14 (cents of 10^12 EUR), so both run in two
  // limbs (the values themselves are bench_tables' below 10^6: the cost does not depend on them).
  auto amounts = bench_table("a", 10 * million);
  amounts.columns[1].max = std::int64_t{100'000'000'000'000};
  out.push_back(sql_figure("sum_avg_wide_1e7", 10 * million, 1,
                           bench_program("INSERT INTO o SELECT SUM(x) AS s, AVG(x) AS m FROM a;", {amounts},
                                         bench_output("o", {"s", "m"}, false, {"m"}))));
  // VAR_SAMP and STDDEV_SAMP beyond the ring: x declared up to 10^12, written with two decimals
  // (the variance up to 5 10^25 units: two words).
  auto amounts_12 = bench_table("a", 10 * million);
  amounts_12.columns[1].max = std::int64_t{1'000'000'000'000};
  out.push_back(sql_figure("var_sd_wide_1e7", 10 * million, 1,
                           bench_program("INSERT INTO o SELECT VAR_SAMP(x) AS v, STDDEV_SAMP(x) AS s FROM a;",
                                         {amounts_12}, bench_output("o", {"v", "s"}, false, {"v", "s"}))));
  // CORR beyond the ring: x declared up to 10^12, with six decimals.
  out.push_back(sql_figure("corr_wide_1e6", million, 1,
                           bench_program("INSERT INTO o SELECT CORR(x, c) AS r FROM a;", {amounts_12},
                                         bench_output("o", {"r"}, false, {"r"}))));
  out.push_back(sql_figure("corr_1e7", 10 * million, 1,
                           bench_program("INSERT INTO o SELECT CORR(x, c) AS r FROM a;",
                                         {bench_table("a", 10 * million)}, bench_output("o", {"r"}, false, {"r"}))));
}

/// Every figure, in the order they run.
std::vector<figure> figures() {
  std::vector<figure> out;
  auto mul = [](backend& be, prepared& p) { be.mul(p.inputs[0], p.inputs[1]); };
  auto lt = [](backend& be, prepared& p) { be.lt(p.inputs[0], p.inputs[1]); };
  out.push_back({"mul_1e6", 1'000'000, true, two_inputs, mul});
  out.push_back({"mul_1e7", 10'000'000, true, two_inputs, mul});
  out.push_back({"lt_1e5", 100'000, true, two_inputs, lt});
  out.push_back({"lt_1e6", 1'000'000, true, two_inputs, lt});
  out.push_back({"round_trip_1e3", 1000, true, two_inputs_small, [](backend& be, prepared& p) {
                   for (int k = 0; k < 1000; ++k)
                     be.mul(p.inputs[0], p.inputs[1]);
                 }});
  out.push_back({"input_1e6", 1'000'000, false,
                 [](backend&, unsigned party, std::size_t n) {
                   // The clear values at party 0, and the length everywhere.
                   prepared p;
                   p.inputs.push_back(secret{party == 0 ? random_words(n, party, 62) : std::vector<word>{},
                                             std::vector<word>(n)});
                   return p;
                 },
                 [](backend& be, prepared& p) {
                   be.input(0, p.inputs[0].a, p.inputs[0].b.size());
                 }});
  out.push_back({"shuffle_1e6", 1'000'000, false, keyed_rows,
                 [](backend& be, prepared& p) { be.shuffle(columns_of(p)); }});
  out.push_back({"sort_1e6", 1'000'000, false, keyed_rows, [](backend& be, prepared& p) {
                   joconde::engines::kernels::sort_distinct(be, columns_of(p));
                 }});
  out.push_back({"join_1n_1e6", 1'000'000, false, one_to_many_rows, [](backend& be, prepared& p) {
                   bool ok = false;
                   joconde::engines::kernels::join_many(be, p.tables.at("many"), 0, p.tables.at("unique"), 0,
                                                        false, ok, 58);
                   if (!ok)
                     throw std::runtime_error("join_1n_1e6: the unique side's keys repeat");
                 }});
  add_sql_figures(out);
  return out;
}

/// User plus system CPU time of this process so far.
word cpu_ns() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto ns = [](const timeval& t) {
    return static_cast<word>(t.tv_sec) * 1'000'000'000 + static_cast<word>(t.tv_usec) * 1000;
  };
  return ns(u.ru_utime) + ns(u.ru_stime);
}

/// Runs one figure; false if a party failed.
bool measure(const figure& f) {
  joconde::test::three_options opts;
  // Room for figures over 10^7 rows (a party may compute for minutes between two messages).
  opts.overall = std::chrono::minutes(30);
  opts.io_timeout = std::chrono::seconds(600);
  auto out = joconde::test::run_three_parties(
    [&f](backend& be, unsigned party) {
      auto p = f.prepare(be, party, f.n);
      auto one = be.constant(1, 1);
      be.reveal(one);
      auto before = be.stats().bytes_sent;
      auto cpu_before = cpu_ns();
      auto start = std::chrono::steady_clock::now();
      f.run(be, p);
      auto sent = be.stats().bytes_sent - before;
      be.reveal(one);
      auto ns = std::chrono::steady_clock::now() - start;
      return joconde::test::to_bytes({static_cast<word>(std::chrono::nanoseconds(ns).count()), sent, cpu_ns() - cpu_before});
    },
    opts);
  word bytes = 0;
  word cpu = 0;
  for (unsigned i = 0; i < 3; ++i) {
    if (!out[i].ok || out[i].bytes.size() != 3 * sizeof(word)) {
      std::cerr << f.name << ": party " << i << " failed: " << out[i].error << "\n";
      return false;
    }
    bytes = std::max(bytes, joconde::test::to_words(out[i].bytes)[1]);
    cpu = std::max(cpu, joconde::test::to_words(out[i].bytes)[2]);
  }
  double seconds = static_cast<double>(joconde::test::to_words(out[0].bytes)[0]) * 1e-9;
  if (f.rate)
    std::printf("%s_per_s: %.0f ops/s\n", f.name.c_str(), static_cast<double>(f.n) / seconds);
  else
    std::printf("%s_ms: %.1f ms\n", f.name.c_str(), seconds * 1e3);
  std::printf("%s_bytes_per_party: %llu bytes\n", f.name.c_str(), static_cast<unsigned long long>(bytes));
  std::printf("%s_cpu_per_party: %.1f ms\n", f.name.c_str(), static_cast<double>(cpu) * 1e-6);
  std::fflush(stdout);
  return true;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> wanted(argv + 1, argv + argc);
  bool good = true;
  bool any = false;
  for (const auto& f : figures()) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), f.name) == wanted.end())
      continue;
    any = true;
    good &= measure(f);
  }
  if (!any) {
    std::cerr << "joconde-bench-engine: no such figure; known:";
    for (const auto& f : figures())
      std::cerr << " " << f.name;
    std::cerr << "\n";
    return 2;
  }
  return good ? 0 : 1;
}
