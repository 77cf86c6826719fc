// joconde-fake-vm: a stand-in for joconde-vm that the secure processor test (sp_test.cpp) launches
// with `joconde-sp launch`. It asks the SP for its launch configuration and for evidence, and writes
// what it learned to a file (atomically, by renaming), one "key value" line each:
//
//   argv0 <argv[0]>          env <set|unset>    (JOCONDE_ATTEST_FD after from_environment)
//   config <hex>             host <hex>         evidence <hex of encode(evidence)>
//   garbage <errc>           (with --garbage: what get_evidence returns after a malformed request)
//   pid <pid>
//
// Usage: joconde-fake-vm --out FILE [--report-data HEX128] [--garbage] [--exit N | --wait]

#include "joconde/enclave/platform.hpp"
#include "joconde/enclave/secure_processor.hpp"
#include "joconde/messages/text.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

using namespace joconde;
using namespace joconde::enclave;

namespace {

using text::hex;

report_data parse_report_data(std::string_view digits) {
  report_data out{};
  auto raw = text::from_hex(digits);
  if (!raw)
    throw std::invalid_argument{"--report-data: " + raw.err().message};
  std::copy_n(raw->begin(), std::min(raw->size(), out.size()), out.begin());
  return out;
}

int die(const std::string& what) {
  std::cerr << "joconde-fake-vm: " << what << std::endl;
  return 99;
}

} // namespace

int main(int argc, char** argv) {
  std::string out_file;
  std::string report_hex;
  bool garbage = false;
  bool wait = false;
  int exit_code = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg{argv[i]};
    if (arg == "--out" && i + 1 < argc)
      out_file = argv[++i];
    else if (arg == "--report-data" && i + 1 < argc)
      report_hex = argv[++i];
    else if (arg == "--exit" && i + 1 < argc)
      exit_code = std::atoi(argv[++i]);
    else if (arg == "--garbage")
      garbage = true;
    else if (arg == "--wait")
      wait = true;
    else
      return die("unknown argument " + std::string{arg});
  }
  if (out_file.empty())
    return die("--out is required");
  std::ostringstream out;
  out << "argv0 " << argv[0] << "\n";
  if (garbage) {
    // A request outside the protocol, straight on the socket: the SP must close it, not crash.
    const char* fd_text = std::getenv("JOCONDE_ATTEST_FD");
    if (fd_text == nullptr)
      return die("JOCONDE_ATTEST_FD is not set");
    [[maybe_unused]] auto n = ::send(std::atoi(fd_text), "XXXX", 4, MSG_NOSIGNAL);
  }
  auto attester = fd_attester::from_environment();
  if (!attester)
    return die(attester.err().describe());
  out << "env " << (std::getenv("JOCONDE_ATTEST_FD") == nullptr ? "unset" : "set") << "\n";
  if (garbage) {
    auto ev = attester->get_evidence(report_data{});
    out << "garbage " << (ev ? "accepted" : to_string(ev.err().code)) << "\n";
  } else {
    auto launch = attester->launch_configuration();
    if (!launch)
      return die(launch.err().describe());
    out << "config " << hex(launch->image_config) << "\n";
    out << "host " << hex(launch->host) << "\n";
    auto ev = attester->get_evidence(parse_report_data(report_hex));
    if (!ev)
      return die(ev.err().describe());
    out << "evidence " << hex(encode(*ev)) << "\n";
  }
  out << "pid " << ::getpid() << "\n";
  {
    std::ofstream file{out_file + ".tmp"};
    file << out.str();
  }
  std::rename((out_file + ".tmp").c_str(), out_file.c_str());
  if (wait)
    for (;;)
      ::pause();
  return exit_code;
}
