// The upload benchmark: io::upload (actors/cplane/io_service.hpp) of a generated CSV file into the
// three CT VMs of one CT, all in this process (tests/support/ct_fixture.hpp: each VM has its own actor
// system, sockets on 127.0.0.1, sealed files in a temporary directory) on the SIMULATED TEE platform.
// Each figure uploads its file 3 times into the same slot (a new upload each time: the latest wins
// until input closes; the CT stays in the input phase because the input `income` stays empty) and
// prints, per repetition, the upload_report's parse, attest, share and transfer times and the wall
// time of the call (steady clock), then the resident set of the process (client and VMs together).
// Prints `figure: value unit` lines after a `#` header; exits 1 if an upload fails, 2 for an unknown
// figure. Usage: joconde-bench-upload [FIGURE...], e.g. `joconde-bench-upload 3col_1e6`; no argument
// runs every figure.

#include "support/ct_fixture.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace joconde;

constexpr int repetitions = 3;
constexpr std::uint64_t max_rows = 1'000'000;

/// One benchmark figure: an upload of `rows` generated rows into an input of `columns` columns.
struct figure {
  std::string name;  ///< as printed (after "upload_") and as selected on the command line
  unsigned columns;  ///< 3: input `people` (id, region, age); 2: input `persons` (id, region)
  std::size_t rows;
};

/// Every figure, in the order they run.
std::vector<figure> figures() {
  return {{"3col_1e5", 3, 100'000}, {"2col_1e5", 2, 100'000},
          {"3col_1e6", 3, 1'000'000}, {"2col_1e6", 2, 1'000'000}};
}

/// The CSV file of a figure: unique ids, the regions in turn, ages from a fixed seed.
std::string make_csv(unsigned columns, std::size_t rows) {
  const auto regions = test::fixture_cta::regions();
  std::mt19937 gen{42};
  std::string s = columns == 3 ? "id,region,age\n" : "id,region\n";
  s.reserve(rows * 20);
  for (std::size_t r = 0; r < rows; ++r) {
    s += 'P';
    s += std::to_string(r);
    s += ',';
    s += regions[r % regions.size()];
    if (columns == 3) {
      s += ',';
      s += std::to_string(gen() % 100);
    }
    s += '\n';
  }
  return s;
}

/// A field of /proc/self/status in MiB (VmRSS, VmHWM), or -1.
double status_mib(const std::string& field) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0)
      return std::stod(line.substr(field.size() + 1)) / 1024.0;  // kB
  return -1;
}

void print_ms(const std::string& name, double ms) {
  std::printf("%s: %.1f ms\n", name.c_str(), ms);
}

/// Runs one figure; false if an upload failed.
bool measure(test::ct_cluster& c, const test::fixture_cta& f, const figure& fig) {
  const auto csv = make_csv(fig.columns, fig.rows);
  const auto slot = fig.columns == 3 ? "people" : "persons";
  const auto& uuid = f.final.cta().ctsc().uuid();
  const auto prefix = "upload_" + fig.name;
  std::printf("%s_csv_bytes: %zu bytes\n", prefix.c_str(), csv.size());
  for (int k = 1; k <= repetitions; ++k) {
    auto auth = test::authorize(f.custodian_a, uuid, slot, true);
    auto start = std::chrono::steady_clock::now();
    auto rep = io::upload(c.target, slot, csv, auth);
    auto total = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!rep) {
      std::cerr << "joconde-bench-upload: " << prefix << " repetition " << k << " failed after "
                << total << " ms: " << rep.err().describe() << "\n";
      return false;
    }
    if (rep->rows != fig.rows || rep->phase != "input") {
      std::cerr << "joconde-bench-upload: " << prefix << " repetition " << k << " stored " << rep->rows
                << " rows, the CT is in the " << rep->phase << " phase\n";
      return false;
    }
    const auto r = prefix + "_r" + std::to_string(k);
    print_ms(r + "_parse_ms", rep->parse_ms);
    print_ms(r + "_attest_ms", rep->attest_ms);
    print_ms(r + "_share_ms", rep->share_ms);
    print_ms(r + "_transfer_ms", rep->transfer_ms);
    print_ms(r + "_total_ms", total);
    std::fflush(stdout);
  }
  std::printf("%s_rss: %.0f MiB\n", prefix.c_str(), status_mib("VmRSS"));
  std::printf("%s_peak_rss: %.0f MiB\n", prefix.c_str(), status_mib("VmHWM"));
  std::fflush(stdout);
  return true;
}

void print_header() {
  std::printf(
    "# joconde-bench-upload: io::upload of a generated CSV file into the 3 CT VMs of one CT, client and\n"
    "# VMs in this process on 127.0.0.1, %u hardware threads. TEE platform: SIMULATED (evidence and\n"
    "# sealing keys made in memory; no TEE, no VM boundary, no network).\n"
    "# upload_<C>col_<N>_r<K>_...: repetition K of uploading N rows of C columns (3: id key, region\n"
    "# category, age integer; 2: id, region), each a new upload into the same slot:\n"
    "#   parse_ms     the CSV checked against the input's schema and encoded (client)\n"
    "#   attest_ms    the 3 VMs attested, concurrently (client and VMs)\n"
    "#   share_ms     every column split into rss3 shares and encoded per CP (client)\n"
    "#   transfer_ms  request, shares sent over the 3 attested streams, received, sealed to disk at\n"
    "#                every CP and confirmed between the CPs (client and VMs)\n"
    "#   total_ms     the wall time of io::upload (steady clock)\n"
    "# upload_<C>col_<N>_rss / _peak_rss: resident set of the process (client and 3 VMs) after the\n"
    "# figure / its peak so far.\n",
    std::thread::hardware_concurrency());
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> wanted(argv + 1, argv + argc);
  std::vector<figure> chosen;
  for (const auto& fig : figures())
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), fig.name) != wanted.end())
      chosen.push_back(fig);
  if (chosen.empty()) {
    std::cerr << "joconde-bench-upload: no such figure; known:";
    for (const auto& fig : figures())
      std::cerr << " " << fig.name;
    std::cerr << "\n";
    return 2;
  }
  print_header();
  try {
    auto platform = enclave::simulated_platform::create();
    if (!platform) {
      std::cerr << "joconde-bench-upload: " << platform.err().describe() << "\n";
      return 1;
    }
    test::fixture_cta f{*platform, now_ms() + 600'000, max_rows};
    f.add_input("people", "a.test",
                {test::column("id", v1::Column::TYPE_TEXT_KEY),
                 test::column("region", v1::Column::TYPE_CATEGORY, test::fixture_cta::regions()),
                 test::column("age", v1::Column::TYPE_INTEGER, {}, "0", "150")},
                max_rows, f.custodian_a);
    // A CP's own timeouts rather than the tests' shorter ones.
    test::ct_cluster_options o;
    const vm::vm_options defaults;
    o.upload_confirm_timeout = defaults.upload_confirm_timeout;
    o.io_timeout = defaults.io_timeout;
    test::ct_cluster c{*platform, f, o};
    if (!c.wait_phase("input")) {
      std::cerr << "joconde-bench-upload: the VMs did not attest each other and open input\n";
      return 1;
    }
    for (const auto& fig : chosen)
      if (!measure(c, f, fig))
        return 1;
  } catch (const test::fixture_error& e) {
    std::cerr << "joconde-bench-upload: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
