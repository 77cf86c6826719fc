#define BOOST_TEST_MODULE ct_run
#include <boost/test/unit_test.hpp>

// One Computation Task end to end with three real CT VMs (actors/vm/vm_run.hpp) in this process
// (the `inproc` way: each VM has its own actor system, sockets on 127.0.0.1, sealed files and an
// in-memory simulated attester) and the client node's IO service (actors/cplane/io_service.hpp):
// the VMs attest each other, custodians upload CSV files, the VMs run the algorithm with rss3, an
// analyst downloads the result once, everything is erased. With the negative twins of each step.

#include "cplane/io_service.hpp"
#include "vm/task_policy.hpp"
#include "vm/vm_run.hpp"

#include "joconde/enclave/session.hpp"
#include "joconde/enclave/simulated.hpp"
#include "joconde/engines/engine.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_client.hpp"

#include <joconde/agreement.pb.h>
#include <joconde/vm.pb.h>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

namespace joconde {
std::ostream& operator<<(std::ostream& os, errc code) { return os << to_string(code); }
} // namespace joconde

using namespace joconde;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string canary = "CANARY-7f3a9c";  // planted in an input file; must never show up on disk

struct person {
  crypto::private_key key;
  std::string pak;  // DER
};

person make_person() {
  auto k = crypto::private_key::generate();
  BOOST_REQUIRE(k);
  auto der = k->public_key().to_der();
  return {std::move(*k), std::string{der.begin(), der.end()}};
}

v1::Column column(const std::string& name, v1::Column::Type type, std::vector<std::string> domain = {},
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

/// A CT of two peers (a: persons with id, region; b: id, income) joined, counted and summed per
/// region with small cells suppressed, run by three CPs.
struct fixture_cta {
  person custodian_a = make_person(), custodian_b = make_person(), analyst_a = make_person(),
         stranger = make_person();
  v1::FinalCta final;
  enclave::measurement measurement{};
  std::string image_text;

  fixture_cta(const enclave::simulated_platform& platform, std::int64_t input_deadline_ms) {
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
    std::vector<std::string> regions{"north", "south", "east"};
    auto* in_a = c.add_inputs();
    in_a->set_key("persons");
    in_a->set_peer("a.test");
    *in_a->add_schema() = column("id", v1::Column::TYPE_TEXT_KEY);
    *in_a->add_schema() = column("region", v1::Column::TYPE_CATEGORY, regions);
    in_a->set_max_rows(1000);
    auto* in_b = c.add_inputs();
    in_b->set_key("income");
    in_b->set_peer("b.test");
    *in_b->add_schema() = column("id", v1::Column::TYPE_TEXT_KEY);
    *in_b->add_schema() = column("income", v1::Column::TYPE_INTEGER, {}, "0", "1000000");
    in_b->set_max_rows(1000);
    auto* out = c.add_outputs();
    out->set_key("by_region");
    out->add_peers("a.test");
    *out->add_schema() = column("region", v1::Column::TYPE_CATEGORY, regions);
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
    auto* da_a = ctsa_a->add_data_analysts();
    da_a->set_name("analyst a");
    da_a->set_pak(analyst_a.pak);
    da_a->add_output_keys("by_region");
    auto* ctsa_b = cta.add_ctsas();
    ctsa_b->set_peer("b.test");
    auto* dc_b = ctsa_b->add_data_custodians();
    dc_b->set_name("custodian b");
    dc_b->set_pak(custodian_b.pak);
    dc_b->add_input_keys("income");
    // b's CTSA cannot grant b's people an input that a provides: the policy ignores it.
    dc_b->add_input_keys("persons");
  }

  enclave::host_data host() const {
    auto h = canonical_hash(final.cta());
    enclave::host_data out{};
    std::copy(h->begin(), h->end(), out.begin());
    return out;
  }
};

v1::SignedAuthorization authorize(const person& who, const std::string& uuid, const std::string& slot,
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
  BOOST_REQUIRE(sig);
  sa.set_pak(who.pak);
  sa.set_signature(std::string{sig->begin(), sig->end()});
  return sa;
}

/// Three CT VMs of one CT, each run_vm in its own thread, and the client's view of them.
struct cluster {
  fs::path dir;
  std::vector<std::future<int>> runs;
  std::vector<json> endpoints;
  std::string token = crypto::hex(crypto::random_bytes(16));
  std::shared_ptr<std::atomic<bool>> stop = std::make_shared<std::atomic<bool>>(false);
  io::io_target target;

  cluster(const enclave::simulated_platform& platform, const fixture_cta& f, bool debug_vm2 = false,
          std::chrono::milliseconds peer_timeout = std::chrono::milliseconds{10'000}) {
    dir = fs::temp_directory_path() / ("joconde-ct-run-" + crypto::hex(crypto::random_bytes(6)));
    fs::create_directories(dir);
    auto image = vm::image_config::parse(f.image_text);
    BOOST_REQUIRE(image);
    auto host = f.host();
    for (unsigned i = 0; i < 3; ++i) {
      auto vm_dir = dir / ("cp" + std::to_string(i));
      fs::create_directories(vm_dir);
      std::ofstream{vm_dir / "cta.bin", std::ios::binary} << proto::serialize(f.final);
      vm::vm_options o;
      o.cta_file = vm_dir / "cta.bin";
      o.cp_index = i;
      o.data_dir = vm_dir;
      o.admin_token = token;
      o.upload_confirm_timeout = std::chrono::milliseconds{5000};
      o.peer_timeout = peer_timeout;
      o.io_timeout = std::chrono::milliseconds{30'000};
      auto att = std::make_shared<enclave::simulated_attester>(
        platform.launch(f.measurement, host, debug_vm2 && i == 2));
      runs.push_back(std::async(std::launch::async, [o, image = *image, host, att, s = stop] {
        return vm::run_vm(o, image, host, att, s);
      }));
    }
    for (unsigned i = 0; i < 3; ++i) {
      auto file = dir / ("cp" + std::to_string(i)) / "endpoints.json";
      for (int k = 0; k < 200 && !fs::exists(file); ++k)
        std::this_thread::sleep_for(std::chrono::milliseconds{25});
      BOOST_REQUIRE_MESSAGE(fs::exists(file), "VM " << i << " wrote no endpoints.json");
      std::ifstream in{file};
      endpoints.push_back(json::parse(in));
    }
    json peers = json::array();
    for (unsigned i = 0; i < 3; ++i)
      peers.push_back({{"cp_index", i}, {"peer_address", endpoints[i]["peer"]}, {"mpc_address", endpoints[i]["mpc"]}});
    for (unsigned i = 0; i < 3; ++i) {
      auto r = admin(i, "POST", "/peers", json{{"peers", peers}}.dump());
      BOOST_REQUIRE(r);
      BOOST_REQUIRE_EQUAL(r->status, 200);
    }
    target.final = &f.final;
    for (unsigned i = 0; i < 3; ++i)
      target.vms.push_back({i, endpoints[i]["client"].get<std::string>()});
    target.trusted_roots.push_back(platform.root_certificate());
    target.allow_simulated = true;
  }

  ~cluster() {
    stop->store(true);
    for (auto& r : runs)
      if (r.valid())
        r.wait();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  result<http::response> admin(unsigned i, const std::string& method, const std::string& path,
                               std::string body = {}) {
    return http::client::send("http://" + endpoints[i]["admin"].get<std::string>(), method, path,
                              std::move(body), token);
  }

  json status(unsigned i) {
    auto r = admin(i, "GET", "/status");
    if (!r || r->status != 200)
      return json{};
    return json::parse(r->body, nullptr, false);
  }

  /// Waits until every VM that still answers reports `phase` (bounded).
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

  /// The exit status of every VM (waits up to 60 s each).
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
};

std::string persons_csv() {
  std::string s = "id,region\n";
  for (int i = 0; i < 20; ++i)
    s += "P" + std::to_string(i) + "," + (i < 12 ? "north" : i < 19 ? "south" : "east") + "\n";
  s += canary + ",north\n";
  return s;
}

std::string income_csv() {
  std::string s = "id,income\n";
  for (int i = 0; i < 20; i += 2)
    s += "P" + std::to_string(i) + "," + std::to_string(1000 + i) + "\n";
  s += "P19,5\nX1,7\n";
  return s;
}

/// Every file below `dir` that contains `needle`.
std::vector<std::string> files_containing(const fs::path& dir, const std::string& needle) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator{dir, ec}) {
    if (!e.is_regular_file())
      continue;
    std::ifstream in{e.path(), std::ios::binary};
    std::string text{std::istreambuf_iterator<char>{in}, {}};
    if (text.find(needle) != std::string::npos)
      out.push_back(e.path().string());
  }
  return out;
}

std::size_t files_below(const fs::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator{dir, ec})
    n += e.is_regular_file() ? 1 : 0;
  return n;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_ct_runs_end_to_end_once_and_leaves_nothing) {
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 600'000};
  const auto& uuid = f.final.cta().ctsc().uuid();
  cluster c{*platform, f};
  BOOST_REQUIRE_MESSAGE(c.wait_phase("input"), "the VMs did not attest each other and open input");

  // Refused before anything leaves the node: a CSV that does not match the schema.
  auto bad = io::upload(c.target, "persons", "id,region\nP1,north\nP2,west\n",
                        authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.err().code == errc::malformed_input);
  BOOST_TEST(bad.err().message.find("line 3, column 2 (region)") != std::string::npos, bad.err().message);
  // A custodian whose PAK may not write that input (b's custodian, named for persons in b's CTSA).
  auto wrong = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_b, uuid, "persons", true));
  BOOST_REQUIRE(!wrong);
  BOOST_TEST(wrong.err().code == errc::forbidden, wrong.err().describe());
  auto stranger = io::upload(c.target, "income", income_csv(), authorize(f.stranger, uuid, "income", true));
  BOOST_REQUIRE(!stranger);
  BOOST_TEST(stranger.err().code == errc::forbidden);
  // A replayed authorization: accepted once, refused the second time.
  auto once = authorize(f.custodian_b, uuid, "income", true);
  // A download before the output phase.
  auto early = io::download(c.target, "by_region", authorize(f.analyst_a, uuid, "by_region", false));
  BOOST_REQUIRE(!early);
  BOOST_TEST(early.err().code == errc::invalid_state, early.err().describe());
  // Attestation twins at the client: an unknown platform root, a CTA other than the VMs'.
  {
    auto other = enclave::simulated_platform::create();
    auto t = c.target;
    t.trusted_roots = {other->root_certificate()};
    auto r = io::upload(t, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true));
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.err().code == errc::untrusted_chain, r.err().describe());
    auto changed = f.final;
    changed.mutable_cta()->mutable_ctsc()->set_title("another agreement");
    t = c.target;
    t.final = &changed;
    r = io::upload(t, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true));
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.err().code == errc::host_data_mismatch, r.err().describe());
    t = c.target;
    t.allow_simulated = false;
    r = io::upload(t, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true));
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.err().code == errc::forbidden, r.err().describe());
  }
  // None of the refusals changed a slot.
  for (unsigned i = 0; i < 3; ++i) {
    auto status = c.status(i);
    for (auto& s : status["slots"])
      BOOST_TEST(s["state"].get<std::string>() == "empty");
  }

  // The latest upload wins until input closes: persons twice, then income (the last input).
  auto up_a1 = io::upload(c.target, "persons", "id,region\nP0,east\n", authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE_MESSAGE(up_a1, (up_a1 ? "" : up_a1.err().describe()));
  BOOST_TEST(up_a1->phase == "input");
  BOOST_TEST(up_a1->simulated);
  auto up_a2 = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE_MESSAGE(up_a2, (up_a2 ? "" : up_a2.err().describe()));
  BOOST_TEST(up_a2->rows == 21u);
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 1u, "the replaced upload is erased");
  auto up_b = io::upload(c.target, "income", income_csv(), once);
  BOOST_REQUIRE_MESSAGE(up_b, (up_b ? "" : up_b.err().describe()));
  BOOST_TEST(up_b->rows == 12u);
  auto replay = io::upload(c.target, "income", income_csv(), once);
  BOOST_REQUIRE(!replay);
  BOOST_TEST((replay.err().code == errc::replayed || replay.err().code == errc::invalid_state),
             replay.err().describe());
  BOOST_REQUIRE_MESSAGE(c.wait_phase("output"), "the VMs did not compute the output");
  auto late = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE(!late);
  BOOST_TEST(late.err().code == errc::invalid_state, late.err().describe());

  auto got = io::download(c.target, "by_region", authorize(f.analyst_a, uuid, "by_region", false));
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.err().describe()));
  BOOST_TEST(got->csv == "region,persons,income\nnorth,6,6030\nsouth,4,4060\n", got->csv);
  BOOST_TEST(got->suppressed == 1u);
  // A second download: every VM released its shares once.
  auto again = io::download(c.target, "by_region", authorize(f.analyst_a, uuid, "by_region", false));
  BOOST_REQUIRE(!again);
  BOOST_TEST(again.err().code == errc::already_exists, again.err().describe());
  auto exits = c.exits();
  BOOST_TEST(exits == (std::vector<int>{vm::exit_finished, vm::exit_finished, vm::exit_finished}));
  for (unsigned i = 0; i < 3; ++i) {
    auto slots = c.dir / ("cp" + std::to_string(i)) / "slots";
    BOOST_TEST(files_below(slots) == 0u, "cp" << i << " left slot files");
  }
  BOOST_TEST(files_containing(c.dir, canary).empty());
}

BOOST_AUTO_TEST_CASE(the_result_equals_the_statistics_of_the_inputs) {
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 600'000};
  const auto& uuid = f.final.cta().ctsc().uuid();
  cluster c{*platform, f};
  BOOST_REQUIRE(c.wait_phase("input"));
  auto up_a = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE_MESSAGE(up_a, (up_a ? "" : up_a.err().describe()));
  BOOST_TEST(up_a->phase == "input");
  auto up_b = io::upload(c.target, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true));
  BOOST_REQUIRE_MESSAGE(up_b, (up_b ? "" : up_b.err().describe()));
  BOOST_REQUIRE(c.wait_phase("output"));
  auto got = io::download(c.target, "by_region", authorize(f.analyst_a, uuid, "by_region", false));
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.err().describe()));
  // Joined: P0..P10 even (north: 0,2,4,6,8,10 → 6 persons, income 1000+1002+...+1010 = 6030),
  // P12..P18 even (south: 4 persons, 1012+1014+1016+1018 = 4060), P19 (south? no: 19 is east, 5):
  // east has one person: suppressed.
  BOOST_TEST(got->csv == "region,persons,income\nnorth,6,6030\nsouth,4,4060\n", got->csv);
  BOOST_TEST(got->suppressed == 1u);
  BOOST_TEST(c.exits() == (std::vector<int>{0, 0, 0}));
  BOOST_TEST(files_containing(c.dir, canary).empty());
}

BOOST_AUTO_TEST_CASE(a_cancel_at_one_cp_cancels_and_erases_at_every_cp) {
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 600'000};
  const auto& uuid = f.final.cta().ctsc().uuid();
  cluster c{*platform, f};
  BOOST_REQUIRE(c.wait_phase("input"));
  auto up = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE_MESSAGE(up, (up ? "" : up.err().describe()));
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 1u);
  auto r = c.admin(1, "POST", "/cancel", R"({"reason":"test"})");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 202);
  BOOST_TEST(c.exits() == (std::vector<int>{3, 3, 3}));
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 0u);
  BOOST_TEST(files_containing(c.dir, canary).empty());
}

BOOST_AUTO_TEST_CASE(the_input_deadline_cancels_the_ct_at_every_cp) {
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 4'000};
  cluster c{*platform, f};
  BOOST_REQUIRE(c.wait_phase("input"));
  BOOST_TEST(c.exits() == (std::vector<int>{3, 3, 3}));
}

BOOST_AUTO_TEST_CASE(a_vm_launched_with_debugging_is_refused_by_its_counterparts) {
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 600'000};
  cluster c{*platform, f, /*debug_vm2=*/true};
  // cp-2's evidence says debug: cp-0 and cp-1 refuse it, the CT never opens input and is cancelled.
  BOOST_TEST(!c.wait_phase("input", 5));
  auto s0 = c.status(0);
  BOOST_TEST(s0.value("phase", "") != "input");
  c.stop->store(true);
  auto exits = c.exits();
  BOOST_TEST(exits[0] == vm::exit_cancelled);
}

namespace {

/// The state of slot `key` at VM `cp`.
std::string slot_state(cluster& c, unsigned cp, const std::string& key) {
  auto status = c.status(cp);
  for (auto& s : status["slots"])
    if (s["key"] == key)
      return s["state"].get<std::string>();
  return "?";
}

/// An attested client session with VM `cp` of the cluster (as the IO service makes it).
enclave::client_session session_with(cluster& c, const fixture_cta& f, unsigned cp,
                                     const enclave::simulated_verifier& verifier) {
  auto addr = c.endpoints[cp]["client"].get<std::string>();
  auto colon = addr.rfind(':');
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoul(addr.substr(colon + 1))));
  ::inet_pton(AF_INET, addr.substr(0, colon).c_str(), &sa.sin_addr);
  BOOST_REQUIRE_EQUAL(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  enclave::reference_values ref;
  ref.measurements = {f.measurement};
  ref.cta_hash = f.host();
  ref.allow_simulated = true;
  auto s = enclave::attest_vm(fd, {f.final.cta().ctsc().uuid(), cp, &verifier, ref}, std::chrono::seconds{10});
  BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.err().describe()));
  return std::move(*s);
}

} // namespace

BOOST_AUTO_TEST_CASE(an_upload_that_fails_at_one_cp_leaves_the_slot_empty_at_all_three) {
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 600'000};
  const auto& uuid = f.final.cta().ctsc().uuid();
  cluster c{*platform, f};
  BOOST_REQUIRE(c.wait_phase("input"));
  // A first upload makes the slot ready everywhere.
  auto first = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE_MESSAGE(first, (first ? "" : first.err().describe()));
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(slot_state(c, i, "persons") == "ready");
  // The next one reaches cp-0 and cp-1 whole, but its connection to cp-2 breaks mid-way.
  enclave::simulated_verifier verifier{{platform->root_certificate()}};
  const auto* engine = engines::find_engine("rss3");
  std::vector<engines::word> ids(3, 42), regions(3, 1);
  auto id_shares = engine->split(ids);
  auto region_shares = engine->split(regions);
  auto auth = authorize(f.custodian_a, uuid, "persons", true);
  std::vector<std::future<v1::VmReply>> replies;
  for (unsigned cp = 0; cp < 3; ++cp) {
    auto s = std::make_shared<enclave::client_session>(session_with(c, f, cp, verifier));
    v1::VmRequest req;
    req.set_kind(v1::VmRequest::KIND_UPLOAD);
    *req.mutable_authorization() = auth;
    req.set_rows(3);
    BOOST_REQUIRE(s->stream.send(crypto::to_bytes(proto::serialize(req))));
    auto go = s->stream.receive(1 << 20);
    BOOST_REQUIRE(go);
    v1::VmReply go_reply;
    BOOST_REQUIRE(go_reply.ParseFromArray(go->data(), static_cast<int>(go->size())));
    BOOST_REQUIRE_EQUAL(go_reply.code(), 0u);
    BOOST_REQUIRE(s->stream.send(engines::encode_shares(id_shares[cp])));
    if (cp == 2) {
      s->stream.close();  // the column of regions never arrives at cp-2
      continue;
    }
    BOOST_REQUIRE(s->stream.send(engines::encode_shares(region_shares[cp])));
    replies.push_back(std::async(std::launch::async, [s] {
      v1::VmReply r;
      auto msg = s->stream.receive(1 << 20);
      if (msg)
        r.ParseFromArray(msg->data(), static_cast<int>(msg->size()));
      else
        r.set_code(9999);
      return r;
    }));
  }
  for (auto& r : replies) {
    auto reply = r.get();
    BOOST_TEST(reply.code() == static_cast<std::uint32_t>(errc::io_error), reply.message());
  }
  // Empty at all three CPs, nothing sealed left.
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_TEST(slot_state(c, i, "persons") == "empty", c.status(i).dump());
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 0u);
  }
  // The CT goes on: a new upload is accepted.
  auto again = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_TEST(again.ok(), (again ? "" : again.err().describe()));
}

BOOST_AUTO_TEST_CASE(silence_between_the_vms_is_not_a_lost_counterpart) {
  // A long calculation sends no control message for minutes: the links' read timeout (here 1 s)
  // must not count as a counterpart lost.
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 600'000};
  const auto& uuid = f.final.cta().ctsc().uuid();
  cluster c{*platform, f, false, std::chrono::milliseconds{1000}};
  BOOST_REQUIRE(c.wait_phase("input"));
  std::this_thread::sleep_for(std::chrono::seconds{4});
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(c.status(i).value("phase", "") == "input");
  auto up_a = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_TEST(up_a.ok(), (up_a ? "" : up_a.err().describe()));
}
