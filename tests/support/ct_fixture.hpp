#pragma once

// One Computation Task run in this process (the `inproc` way of actors/vm/vm_run.hpp), for tests and
// benchmarks: a final CTA on a simulated TEE platform (fixture_cta), three real CT VMs of it, each
// vm::run_vm in its own thread with its own actor system, sockets on 127.0.0.1, sealed files in a
// fresh temporary directory and an in-memory simulated attester (ct_cluster), and the client's view
// of them for io::upload / io::download (actors/cplane/io_service.hpp): ct_cluster::target, with
// slot authorizations signed by the fixture's people (authorize).
//
// No test framework here, so that benchmarks can use it too: a step that cannot be set up throws
// fixture_error saying what went wrong (Boost.Test reports it as the test case's error).

#include "cplane/io_service.hpp"
#include "cplane/personal_data.hpp"
#include "vm/task_policy.hpp"
#include "vm/vm_run.hpp"

#include "joconde/enclave/simulated.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_client.hpp"

#include <joconde/agreement.pb.h>
#include <joconde/vm.pb.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace joconde::test {

/// A fixture step that could not be set up (key generation, a VM that does not start ...).
struct fixture_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// -- people and CTA --

/// Someone with a PAK: a custodian, an analyst or a stranger to the CT.
struct person {
  crypto::private_key key;
  std::string pak;  ///< the public key, DER

  /// How the CT VMs name the person (never by the name in the CTSA): "PAK" and the first 16 hex
  /// digits of the SHA-256 of the PAK.
  std::string label() const { return "PAK " + crypto::hex(crypto::sha256(crypto::to_bytes(pak))).substr(0, 16); }
};

/// A person with a fresh key.
inline person make_person() {
  auto k = crypto::private_key::generate();
  if (!k)
    throw fixture_error{"cannot generate a PAK: " + k.err().describe()};
  auto der = k->public_key().to_der();
  return {std::move(*k), std::string{der.begin(), der.end()}};
}

/// A CTSC column; `min` and `max` as CSV text of the column (empty: no bound).
inline v1::Column column(const std::string& name, v1::Column::Type type, std::vector<std::string> domain = {},
                         std::string min = {}, std::string max = {}) {
  v1::Column c;
  c.set_name(name);
  c.set_type(type);
  for (auto& d : domain)
    c.add_domain(d);
  c.set_min(min);
  c.set_max(max);
  return c;
}

/// A CT of two peers (a.test: `persons` with id, region; b.test: `income` with id, income), joined,
/// counted and summed (beyond the 64-bit ring) per region with small cells suppressed (output `by_region`, named for a.test;
/// share_output names it for b.test too), run with rss3 by three CPs whose VMs run on the simulated
/// platform. a's CTSA lists two analysts for `by_region`; b's lists one, whom the VMs refuse unless
/// the output is named for b.test.
struct fixture_cta {
  person custodian_a = make_person(), custodian_b = make_person(), analyst_a = make_person(),
         analyst_a2 = make_person(), analyst_b = make_person(), stranger = make_person();
  v1::FinalCta final;
  enclave::measurement measurement{};  ///< of the VM image the CTSC names
  std::string image_text;              ///< the VM's measured image configuration

  /// The CTA, its input phase ending at `input_deadline_ms`; each input takes at most `max_rows`.
  fixture_cta(const enclave::simulated_platform& platform, std::int64_t input_deadline_ms,
              std::uint64_t max_rows = 1000) {
    vm::image_config image;
    image.trusted_roots.push_back(platform.root_certificate());
    image.allow_simulated = true;
    image_text = image.to_text();
    std::string binary = "the joconde-vm image of this test";
    measurement = enclave::measure(crypto::to_bytes(binary), crypto::to_bytes(image_text));
    auto& cta = *final.mutable_cta();
    auto& c = *cta.mutable_ctsc();
    c.set_uuid("5f0c6a7e-0d2b-4c1e-9a57-1b2c3d4e5f60");
    c.set_title("income by region");
    auto now = now_ms();
    c.mutable_temporal()->set_approval_deadline_ms(now);
    c.mutable_temporal()->set_input_deadline_ms(input_deadline_ms);
    c.mutable_temporal()->set_execution_deadline_ms(now + 600'000);
    c.mutable_temporal()->set_output_deadline_ms(now + 1'200'000);
    c.mutable_engine()->set_name("rss3");
    c.mutable_engine()->set_version("1.0.0");
    auto* m = c.add_tee_measurements();
    m->set_platform("simulated");
    m->set_image("joconde-vm test");
    m->set_measurement(std::string{measurement.begin(), measurement.end()});
    c.mutable_main_algorithm()->set_language("joconde-sql/1");
    c.mutable_main_algorithm()->set_source(
      "INSERT INTO by_region SELECT region, COUNT(*) AS persons, SUM(income) AS income "
      "FROM persons JOIN income ON persons.id = income.id GROUP BY region HAVING COUNT(*) >= 2;");
    auto* in_a = c.add_inputs();
    in_a->set_key("persons");
    in_a->set_peer("a.test");
    *in_a->add_schema() = column("id", v1::Column::TYPE_TEXT_KEY);
    *in_a->add_schema() = column("region", v1::Column::TYPE_CATEGORY, regions());
    in_a->set_max_rows(max_rows);
    auto* in_b = c.add_inputs();
    in_b->set_key("income");
    in_b->set_peer("b.test");
    *in_b->add_schema() = column("id", v1::Column::TYPE_TEXT_KEY);
    // Declared up to 10^18: a sum over 1000 rows may reach 10^21, beyond the 64-bit ring, so the
    // run computes it in two limbs and writes it as two words (docs/task-language.md §5.1), and
    // every download of this CT goes through that path.
    *in_b->add_schema() = column("income", v1::Column::TYPE_INTEGER, {}, "0", "1000000000000000000");
    in_b->set_max_rows(max_rows);
    auto* out = c.add_outputs();
    out->set_key("by_region");
    out->add_peers("a.test");
    *out->add_schema() = column("region", v1::Column::TYPE_CATEGORY, regions());
    *out->add_schema() = column("persons", v1::Column::TYPE_INTEGER);
    *out->add_schema() = column("income", v1::Column::TYPE_INTEGER);
    for (auto p : {"a.test", "b.test"}) {
      auto* peer = c.add_peers();
      peer->set_fqdn(p);
      peer->set_role(v1::PEER_ROLE_INPUT_OUTPUT);
    }
    for (auto cp : {"cp1.test", "cp2.test", "cp3.test"})
      c.add_computing_parties()->set_fqdn(cp);
    auto* ctsa_a = cta.add_ctsas();
    ctsa_a->set_peer("a.test");
    auto* dc_a = ctsa_a->add_data_custodians();
    dc_a->set_name("custodian a");
    dc_a->set_pak(custodian_a.pak);
    dc_a->add_input_keys("persons");
    for (const auto& [who, name] : {std::pair{&analyst_a, "analyst a"}, std::pair{&analyst_a2, "analyst a2"}}) {
      auto* da = ctsa_a->add_data_analysts();
      da->set_name(name);
      da->set_pak(who->pak);
      da->add_output_keys("by_region");
    }
    auto* ctsa_b = cta.add_ctsas();
    ctsa_b->set_peer("b.test");
    auto* dc_b = ctsa_b->add_data_custodians();
    dc_b->set_name("custodian b");
    dc_b->set_pak(custodian_b.pak);
    dc_b->add_input_keys("income");
    // b's CTSA cannot grant b's people an input that a provides: the policy ignores it.
    dc_b->add_input_keys("persons");
    // Nor an output the CTSC does not name for b (until share_output does).
    auto* da_b = ctsa_b->add_data_analysts();
    da_b->set_name("analyst b");
    da_b->set_pak(analyst_b.pak);
    da_b->add_output_keys("by_region");
  }

  /// The category values of `region`.
  static std::vector<std::string> regions() { return {"north", "south", "east"}; }

  /// Adds input `key` of `peer` ("a.test" or "b.test") with `schema` and at most `max_rows` rows,
  /// written by `custodian` (a data custodian of that peer's CTSA). The algorithm does not read it,
  /// and the CT stays in the input phase until it is uploaded too. Call before starting the VMs:
  /// their host data is the hash of the CTA.
  void add_input(const std::string& key, const std::string& peer, const std::vector<v1::Column>& schema,
                 std::uint64_t max_rows, const person& custodian) {
    auto& cta = *final.mutable_cta();
    auto* in = cta.mutable_ctsc()->add_inputs();
    in->set_key(key);
    in->set_peer(peer);
    for (const auto& col : schema)
      *in->add_schema() = col;
    in->set_max_rows(max_rows);
    for (auto& ctsa : *cta.mutable_ctsas())
      for (auto& dc : *ctsa.mutable_data_custodians())
        if (ctsa.peer() == peer && dc.pak() == custodian.pak) {
          dc.add_input_keys(key);
          return;
        }
    throw fixture_error{"the CTSA of " + peer + " names no such data custodian for input " + key};
  }

  /// Names output `key` for `peer` too, so that the analyst its CTSA lists for it may retrieve it
  /// (once for that peer, besides a's once). Call before starting the VMs: their host data is the
  /// hash of the CTA.
  void share_output(const std::string& key, const std::string& peer) {
    for (auto& out : *final.mutable_cta()->mutable_ctsc()->mutable_outputs())
      if (out.key() == key) {
        out.add_peers(peer);
        return;
      }
    throw fixture_error{"the CTSC has no output " + key};
  }

  /// Moves the execution and output deadlines to `ms` (the output phase ends then), and the input
  /// deadline too if it was later. Call before starting the VMs.
  void output_deadline(std::int64_t ms) {
    auto& t = *final.mutable_cta()->mutable_ctsc()->mutable_temporal();
    t.set_input_deadline_ms(std::min(t.input_deadline_ms(), ms));
    t.set_execution_deadline_ms(ms);
    t.set_output_deadline_ms(ms);
  }

  /// The host data the VMs are launched with: the canonical hash of the CTA.
  enclave::host_data host() const {
    auto h = cta_hash(final.cta());
    if (!h || h->size() != enclave::host_data{}.size())
      throw fixture_error{"cannot hash the fixture's CTA"};
    enclave::host_data out{};
    std::copy(h->begin(), h->end(), out.begin());
    return out;
  }
};

/// A slot authorization for CT `uuid`, slot `slot` (upload or download), signed by `who`'s PAK, with
/// a fresh request id, issued at `issued_at_ms` (0: now).
inline v1::SignedAuthorization authorize(const person& who, const std::string& uuid, const std::string& slot,
                                         bool upload, std::int64_t issued_at_ms = 0) {
  v1::SlotAuthorization a;
  a.set_ct_uuid(uuid);
  a.set_slot(slot);
  a.set_upload(upload);
  auto id = crypto::random_bytes(16);
  a.set_request_id(std::string{id.begin(), id.end()});
  a.set_issued_at_ms(issued_at_ms != 0 ? issued_at_ms : now_ms());
  v1::SignedAuthorization sa;
  sa.set_authorization(proto::serialize(a));
  std::string msg{vm::authorization_label};
  msg += sa.authorization();
  auto sig = who.key.sign(crypto::to_bytes(msg));
  if (!sig)
    throw fixture_error{"cannot sign a slot authorization: " + sig.err().describe()};
  sa.set_pak(who.pak);
  sa.set_signature(std::string{sig->begin(), sig->end()});
  return sa;
}

// -- the three VMs --

struct ct_cluster;

/// How ct_cluster launches its VMs (the vm::vm_options that differ from a CP's defaults).
struct ct_cluster_options {
  bool debug_vm2 = false;  ///< launch cp-2's VM with debugging on (its counterparts must refuse it)
  std::chrono::milliseconds peer_timeout{10'000};
  std::chrono::milliseconds upload_confirm_timeout{5'000};
  std::chrono::milliseconds io_timeout{30'000};
  double evidence_burst = 64;       ///< the client endpoint's evidence budget per source
  double evidence_per_second = 16;
  /// Called with each VM's endpoints.json once they all listen, before they are given their peers
  /// (a test's attacker reaches the peer endpoints first).
  std::function<void(const std::vector<nlohmann::json>&)> before_peers{};
  /// Changes the peer list VM `i` is given (the JSON array POST /peers takes): e.g. another address
  /// for a counterpart's endpoint, where a relay stands in front of it.
  std::function<void(unsigned i, nlohmann::json& peers)> peers_for{};
  /// Called once VM 0 has its peers and before VMs 1 and 2 are given theirs: VM 0 accepts on its
  /// peer port for as long as this runs, and nobody else dials it (the cluster's `target` is not set
  /// yet; its admin calls work).
  std::function<void(ct_cluster&)> after_first_peers{};
};

/// Three CT VMs of one CT, each vm::run_vm in its own thread, introduced to each other, and the
/// client's view of them. The destructor stops them, waits for them and removes their directory.
struct ct_cluster {
  std::filesystem::path dir;              ///< cp0/, cp1/, cp2/: each VM's data directory
  std::vector<std::future<int>> runs;     ///< each VM's exit status
  std::vector<nlohmann::json> endpoints;  ///< each VM's endpoints.json
  std::string token = crypto::hex(crypto::random_bytes(16));  ///< the admin endpoints' bearer token
  std::shared_ptr<std::atomic<bool>> stop = std::make_shared<std::atomic<bool>>(false);  ///< cancels all
  io::io_target target;                   ///< for io::upload and io::download (borrows f.final)

  /// Launches the VMs of `f` on `platform`, waits until each listens and gives them their peers.
  ct_cluster(const enclave::simulated_platform& platform, const fixture_cta& f, ct_cluster_options o = {}) {
    namespace fs = std::filesystem;
    dir = fs::temp_directory_path() / ("joconde-ct-" + crypto::hex(crypto::random_bytes(6)));
    fs::create_directories(dir);
    try {
      launch(platform, f, o);
    } catch (...) {
      shut_down();
      throw;
    }
  }

  ct_cluster(const ct_cluster&) = delete;
  ct_cluster& operator=(const ct_cluster&) = delete;

  ~ct_cluster() { shut_down(); }

  /// A call to VM `i`'s admin endpoint.
  result<http::response> admin(unsigned i, const std::string& method, const std::string& path,
                               std::string body = {}) {
    return http::client::send("http://" + endpoints[i]["admin"].get<std::string>(), method, path,
                              std::move(body), token);
  }

  /// VM `i`'s GET /status, or null when it does not answer.
  nlohmann::json status(unsigned i) {
    auto r = admin(i, "GET", "/status");
    if (!r || r->status != 200)
      return nlohmann::json{};
    return nlohmann::json::parse(r->body, nullptr, false);
  }

  /// Waits until every VM reports `phase` (bounded); false when that does not happen in time.
  bool wait_phase(const std::string& phase, int seconds = 60) {
    for (int k = 0; k < seconds * 20; ++k) {
      bool all = true;
      for (unsigned i = 0; i < 3; ++i) {
        auto s = status(i);
        all = all && s.is_object() && s.value("phase", "") == phase;
      }
      if (all)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
    return false;
  }

  /// The value of the series `series` (e.g. `joconde_vm_peer_refused_total{reason="busy"}`) in VM
  /// `i`'s GET /metrics, or -1 when it does not answer or has no such series.
  double metric(unsigned i, const std::string& series) {
    auto r = admin(i, "GET", "/metrics");
    if (!r || r->status != 200)
      return -1;
    std::istringstream lines{r->body};
    for (std::string line; std::getline(lines, line);)
      if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
        return std::strtod(line.c_str() + series.size() + 1, nullptr);
    return -1;
  }

  /// The exit status of every VM (waits up to 60 s each; -1 for one still running).
  std::vector<int> exits() {
    std::vector<int> out;
    for (auto& r : runs) {
      if (r.wait_for(std::chrono::seconds{60}) != std::future_status::ready)
        out.push_back(-1);
      else
        out.push_back(r.get());
    }
    return out;
  }

private:
  void launch(const enclave::simulated_platform& platform, const fixture_cta& f, const ct_cluster_options& o) {
    namespace fs = std::filesystem;
    using nlohmann::json;
    auto image = vm::image_config::parse(f.image_text);
    if (!image)
      throw fixture_error{"the fixture's image configuration: " + image.err().describe()};
    auto host = f.host();
    for (unsigned i = 0; i < 3; ++i) {
      auto vm_dir = dir / ("cp" + std::to_string(i));
      fs::create_directories(vm_dir);
      std::ofstream{vm_dir / "cta.bin", std::ios::binary} << proto::serialize(f.final);
      vm::vm_options vo;
      vo.cta_file = vm_dir / "cta.bin";
      vo.cp_index = i;
      vo.data_dir = vm_dir;
      vo.admin_token = token;
      vo.upload_confirm_timeout = o.upload_confirm_timeout;
      vo.peer_timeout = o.peer_timeout;
      vo.io_timeout = o.io_timeout;
      vo.evidence_burst = o.evidence_burst;
      vo.evidence_per_second = o.evidence_per_second;
      auto att = std::make_shared<enclave::simulated_attester>(
        platform.launch(f.measurement, host, o.debug_vm2 && i == 2));
      runs.push_back(std::async(std::launch::async, [vo, image = *image, host, att, s = stop] {
        return vm::run_vm(vo, image, host, att, s);
      }));
    }
    for (unsigned i = 0; i < 3; ++i) {
      auto file = dir / ("cp" + std::to_string(i)) / "endpoints.json";
      for (int k = 0; k < 200 && !fs::exists(file); ++k)
        std::this_thread::sleep_for(std::chrono::milliseconds{25});
      if (!fs::exists(file))
        throw fixture_error{"VM " + std::to_string(i) + " wrote no endpoints.json"};
      std::ifstream in{file};
      endpoints.push_back(json::parse(in));
    }
    if (o.before_peers)
      o.before_peers(endpoints);
    json peers = json::array();
    for (unsigned i = 0; i < 3; ++i)
      peers.push_back({{"cp_index", i}, {"peer_address", endpoints[i]["peer"]}, {"mpc_address", endpoints[i]["mpc"]}});
    for (unsigned i = 0; i < 3; ++i) {
      auto given = peers;
      if (o.peers_for)
        o.peers_for(i, given);
      auto r = admin(i, "POST", "/peers", json{{"peers", given}}.dump());
      if (!r)
        throw fixture_error{"POST /peers to VM " + std::to_string(i) + ": " + r.err().describe()};
      if (r->status != 200)
        throw fixture_error{"POST /peers to VM " + std::to_string(i) + " answered "
                            + std::to_string(r->status) + ": " + r->body};
      if (i == 0 && o.after_first_peers)
        o.after_first_peers(*this);
    }
    target.final = &f.final;
    for (unsigned i = 0; i < 3; ++i)
      target.vms.push_back({i, endpoints[i]["client"].get<std::string>()});
    target.trusted_roots.push_back(platform.root_certificate());
    target.allow_simulated = true;
  }

  void shut_down() {
    stop->store(true);
    for (auto& r : runs)
      if (r.valid())
        r.wait();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

} // namespace joconde::test
