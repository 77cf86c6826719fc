#define BOOST_TEST_MODULE continuity
#include "ct_lifecycle_test_support.hpp"

// Continuity (issue 20, spec §4.4.2.3): the root sets a rotation period of 20 s for its tree, so
// every member node rotates its key by its own timer, again and again, while a CTA is agreed and
// run. Once the CTSC is registered, the test waits until every peer and Computing Party has a
// certificate other than the one the CTSC names; then the peers sign and submit their CTSAs with
// their new keys (the signature carries the rotation notices that lead from the named certificate),
// the SO approves, every node checks the final CTA, and the CT runs to its end (both analysts
// download the right table) while the nodes keep rotating.

using namespace joconde;
using namespace std::chrono_literals;
using namespace ct_lifecycle_test_support;

namespace {

constexpr int rotation_period_s = 20;

struct rotating_cluster {
  rotating_cluster() { bring_up("continuity", "--rotation-period-seconds " + std::to_string(rotation_period_s)); }
  ~rotating_cluster() { bring_down(); }
};

const std::vector<std::string> members{"client-a", "client-b", "cp1", "cp2", "cp3"};

/// `node`'s identity as its auditor reads it (GET /v1/identity).
json identity(const std::string& node) {
  auto [status, body] = cluster->call_as(node, "auditor", "GET", "/v1/identity");
  return status == 200 ? body : json::object();
}

} // namespace

BOOST_TEST_GLOBAL_FIXTURE(rotating_cluster);

BOOST_AUTO_TEST_CASE(a_cta_survives_the_rotation_of_every_members_certificate_mid_agreement_and_finishes) {
  // Every node runs by the root's rules, handed down the tree.
  for (const auto& node : holders) {
    json id;
    bool ruled = test::cluster::wait_until(
      [&] {
        id = identity(node);
        return id.value("rotation_period_s", 0) == rotation_period_s;
      },
      30s);
    BOOST_CHECK_MESSAGE(ruled, node << " does not run by the root's rotation period: " << id.dump());
  }

  auto task = demo_task();
  auto now = now_ms();
  task["temporal"]["approval_deadline_ms"] = std::to_string(now + 150'000);
  task["temporal"]["input_deadline_ms"] = std::to_string(now + 200'000);
  task["temporal"]["execution_deadline_ms"] = std::to_string(now + 210'000);
  task["temporal"]["output_deadline_ms"] = std::to_string(now + 330'000);
  auto c = create_cta(task, "rotated");

  // The certificates the CTSC names, as the root registered them.
  std::map<std::string, std::string> named;
  json at_root;
  test::cluster::wait_until(
    [&] {
      at_root = cta_at("root", c.uuid);
      return at_root.value("members", json::array()).size() == members.size();
    },
    30s);
  for (const auto& m : at_root.value("members", json::array()))
    named[m.value("fqdn", "")] = m.value("fingerprint", "");
  for (const auto& node : members)
    BOOST_REQUIRE_MESSAGE(!named[fqdn(node)].empty(), "the CTSC names no certificate of " << node << ": "
                                                        << at_root.dump());

  // Mid-agreement: every member rotates away from the certificate the CTSC names, by its timer.
  std::map<std::string, std::string> rotated;
  for (const auto& node : members) {
    bool moved = test::cluster::wait_until(
      [&] {
        rotated[node] = identity(node).value("fingerprint", "");
        return !rotated[node].empty() && rotated[node] != named[fqdn(node)];
      },
      std::chrono::seconds{4 * rotation_period_s});
    BOOST_REQUIRE_MESSAGE(moved, node << " did not rotate its certificate within " << 4 * rotation_period_s
                                      << " s (still " << rotated[node] << ")");
  }

  // The peers sign and submit with their new keys; the SO approves; every node takes the final CTA.
  complete_agreement(c);
  require_input_phase(c.uuid, 90s);
  for (const auto& node : holders) {
    json doc;
    bool agreed = test::cluster::wait_until(
      [&] {
        doc = cta_at(node, c.uuid);
        auto s = doc.value("status", "");
        return s == "instantiated" || s == "finished";
      },
      30s);
    BOOST_CHECK_MESSAGE(agreed, node << " does not hold the final CTA: " << doc.value("status", "")
                                     << " " << doc.value("reason", ""));
  }

  // The CT runs to its end while the nodes keep rotating.
  upload_both(c, 120, 100);
  reach_output(c.uuid);
  download_both(c, 100);
  status_everywhere(c.uuid, "finished", 60s);

  // And they did keep rotating: each member is past the certificate it signed with.
  for (const auto& node : members) {
    std::string now_fp;
    bool again = test::cluster::wait_until(
      [&] {
        now_fp = identity(node).value("fingerprint", "");
        return !now_fp.empty() && now_fp != rotated[node] && now_fp != named[fqdn(node)];
      },
      std::chrono::seconds{4 * rotation_period_s});
    BOOST_CHECK_MESSAGE(again, node << " stopped rotating: still " << now_fp);
  }
}
