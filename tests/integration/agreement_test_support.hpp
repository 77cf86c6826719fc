#pragma once

// What the parts of the agreement test program (agreement_test.cpp and agreement_test_*.cpp)
// share: the one cluster every test runs on, the example task, and the people, CTSAs and
// signatures a CTA's workflow needs.

#include <boost/test/unit_test.hpp>

#include "support/cluster.hpp"

#include "joconde/engines/ctsc.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_client.hpp"

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include <sys/wait.h>

namespace agreement_test_support {

using namespace joconde;
using namespace std::chrono_literals;
using nlohmann::json;

inline json example_task() {
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
  std::stringstream buf;
  buf << in.rdbuf();
  return json::parse(buf.str());
}

/// What the compiler says `task`'s algorithm discloses (the root requires it in the CTSC).
inline json disclosures_of(const json& task) {
  v1::Ctsc ctsc;
  BOOST_REQUIRE(google::protobuf::util::JsonStringToMessage(task.dump(), &ctsc).ok());
  auto prog = engines::compile_ctsc(ctsc);
  BOOST_REQUIRE_MESSAGE(prog.ok(), (prog ? "" : prog.err().describe()));
  return prog->disclosures();
}

inline std::optional<test::cluster> cluster;

struct global_cluster {
  global_cluster() { cluster.emplace("agreement"); }
  ~global_cluster() { cluster.reset(); }
};

inline std::vector<std::string> uuids_at(const std::string& node) {
  auto [status, doc] = cluster->call_as(node, "auditor", "GET", "/v1/ctas");
  BOOST_REQUIRE_MESSAGE(status == 200, node << ": " << doc.dump());
  std::vector<std::string> out;
  for (const auto& c : doc["ctas"])
    out.push_back(c["uuid"].get<std::string>());
  return out;
}

inline size_t total_ctas() {
  size_t n = 0;
  for (auto node : {"root", "cp1", "cp2", "cp3", "client-a", "client-b"})
    n += uuids_at(node).size();
  return n;
}

/// POSTs a draft as client-a's Task Organiser; {status, error code}.
inline std::pair<int, std::string> create(const json& task) {
  auto [status, doc] = cluster->call_as("client-a", "task_organiser", "POST", "/v1/ctas", task);
  return {status, doc.contains("error") ? doc["error"].value("code", "") : std::string{}};
}

/// A person's PAK as the JSON form of a bytes field (base64 of the DER SubjectPublicKeyInfo).
inline std::string new_pak() {
  return crypto::to_base64(crypto::private_key::generate().value().public_key().to_der());
}

/// The data custodian and analyst of `node` make their key pairs and register the PAKs for the CTA
/// (Fig. 35); the CTSA names them.
inline json people_of(const std::string& node, const std::string& uuid, const std::string& custodian,
                      const std::string& input, const std::string& analyst) {
  json dc{{"name", custodian}, {"pak", new_pak()}, {"input_keys", {input}}};
  json da{{"name", analyst}, {"pak", new_pak()}, {"output_keys", {"turnover_by_region"}}};
  cluster->call_as(node, "data_custodian", "POST", "/v1/ctas/" + uuid + "/paks", dc);
  cluster->call_as(node, "data_analyst", "POST", "/v1/ctas/" + uuid + "/paks", da);
  return json{{"data_custodians", json::array({dc})}, {"data_analysts", json::array({da})}};
}

inline json ctsa_of_client_a(const std::string& uuid) {
  auto ctsa = people_of("client-a", uuid, "Cleo Custodian", "a_enterprises", "Dan Analyst");
  ctsa["signatories"] = json::array({{{"name", "Ada Director"}}});
  return ctsa;
}

inline json addendum_at(const std::string& node, const std::string& uuid, const std::string& peer) {
  auto [s, shown] = cluster->call_as(node, "auditor", "GET", "/v1/ctas/" + uuid);
  for (const auto& a : shown["addenda"])
    if (a["peer"] == peer)
      return a;
  return json{};
}

inline json ctsa_of_client_b(const std::string& uuid) {
  auto ctsa = people_of("client-b", uuid, "Cy Custodian", "b_enterprises", "Di Analyst");
  ctsa["signatories"] = json::array({{{"name", "Bea Director"}}, {{"name", "Ben Deputy"}}});
  return ctsa;
}

/// Creates the example CTA as client-a's Task Organiser; its UUID.
inline std::string create_example() {
  auto [status, created] = cluster->call_as("client-a", "task_organiser", "POST", "/v1/ctas", example_task());
  BOOST_REQUIRE_MESSAGE(status == 201, created.dump());
  return created["uuid"].get<std::string>();
}

/// POSTs to a path below one CTA (`base`) as NODE's user ROLE, requiring 200; the answer.
struct cta_poster {
  std::string base;

  json operator()(const std::string& node, const std::string& role, const std::string& path,
                  const json& body) const {
    auto [status, doc] = cluster->call_as(node, role, "POST", base + path, body);
    BOOST_REQUIRE_MESSAGE(status == 200, node << " " << path << ": " << doc.dump());
    return doc;
  }
};

inline json signature_doc(int index) {
  return json{{"signatory", index},
              {"document", {{"name", "signed.pdf"}, {"media_type", "application/pdf"}, {"data", "JVBERi0xLjQK"}}}};
}

/// Runs a shell command; its exit code and standard output.
inline std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  auto* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  auto rc = ::pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

/// The member `fqdn` in NODE's view of the CTA.
inline json member_at(const std::string& node, const std::string& uuid, const std::string& fqdn) {
  auto [s, shown] = cluster->call_as(node, "auditor", "GET", "/v1/ctas/" + uuid);
  BOOST_REQUIRE_MESSAGE(s == 200, shown.dump());
  for (const auto& m : shown["members"])
    if (m["fqdn"] == fqdn)
      return m;
  return json{};
}

} // namespace agreement_test_support
