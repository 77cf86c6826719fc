#pragma once

// The environment of the negative test program (negative_test.cpp): the cluster every test case
// shares, the rogue identity, and how a joconde-inject attack is run and checked at the root. The
// test cases stay in one file: their order matters (the campaigns go last).

#include <boost/test/unit_test.hpp>

#include "support/files.hpp"
#include "support/cluster.hpp"
#include "support/test_pki.hpp"

#include "joconde/runtime/crypto.hpp"
#include "node/pki_commands.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>

namespace negative_test_support {

using namespace joconde;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

inline const std::string domain = "joconde.test";
inline const std::string rogue_fqdn = "rogue." + domain;
inline const std::string cp1_fqdn = "cp1." + domain;

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

using test::read_all;

/// Runs a shell command; its exit code and standard output (standard error goes to `err_file`).
inline std::pair<int, std::string> run(const std::string& cmd, const fs::path& err_file) {
  std::string out;
  auto full = cmd + " 2> " + shell_quote(err_file.string());
  auto* p = ::popen(full.c_str(), "r");
  if (p == nullptr)
    return {-1, out};
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  auto rc = ::pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

template <class T>
T must(result<T> r, const std::string& what) {
  if (!r)
    throw std::runtime_error(what + ": " + r.err().describe());
  return std::move(*r);
}

/// Writes a file readable by its owner only.
inline void write_secret_file(const fs::path& file, const std::string& content) {
  if (auto r = pki::write_file(file, content, fs::perms::owner_read | fs::perms::owner_write); !r)
    throw std::runtime_error("cannot write " + file.string() + ": " + r.err().describe());
}

/// The cluster, the rogue identity (a valid direct child of the root that is not running) and a
/// temporary directory for private keys, shared by every test case.
struct environment {
  test::cluster c{"negative"};
  fs::path tmp;
  fs::path rogue;
  fs::path other;
  std::string root_listen;
  std::string node_bin = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-node";
  std::string inject_bin = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-inject";

  environment() {
    std::string pattern = (fs::temp_directory_path() / "joconde-negative-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("cannot make a temporary directory");
    tmp = pattern;
    fs::permissions(tmp, fs::perms::owner_all);
    try {
      rogue = tmp / "rogue";
      other = c.data_dir("cp2");
      root_listen = c.node("root")["listen"].get<std::string>();
      auto root_dir = c.data_dir("root").string();
      auto setup = [&](const std::string& args) {
        auto [rc, out] = run(node_bin + " " + args, tmp / "setup.err");
        if (rc != 0)
          throw std::runtime_error("joconde-node " + args + " failed: " + out
                                   + read_all(tmp / "setup.err"));
      };
      setup("init --dir " + shell_quote(rogue.string()) + " --name rogue --role client --parent "
            + root_listen + " --org Rogue --email it@rogue.example --listen 127.0.0.1:1"
            + " --http 127.0.0.1:2 --metrics 127.0.0.1:3");
      setup("enrol --dir " + shell_quote(root_dir) + " --csr "
            + shell_quote((rogue / "node.csr.pem").string()) + " --role client --out "
            + shell_quote((rogue / "issued-chain.pem").string()));
      setup("install --dir " + shell_quote(rogue.string()) + " --chain "
            + shell_quote((rogue / "issued-chain.pem").string()) + " --root-ca "
            + shell_quote(root_dir + "/root-ca.pem"));
    } catch (...) {
      fs::remove_all(tmp);
      throw;
    }
  }

  ~environment() {
    std::error_code ec;
    fs::remove_all(tmp, ec);
  }

  fs::path root_log() const { return c.data_dir("root") / "node.log.rfc5424"; }
  fs::path root_audit() const { return c.data_dir("root") / "audit.log"; }

  /// Links between the root and its real children (not the rogue) that went down so far.
  size_t link_drops() const {
    return test::count_lines_with_all(root_log(), {"link to child ", " is down: "})
           - test::count_lines_with_all(root_log(), {"link to child " + rogue_fqdn + " is down: "});
  }

  /// Every node ready, every link up, and no link of the root to a real child dropped meanwhile.
  void check_healthy(size_t drops_before, const std::string& what) const {
    BOOST_CHECK_MESSAGE(test::cluster::wait_until([&] { return c.ops("status") == 0; }, 15s),
                        "the cluster is not healthy after " << what);
    auto drops = link_drops() - drops_before;
    BOOST_CHECK_MESSAGE(drops == 0, drops << " link(s) of the root dropped during " << what);
  }

  /// Envelopes in a node's inbox with this topic.
  size_t inbox_count(const std::string& node, const std::string& topic) const {
    auto [status, doc] = c.call(node, "GET", "/v1/inbox?count_only=1&topic=" + topic);
    BOOST_REQUIRE_MESSAGE(status == 200, node << " /v1/inbox answered " << status << " " << doc.dump());
    return doc["count"].get<size_t>();
  }

  /// Inbox entries of a node whose topic starts with "inject.", by topic.
  std::map<std::string, size_t> injected_entries(const std::string& node) const {
    auto [status, doc] = c.call(node, "GET", "/v1/inbox");
    BOOST_REQUIRE_MESSAGE(status == 200, node << " /v1/inbox answered " << status);
    std::map<std::string, size_t> out;
    for (const auto& e : doc["entries"]) {
      auto topic = e.value("topic", std::string{});
      if (topic.rfind("inject.", 0) == 0)
        ++out[topic];
    }
    return out;
  }

  /// Runs joconde-inject; {exit code, outcome line, standard error}.
  struct inject_result {
    int rc;
    std::string line;
    std::string err;
  };

  inject_result inject(const std::string& attack) const {
    auto cmd = "timeout 60 " + shell_quote(inject_bin) + " --identity " + shell_quote(rogue.string())
               + " --target " + root_listen + " --attack " + attack + " --other "
               + shell_quote(other.string()) + " --recipients " + domain + "," + cp1_fqdn;
    auto [rc, out] = run(cmd, tmp / "inject.err");
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
      out.pop_back();
    return {rc, out, read_all(tmp / "inject.err")};
  }

  /// Runs `openssl s_client` against the root with `args`; everything it printed. Standard input
  /// stays open for a second so that an alert sent after the TLS 1.3 handshake is read too.
  std::string s_client(const std::string& args) const {
    auto cmd = "(sleep 1) | timeout 20 openssl s_client -connect " + root_listen + " " + args
               + " 2>&1";
    auto [rc, out] = run(cmd, tmp / "s_client.err");
    return out + read_all(tmp / "s_client.err");
  }
};

inline std::optional<environment> env;

struct global_environment {
  global_environment() { env.emplace(); }
  ~global_environment() { env.reset(); }
};

/// What one joconde-inject attack must show at the root.
struct attack_spec {
  std::string attack;
  std::string outcome;                 ///< the outcome line starts with this
  std::string metric;                  ///< root metric sample that must rise
  double delta = 1;                    ///< by exactly this much
  std::vector<std::string> log_needles; ///< a new line of the root's log holds all of these
  bool in_audit = false;               ///< look in the audit log instead of the operational log
  double routed_in = 0;                ///< joconde_envelopes_routed_total{direction="in"} rise
};

inline void check_attack(const attack_spec& spec) {
  auto& e = *env;
  BOOST_TEST_CONTEXT("attack " << spec.attack) {
    auto log_file = spec.in_audit ? e.root_audit() : e.root_log();
    auto metric_before = e.c.metric("root", spec.metric);
    auto routed_before = e.c.metric("root", "joconde_envelopes_routed_total{direction=\"in\"}");
    auto log_before = test::count_lines_with_all(log_file, spec.log_needles);
    auto drops_before = e.link_drops();
    auto res = e.inject(spec.attack);
    BOOST_TEST_MESSAGE(spec.attack << ": " << res.line);
    BOOST_REQUIRE_MESSAGE(res.rc == 0, "joconde-inject exited " << res.rc << ": " << res.err);
    BOOST_CHECK_MESSAGE(res.line.find('\n') == std::string::npos, "more than one line: " << res.line);
    BOOST_CHECK_MESSAGE(res.line.rfind(spec.outcome, 0) == 0,
                        "outcome \"" << res.line << "\", expected \"" << spec.outcome << "...\"");
    // The verdict is counted, by exactly the expected amount.
    BOOST_CHECK_MESSAGE(test::cluster::wait_until(
                          [&] { return e.c.metric("root", spec.metric) >= metric_before + spec.delta; },
                          5s),
                        spec.metric << " did not rise from " << metric_before);
    BOOST_CHECK_EQUAL(e.c.metric("root", spec.metric), metric_before + spec.delta);
    BOOST_CHECK_EQUAL(e.c.metric("root", "joconde_envelopes_routed_total{direction=\"in\"}"),
                      routed_before + spec.routed_in);
    // ... and logged with its reason.
    BOOST_CHECK_MESSAGE(test::cluster::wait_until(
                          [&] { return test::count_lines_with_all(log_file, spec.log_needles) > log_before; }, 5s),
                        "no new line in " << log_file.filename() << " with the reason");
    // The cluster is healthy (every node ready, every link up) and nothing reached an inbox.
    e.check_healthy(drops_before, spec.attack);
    if (spec.routed_in == 0) {
      BOOST_CHECK_EQUAL(e.inbox_count("root", "inject." + spec.attack), 0u);
      BOOST_CHECK_EQUAL(e.inbox_count("cp1", "inject." + spec.attack), 0u);
    }
  }
}

inline std::string reason(const std::string& code) {
  return "reason=\"" + code + "\"";
}

inline std::string rejected(const std::string& code) {
  return "joconde_envelopes_rejected_total{reason=\"" + code + "\"}";
}

inline std::string handshakes(const std::string& result) {
  return "joconde_handshakes_total{result=\"" + result + "\"}";
}

inline const std::string envelope_refused = "envelope from " + rogue_fqdn + " refused";

} // namespace negative_test_support
