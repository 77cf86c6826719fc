#define BOOST_TEST_MODULE ct_deploy
#include <boost/test/unit_test.hpp>

// A CT on a real cluster (DESIGN.md §6 workflows 3 and 7): once a CTA is final, each CP's Deployment
// Operator starts its CT VM through the simulated secure processor (joconde-sp, joconde-vm), reports
// its addresses and events to the root, which keeps and forwards them to every holder; a VM killed
// with SIGKILL, a CP restarted under a running VM and a cancellation by the SO each end every VM of
// the CT, leave no CT directory behind, archive the VM logs and write a signed erasure record into
// each CP's audit log. A CTA whose CTSC does not accept the CPs' image is refused by every CP.

#include "support/cluster.hpp"

#include "joconde/runtime/crypto.hpp"

#include <filesystem>
#include <fstream>
#include <optional>
#include <signal.h>
#include <sstream>

using namespace joconde;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::optional<test::cluster> cluster;

struct global_cluster {
  global_cluster() { cluster.emplace("ct-deploy"); }
  ~global_cluster() { cluster.reset(); }
};

const std::vector<std::string> cps{"cp1", "cp2", "cp3"};

std::string new_pak() {
  auto der = crypto::private_key::generate().value().public_key().to_der();
  return crypto::to_base64(der);
}

json example_task() {
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
  std::stringstream buf;
  buf << in.rdbuf();
  return json::parse(buf.str());
}

/// The measurement a node shows at GET /v1/tee, as a CTSC's tee_measurements entry.
json measurement_at(const std::string& node) {
  auto [s, tee] = cluster->call_as(node, "auditor", "GET", "/v1/tee");
  BOOST_REQUIRE_MESSAGE(s == 200, node << ": " << tee.dump());
  auto raw = crypto::from_hex(tee["measurement"].get<std::string>()).value();
  return json{{"platform", "simulated"}, {"image", tee["image"]},
              {"measurement", crypto::to_base64(raw)}};
}

void ok(const std::string& node, const std::string& role, const std::string& path, const json& body) {
  auto [s, doc] = cluster->call_as(node, role, "POST", path, body);
  BOOST_REQUIRE_MESSAGE(s >= 200 && s < 300, node << " " << path << ": " << doc.dump());
}

/// A CTA of the example task, made final, with `measurements` as its tee_measurements.
std::string final_cta(const json& measurements) {
  auto task = example_task();
  task["tee_measurements"] = measurements;
  auto [s, created] = cluster->call_as("client-a", "task_organiser", "POST", "/v1/ctas", task);
  BOOST_REQUIRE_MESSAGE(s == 201, created.dump());
  auto uuid = created["uuid"].get<std::string>();
  auto base = "/v1/ctas/" + uuid;
  for (auto [peer, input] : {std::pair{"client-a", "a_enterprises"}, {"client-b", "b_enterprises"}}) {
    ok(peer, "data_custodian", base + "/paks",
       json{{"name", "Cleo"}, {"pak", new_pak()}, {"input_keys", {input}}});
    ok(peer, "data_analyst", base + "/paks",
       json{{"name", "Dan"}, {"pak", new_pak()}, {"output_keys", {"turnover_by_region"}}});
    ok(peer, "task_organiser", base + "/ctsa", json{{"signatories", {{{"name", "Ada"}}}}});
    ok(peer, "signatory", base + "/signatures",
       json{{"signatory", 0},
            {"document", {{"name", "s.pdf"}, {"media_type", "application/pdf"}, {"data", "JVBERi0xLjQK"}}}});
  }
  for (auto peer : {"client-a", "client-b"})
    ok("root", "approver", base + "/decisions", json{{"peer", peer}, {"approve", true}});
  return uuid;
}

json cta_at(const std::string& node, const std::string& uuid) {
  auto [s, doc] = cluster->call_as(node, "auditor", "GET", "/v1/ctas/" + uuid);
  return s == 200 ? doc : json{{"status", "http " + std::to_string(s)}};
}

/// True when `node`'s view of the CTA has an event of `cp` (short name) with these fields.
bool has_event(const json& doc, const std::string& cp, const std::string& kind,
               const std::string& subject_or_value) {
  for (const auto& ev : doc.value("telemetry", json::array()))
    if (ev["cp"] == cp + ".joconde.test" && ev["kind"] == kind
        && (ev["subject"] == subject_or_value || ev["value"] == subject_or_value))
      return true;
  return false;
}

bool every_vm_listens(const std::string& node, const std::string& uuid) {
  return cta_at(node, uuid).value("vms", json::array()).size() == cps.size();
}

/// Every CP tore its VM down: no CT directory left, its log archived, a signed erasure record in
/// its audit log, an "erased" event at the root.
void every_vm_erased(const std::string& uuid) {
  for (const auto& cp : cps) {
    BOOST_TEST_CONTEXT(cp) {
      auto left = cluster->vm_remains(cp, uuid, 30s);
      BOOST_CHECK_MESSAGE(left.empty(), "left behind: " << left);
      BOOST_CHECK(test::cluster::wait_until([&] { return has_event(cta_at("root", uuid), cp, "erased", "cancelled")
                                                           || has_event(cta_at("root", uuid), cp, "erased", "vm-exited"); },
                                            10s));
    }
  }
}

} // namespace

BOOST_TEST_GLOBAL_FIXTURE(global_cluster);

BOOST_AUTO_TEST_CASE(every_node_shows_the_same_ct_vm_measurement) {
  auto at_cp = measurement_at("cp1");
  for (auto node : {"root", "cp2", "cp3", "client-a", "client-b"})
    BOOST_CHECK_MESSAGE(measurement_at(node) == at_cp, node);
  auto [s, tee] = cluster->call_as("client-b", "auditor", "GET", "/v1/tee");
  BOOST_CHECK_EQUAL(tee["simulated"], true);
  BOOST_CHECK(tee["note"].get<std::string>().find("no memory protection") != std::string::npos);
  BOOST_CHECK_EQUAL(cluster->call_as("client-b", "", "GET", "/v1/tee", {}, "jct_nobody").first, 401);
}

BOOST_AUTO_TEST_CASE(the_cps_run_the_ct_and_a_killed_vm_ends_it_everywhere) {
  auto uuid = final_cta(json::array({measurement_at("cp1")}));
  // Every CP's VM listens; the root and the peers know where; each VM knows its counterparts.
  for (auto node : {"root", "client-a", "client-b", "cp1", "cp2", "cp3"})
    BOOST_CHECK_MESSAGE(test::cluster::wait_until([&] { return every_vm_listens(node, uuid); }, 60s),
                        node << " does not know every CT VM: " << cta_at(node, uuid).dump());
  auto at_a = cta_at("client-a", uuid);
  for (size_t i = 0; i < cps.size(); ++i) {
    const auto& vm = at_a["vms"][i];
    BOOST_CHECK_EQUAL(vm["platform"], "joconde-simulated");
    BOOST_CHECK(vm["client_address"].get<std::string>().rfind("127.0.0.1:", 0) == 0);
  }
  for (const auto& cp : cps) {
    BOOST_CHECK_MESSAGE(test::cluster::wait_until([&] { return has_event(cta_at("client-b", uuid), cp, "phase", "input"); },
                                                  30s),
                        cp << " never reported the input phase: " << cta_at("client-b", uuid)["telemetry"].dump());
    BOOST_CHECK(has_event(cta_at("root", uuid), cp, "vm", "started (process provisioner, simulated TEE)"));
    BOOST_CHECK_EQUAL(cluster->metric(cp, "joconde_ct_vms_running"), 1.0);
    BOOST_CHECK(fs::exists(cluster->data_dir(cp) / "ct" / uuid / "vm" / "endpoints.json"));
  }
  auto [ss, status] = cluster->call("cp1", "GET", "/v1/status");
  BOOST_CHECK_EQUAL(status["deployment_operator"]["running"].size(), 1u);

  // SIGKILL to cp2's VM: cp2 reports it (vm-exited), the root cancels the CTA, every VM goes.
  auto pid = cluster->vm_pid("cp2", uuid);
  BOOST_REQUIRE(pid > 0);
  BOOST_REQUIRE_EQUAL(::kill(pid, SIGKILL), 0);
  for (auto node : {"root", "client-a", "cp1", "cp3"})
    BOOST_CHECK_MESSAGE(test::cluster::wait_until([&] { return cta_at(node, uuid)["status"] == "cancelled"; }, 30s),
                        node);
  BOOST_CHECK(cta_at("root", uuid)["reason"].get<std::string>().find("cp2.joconde.test") != std::string::npos);
  BOOST_CHECK(has_event(cta_at("root", uuid), "cp2", "erased", "vm-exited"));
  every_vm_erased(uuid);
  for (const auto& cp : cps)
    BOOST_CHECK(test::cluster::wait_until([&] { return cluster->metric(cp, "joconde_ct_vms_running") == 0.0; }, 10s));
}

BOOST_AUTO_TEST_CASE(a_vm_lost_with_its_cps_restart_ends_the_ct) {
  auto uuid = final_cta(json::array({measurement_at("cp1")}));
  BOOST_REQUIRE(test::cluster::wait_until([&] { return every_vm_listens("root", uuid); }, 60s));
  BOOST_REQUIRE_EQUAL(cluster->ops("kill cp3"), 0);
  BOOST_CHECK(fs::exists(cluster->data_dir("cp3") / "ct" / uuid)); // the node died, its CT directory not
  BOOST_REQUIRE_EQUAL(cluster->ops("start cp3"), 0);
  cluster->reload();
  BOOST_CHECK(test::cluster::wait_until([&] { return has_event(cta_at("root", uuid), "cp3", "vm", "lost on node restart"); },
                                        30s));
  BOOST_CHECK(test::cluster::wait_until([&] { return cta_at("client-b", uuid)["status"] == "cancelled"; }, 30s));
  every_vm_erased(uuid);
}

BOOST_AUTO_TEST_CASE(the_so_cancels_a_running_ct) {
  auto uuid = final_cta(json::array({measurement_at("cp1")}));
  BOOST_REQUIRE(test::cluster::wait_until([&] { return every_vm_listens("root", uuid); }, 60s));
  ok("root", "approver", "/v1/ctas/" + uuid + "/cancel", json{{"reason", "SO: wrong period"}});
  every_vm_erased(uuid);
  for (const auto& cp : cps)
    BOOST_CHECK_MESSAGE(test::count_lines_with_all(cluster->data_dir(cp) / "audit.log",
                                                   {"event=\"ct.vm.started\"", uuid})
                          == 1,
                        cp);
}

BOOST_AUTO_TEST_CASE(a_cta_that_does_not_accept_the_image_is_refused_by_every_cp) {
  auto other = measurement_at("cp1");
  other["measurement"] = crypto::to_base64(std::string(48, 'x'));
  auto uuid = final_cta(json::array({other}));
  for (const auto& cp : cps) {
    BOOST_CHECK_MESSAGE(test::cluster::wait_until(
                          [&] {
                            for (const auto& ev : cta_at("root", uuid).value("telemetry", json::array()))
                              if (ev["cp"] == cp + ".joconde.test" && ev["kind"] == "vm"
                                  && ev["value"].get<std::string>().rfind("refused: the CTSC accepts no simulated "
                                                                          "measurement",
                                                                          0)
                                       == 0)
                                return true;
                            return false;
                          },
                          30s),
                        cp);
    BOOST_CHECK(!fs::exists(cluster->data_dir(cp) / "ct" / uuid));
    BOOST_CHECK_EQUAL(test::count_lines_with_all(cluster->data_dir(cp) / "audit.log",
                                                 {"event=\"ct.vm.refused\"", uuid}),
                      1u);
  }
  BOOST_CHECK_EQUAL(cta_at("root", uuid)["status"], "instantiated");
  BOOST_CHECK(cta_at("root", uuid)["vms"].empty());
}

BOOST_AUTO_TEST_CASE(a_cp_whose_vm_port_range_is_used_up_starts_no_further_vm_and_says_why) {
  // cp1's operator opened only four ports for CT VMs: one VM fits (client, peer, MPC, admin).
  auto ini = cluster->data_dir("cp1") / "joconde.ini";
  std::string text;
  {
    std::ifstream in{ini};
    std::stringstream buf;
    buf << in.rdbuf();
    text = buf.str();
  }
  auto at = text.find("ports = ");
  BOOST_REQUIRE(at != std::string::npos);
  auto end = text.find('\n', at);
  auto range = text.substr(at + 8, end - at - 8);
  auto first = std::stoi(range.substr(0, range.find('-')));
  auto narrow = "ports = " + std::to_string(first) + "-" + std::to_string(first + 3);
  {
    std::ofstream out{ini, std::ios::trunc};
    out << text.substr(0, at) << narrow << text.substr(end);
  }
  BOOST_REQUIRE_EQUAL(cluster->ops("kill cp1"), 0);
  BOOST_REQUIRE_EQUAL(cluster->ops("start cp1"), 0);
  cluster->reload();
  auto first_ct = final_cta(json::array({measurement_at("cp1")}));
  BOOST_REQUIRE(test::cluster::wait_until([&] { return every_vm_listens("root", first_ct); }, 60s));
  // The next CT: cp1 refuses to start its VM, says why, and the first CT goes on.
  auto second_ct = final_cta(json::array({measurement_at("cp1")}));
  BOOST_CHECK_MESSAGE(test::cluster::wait_until(
                        [&] {
                          for (const auto& ev : cta_at("client-a", second_ct).value("telemetry", json::array()))
                            if (ev["cp"] == "cp1.joconde.test" && ev["kind"] == "vm"
                                && ev["value"].get<std::string>().find("refused: the CT VM port range is exhausted: "
                                                                       "vm.ports = " + std::to_string(first))
                                     == 0)
                              return true;
                          return false;
                        },
                        30s),
                      cta_at("client-a", second_ct).dump());
  BOOST_CHECK(!fs::exists(cluster->data_dir("cp1") / "ct" / second_ct));
  BOOST_CHECK_EQUAL(test::count_lines_with_all(cluster->data_dir("cp1") / "audit.log",
                                               {"event=\"ct.vm.refused\"", second_ct, "port range is exhausted"}),
                    1u);
  BOOST_CHECK(cluster->vm_pid("cp1", first_ct) > 0);
  BOOST_CHECK_EQUAL(cta_at("root", first_ct)["status"], "instantiated");
  BOOST_CHECK_EQUAL(cluster->metric("cp1", "joconde_ct_vms_running"), 1.0);
  ok("root", "approver", "/v1/ctas/" + first_ct + "/cancel", json{{"reason", "test over"}});
  ok("root", "approver", "/v1/ctas/" + second_ct + "/cancel", json{{"reason", "test over"}});
  every_vm_erased(first_ct);
}
