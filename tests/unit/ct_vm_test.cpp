#define BOOST_TEST_MODULE ct_vm
#include <boost/test/unit_test.hpp>

// What a Computing Party reports about its CT VM and how the CTA record keeps it (ct_reports.hpp),
// the files and messages of one CT VM (ct_vm.hpp), and the measurement of the VM image a node shows
// at GET /v1/tee (provisioner.hpp): the rules with their negative twins, without a VM.

#include "cplane/ct_reports.hpp"
#include "cplane/ct_vm.hpp"
#include "cplane/provisioner.hpp"
#include "cplane/personal_data.hpp"
#include "node/cta_json.hpp"
#include "vm/task_policy.hpp"
#include "support/ct_reports.hpp"

#include "joconde/enclave/simulated.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"

#include <google/protobuf/util/json_util.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

using namespace joconde;
namespace fs = std::filesystem;

namespace {

const std::string uuid = "0b6c2a4e-1111-4222-8333-944455556666";
const std::string cp1 = "cp1.joconde.test";
const std::string cp2 = "cp2.joconde.test";
const std::string cp3 = "cp3.joconde.test";

/// A final CTA naming three CPs, as a holder stores it.
v1::CtaRecord final_record() {
  v1::CtaRecord rec;
  rec.mutable_ctsc()->set_uuid(uuid);
  for (const auto& cp : {cp1, cp2, cp3})
    rec.mutable_ctsc()->add_computing_parties()->set_fqdn(cp);
  rec.set_status(v1::CTA_STATUS_INSTANTIATED);
  *rec.mutable_final()->mutable_cta()->mutable_ctsc() = rec.ctsc();
  return rec;
}

v1::VmEndpoint endpoint_of(const std::string& cp, uint32_t index) {
  return joconde::test::vm_endpoint(uuid, cp, index, "cp1.example.org:4102", 1);
}

v1::TelemetryEvent event_of(const std::string& cp, std::string kind, std::string subject,
                            std::string value, int64_t at = 5) {
  return joconde::test::telemetry_event(uuid, cp, std::move(kind), std::move(subject), std::move(value), at);
}

struct temp_dir {
  fs::path path = fs::temp_directory_path() / ("joconde-ct-vm-" + std::to_string(::getpid()));
  temp_dir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    fs::remove_all(path);
  }
};

void write(const fs::path& file, const std::string& text) {
  std::ofstream{file, std::ios::binary | std::ios::trunc} << text;
}

std::string read(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  BOOST_REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

} // namespace

BOOST_AUTO_TEST_CASE(vm_addresses_are_host_and_port) {
  for (const auto* good : {"127.0.0.1:1", "10.0.0.7:65535", "cp1.joconde.test:4100", "localhost:80",
                           "a-b.example:443", "[::1]:80", "[2001:db8::7]:20001", "198.18.0.11:20000"})
    BOOST_CHECK_MESSAGE(valid_vm_address(good), good);
  for (const auto* bad : {"", "127.0.0.1", ":80", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:8a",
                          "0.0.0.0:80", "256.1.1.1:80", "1.2.3:80", "1.2.3.4.5:80", "-a.example:80",
                          "a..b:80", "a b:80", "::1:80", "[::]:80", "[::1]", "[cp1]:80", "host:80\n",
                          "cp1.joconde.test:"})
    BOOST_CHECK_MESSAGE(!valid_vm_address(bad), bad);
  BOOST_CHECK(!valid_vm_address(std::string(300, 'a') + ":80"));
}

BOOST_AUTO_TEST_CASE(a_vm_endpoint_is_kept_only_from_its_own_cp_of_a_final_cta) {
  auto rec = final_record();
  BOOST_CHECK(check_vm_endpoint(endpoint_of(cp1, 0), rec, cp1).ok());
  auto code = [&](const v1::VmEndpoint& vm, const v1::CtaRecord& r, const std::string& reporter) {
    auto res = check_vm_endpoint(vm, r, reporter);
    return res ? errc::none : res.err().code;
  };
  // Another CP's, a non-CP's, the wrong index, another CTA's.
  BOOST_CHECK(code(endpoint_of(cp1, 0), rec, cp2) == errc::forbidden);
  BOOST_CHECK(code(endpoint_of("client-a.joconde.test", 0), rec, "client-a.joconde.test") == errc::forbidden);
  BOOST_CHECK(code(endpoint_of(cp1, 1), rec, cp1) == errc::malformed_input);
  auto other = endpoint_of(cp1, 0);
  other.set_uuid("00000000-0000-4000-8000-000000000000");
  BOOST_CHECK(code(other, rec, cp1) == errc::malformed_input);
  // Bad addresses, no platform, no time.
  auto bad = endpoint_of(cp1, 0);
  bad.set_peer_address("0.0.0.0:80");
  BOOST_CHECK(code(bad, rec, cp1) == errc::malformed_input);
  bad = endpoint_of(cp1, 0);
  bad.set_platform("");
  BOOST_CHECK(code(bad, rec, cp1) == errc::malformed_input);
  bad = endpoint_of(cp1, 0);
  bad.set_reported_at_ms(0);
  BOOST_CHECK(code(bad, rec, cp1) == errc::malformed_input);
  // Not final, cancelled, erased.
  auto emerging = rec;
  emerging.clear_final();
  emerging.set_status(v1::CTA_STATUS_EMERGING);
  BOOST_CHECK(code(endpoint_of(cp1, 0), emerging, cp1) == errc::invalid_state);
  auto cancelled = rec;
  cancelled.set_status(v1::CTA_STATUS_CANCELLED);
  BOOST_CHECK(code(endpoint_of(cp1, 0), cancelled, cp1) == errc::invalid_state);
  auto erased = rec;
  erased.set_status(v1::CTA_STATUS_ERASED);
  BOOST_CHECK(code(endpoint_of(cp1, 0), erased, cp1) == errc::invalid_state);

  // One entry per CP; the same twice changes nothing; a newer one replaces it.
  BOOST_CHECK(keep_vm_endpoint(rec, endpoint_of(cp1, 0)));
  BOOST_CHECK(!keep_vm_endpoint(rec, endpoint_of(cp1, 0)));
  BOOST_CHECK(keep_vm_endpoint(rec, endpoint_of(cp2, 1)));
  auto moved = endpoint_of(cp1, 0);
  moved.set_client_address("127.0.0.1:5000");
  BOOST_CHECK(keep_vm_endpoint(rec, moved));
  BOOST_REQUIRE_EQUAL(rec.vms_size(), 2);
  BOOST_CHECK_EQUAL(rec.vms(0).client_address(), "127.0.0.1:5000");
  BOOST_CHECK(!every_vm_known(rec));
  BOOST_CHECK(keep_vm_endpoint(rec, endpoint_of(cp3, 2)));
  BOOST_CHECK(every_vm_known(rec));
  auto shown = vms_json(rec);
  BOOST_REQUIRE_EQUAL(shown.size(), 3u);
  BOOST_CHECK_EQUAL(shown[0]["cp"], cp1);
  BOOST_CHECK_EQUAL(shown[2]["cp_index"], 2);
  // What the VM is told: every CP's peer and MPC address.
  auto peers = nlohmann::json::parse(peers_body(rec));
  BOOST_REQUIRE_EQUAL(peers["peers"].size(), 3u);
  BOOST_CHECK_EQUAL(peers["peers"][1]["cp_index"], 1);
  BOOST_CHECK_EQUAL(peers["peers"][1]["peer_address"], "127.0.0.1:4101");
  BOOST_CHECK_EQUAL(peers["peers"][1]["mpc_address"], "cp1.example.org:4102");
}

BOOST_AUTO_TEST_CASE(telemetry_is_checked_kept_once_and_bounded) {
  auto rec = final_record();
  BOOST_CHECK(check_telemetry(event_of(cp2, "phase", "input", "agreed"), rec, cp2).ok());
  auto code = [&](const v1::TelemetryEvent& ev, const std::string& reporter) {
    auto res = check_telemetry(ev, rec, reporter);
    return res ? errc::none : res.err().code;
  };
  BOOST_CHECK(code(event_of(cp2, "phase", "input", ""), cp1) == errc::forbidden);
  BOOST_CHECK(code(event_of("client-a.joconde.test", "phase", "input", ""), "client-a.joconde.test")
              == errc::forbidden);
  BOOST_CHECK(code(event_of(cp2, "rumour", "", ""), cp2) == errc::malformed_input);
  BOOST_CHECK(code(event_of(cp2, "phase", std::string(129, 'x'), ""), cp2) == errc::malformed_input);
  BOOST_CHECK(code(event_of(cp2, "phase", "", std::string(513, 'x')), cp2) == errc::malformed_input);
  BOOST_CHECK(code(event_of(cp2, "phase", "input\n", ""), cp2) == errc::malformed_input);
  BOOST_CHECK(code(event_of(cp2, "phase", "input", "", 0), cp2) == errc::malformed_input);
  // Events of a cancelled CTA still count (its VMs report their erasure); not once erased.
  auto cancelled = rec;
  cancelled.set_status(v1::CTA_STATUS_CANCELLED);
  BOOST_CHECK(check_telemetry(event_of(cp2, "erased", "cancelled", ""), cancelled, cp2).ok());
  auto erased = rec;
  erased.set_status(v1::CTA_STATUS_ERASED);
  BOOST_CHECK(!check_telemetry(event_of(cp2, "erased", "cancelled", ""), erased, cp2).ok());

  BOOST_CHECK(keep_telemetry(rec, event_of(cp2, "phase", "input", "agreed")));
  BOOST_CHECK(!keep_telemetry(rec, event_of(cp2, "phase", "input", "agreed"))); // handed over twice
  BOOST_CHECK(keep_telemetry(rec, event_of(cp3, "phase", "input", "agreed")));
  for (int i = 0; i < 1200; ++i)
    BOOST_CHECK(keep_telemetry(rec, event_of(cp1, "slot", "a", std::to_string(i), 10 + i)));
  BOOST_REQUIRE_EQUAL(rec.telemetry_size(), static_cast<int>(max_telemetry_events));
  BOOST_CHECK_EQUAL(rec.telemetry(0).value(), "200"); // the oldest went first
  BOOST_CHECK_EQUAL(telemetry_json(rec).back()["value"], "1199");

  // Finished once every CP's VM ended with the task done (not with another cause).
  auto done = final_record();
  BOOST_CHECK(!every_vm_finished(done));
  keep_telemetry(done, event_of(cp1, "erased", "finished", "exit status 0"));
  keep_telemetry(done, event_of(cp2, "erased", "finished", "exit status 0"));
  keep_telemetry(done, event_of(cp3, "erased", "sealing-key", "destroyed"));
  BOOST_CHECK(!every_vm_finished(done));
  keep_telemetry(done, event_of(cp3, "erased", "vm-exited", "exit status 137"));
  BOOST_CHECK(!every_vm_finished(done));
  keep_telemetry(done, event_of(cp3, "erased", "finished", "exit status 0", 6));
  BOOST_CHECK(every_vm_finished(done));

  // A VM killed (or lost with its node) once the task was done, in the seconds it lingers, maybe
  // before its node heard that it was done: finished too (found by ops/chaos); one killed before is
  // not.
  auto lingered = final_record();
  keep_telemetry(lingered, event_of(cp3, "phase", "output", "agreed by every CP", 2));
  keep_telemetry(lingered, event_of(cp3, "erased", "vm-exited", "exit status -1", 3));
  keep_telemetry(lingered, event_of(cp1, "erased", "finished", "exit status 0", 6));
  keep_telemetry(lingered, event_of(cp2, "erased", "finished", "exit status 0", 6));
  BOOST_CHECK(!ct_task_done(lingered));
  BOOST_CHECK(!every_vm_finished(lingered));
  keep_telemetry(lingered, event_of(cp1, "phase", "finished", "every peer retrieved the outputs named for it", 4));
  BOOST_CHECK(ct_task_done(lingered));
  BOOST_CHECK(every_vm_finished(lingered));

  // The Output phase reached (or the task done) by any VM of the CT; every VM ended, whatever why.
  auto ended = final_record();
  BOOST_CHECK(!ct_in_output(ended));
  keep_telemetry(ended, event_of(cp1, "phase", "calculation", "agreed by every CP", 2));
  BOOST_CHECK(!ct_in_output(ended));
  keep_telemetry(ended, event_of("elsewhere.joconde.test", "phase", "output", "agreed", 3));
  BOOST_CHECK(!ct_in_output(ended)); // not a CP of this CT
  keep_telemetry(ended, event_of(cp2, "phase", "output", "agreed by every CP", 3));
  BOOST_CHECK(ct_in_output(ended));
  keep_telemetry(ended, event_of(cp1, "erased", "cancelled", "exit status 3", 4));
  keep_telemetry(ended, event_of(cp2, "erased", "sealing-key", "destroyed", 4));
  keep_telemetry(ended, event_of(cp3, "erased", "vm-exited", "exit status -1", 4));
  BOOST_CHECK(!every_vm_ended(ended)); // cp2's key is gone, its VM has not ended yet
  keep_telemetry(ended, event_of(cp2, "erased", "finished", "exit status 0", 5));
  BOOST_CHECK(every_vm_ended(ended));
}

// The root's agreement events (SYS-5.3) are the root's, of kind agreement, about a peer of the CTA,
// with a bounded printable value; not for an erased CTA.
BOOST_AUTO_TEST_CASE(an_agreement_event_is_the_roots_about_a_peer) {
  auto rec = final_record();
  rec.mutable_ctsc()->add_peers()->set_fqdn("client-a.joconde.test");
  auto ev = event_of("joconde.test", "agreement", "client-a.joconde.test", "CTSA approved by the System Operator");
  BOOST_CHECK(check_agreement_event(ev, rec, "joconde.test").ok());
  auto code = [&](v1::TelemetryEvent e) {
    auto r = check_agreement_event(e, rec, "joconde.test");
    return r ? errc::none : r.err().code;
  };
  auto other = ev;
  other.set_cp(cp1);
  BOOST_CHECK(code(other) == errc::forbidden);
  other = ev;
  other.set_kind("phase");
  BOOST_CHECK(code(other) == errc::forbidden);
  other = ev;
  other.set_subject("client-z.joconde.test");
  BOOST_CHECK(code(other) == errc::malformed_input);
  other = ev;
  other.set_value("line\nbreak");
  BOOST_CHECK(code(other) == errc::malformed_input);
  other = ev;
  other.set_value(std::string(513, 'x'));
  BOOST_CHECK(code(other) == errc::malformed_input);
  other = ev;
  other.set_uuid("another");
  BOOST_CHECK(code(other) == errc::malformed_input);
  auto erased = rec;
  erased.set_status(v1::CTA_STATUS_ERASED);
  BOOST_CHECK(!check_agreement_event(ev, erased, "joconde.test").ok());
}

// The CT VMs name people by PAK; a node that holds the CTSA listing the person shows the name with
// the PAK, twice in one event too; an unknown PAK stays as it is.
BOOST_AUTO_TEST_CASE(telemetry_shows_the_names_of_the_paks_this_node_knows) {
  auto rec = final_record();
  auto* ctsa = rec.mutable_final()->mutable_cta()->add_ctsas();
  auto* analyst = ctsa->add_data_analysts();
  analyst->set_name("Ana Lyst");
  analyst->set_pak("der of a public key");
  auto label = vm::pak_label(analyst->pak());
  BOOST_REQUIRE(keep_telemetry(rec, event_of(cp1, "slot", "out", "released to a (by " + label + "), " + label, 7)));
  BOOST_REQUIRE(keep_telemetry(rec, event_of(cp2, "slot", "out", "released to b (by PAK 0123456789abcdef)", 8)));
  auto doc = telemetry_json(rec);
  BOOST_CHECK_EQUAL(doc[0]["value"], "released to a (by Ana Lyst (" + label + ")), Ana Lyst (" + label + ")");
  BOOST_CHECK_EQUAL(doc[1]["value"], "released to b (by PAK 0123456789abcdef)");
}

BOOST_AUTO_TEST_CASE(the_vms_files_and_answers_are_read_with_care) {
  auto eps = parse_endpoints(R"({"admin":"127.0.0.1:1","client":"127.0.0.1:2","peer":"127.0.0.1:3",
                                 "mpc":"127.0.0.1:4"})");
  BOOST_REQUIRE(eps.ok());
  BOOST_CHECK_EQUAL(eps->peer, "127.0.0.1:3");
  for (const auto* bad : {"", "{", "[]", R"({"admin":"127.0.0.1:1","client":"127.0.0.1:2","peer":"x"})",
                          R"({"admin":1,"client":"127.0.0.1:2","peer":"127.0.0.1:3","mpc":"127.0.0.1:4"})"})
    BOOST_CHECK_MESSAGE(!parse_endpoints(bad).ok(), bad);

  auto events = parse_status_events(
    R"({"phase":"input","events":[{"seq":3,"at_ms":30,"kind":"slot","subject":"a","value":"ready"},
                                  {"seq":1,"at_ms":10,"kind":"phase","subject":"input","value":""},
                                  {"seq":2,"at_ms":20,"kind":"phase","subject":"x","value":"y"}]})",
    1);
  BOOST_REQUIRE(events.ok());
  BOOST_REQUIRE_EQUAL(events->size(), 2u); // seq 1 was reported already
  BOOST_CHECK_EQUAL(events->at(0).seq, 2u);
  BOOST_CHECK_EQUAL(events->at(1).value, "ready");
  BOOST_CHECK(parse_status_events(R"({"phase":"input"})", 0).value().empty());
  BOOST_CHECK(!parse_status_events("not json", 0).ok());
  BOOST_CHECK(!parse_status_events(R"({"events":{}})", 0).ok());
  BOOST_CHECK(!parse_status_events(R"({"events":[{"at_ms":1}]})", 0).ok());

  BOOST_CHECK_EQUAL(erasure_cause(0), "finished");
  BOOST_CHECK_EQUAL(erasure_cause(3), "cancelled");
  BOOST_CHECK_EQUAL(erasure_cause(1), "vm-exited");
  BOOST_CHECK_EQUAL(erasure_cause(137), "vm-exited");
}

BOOST_AUTO_TEST_CASE(a_ct_directory_is_private_and_leaves_only_its_archived_logs) {
  temp_dir dir;
  v1::FinalCta fin;
  *fin.mutable_cta()->mutable_ctsc() = final_record().ctsc();
  auto l = prepare_ct_dir(dir.path, fin, 2);
  BOOST_REQUIRE_MESSAGE(l.ok(), (l ? "" : l.err().describe()));
  BOOST_CHECK_EQUAL(l->uuid, uuid);
  BOOST_CHECK_EQUAL(l->cp_index, 2u);
  BOOST_CHECK(l->ct_dir == dir.path / "ct" / uuid);
  BOOST_CHECK_EQUAL(mode_of(dir.path / "ct"), 0700u);
  BOOST_CHECK_EQUAL(mode_of(l->ct_dir), 0700u);
  BOOST_CHECK_EQUAL(mode_of(l->vm_dir), 0700u);
  BOOST_CHECK_EQUAL(mode_of(l->cta_file), 0600u);
  BOOST_CHECK_EQUAL(mode_of(l->admin_token_file), 0600u);
  BOOST_CHECK_EQUAL(l->admin_token.size(), 64u);
  BOOST_CHECK_EQUAL(read(l->admin_token_file), l->admin_token + "\n");
  BOOST_CHECK(proto::parse<v1::FinalCta>(read(l->cta_file)).value().cta().ctsc().uuid() == uuid);
  auto hash = cta_hash(fin.cta()).value();
  BOOST_CHECK(std::equal(hash.begin(), hash.end(), l->cta_hash.begin()));
  // Never twice.
  BOOST_CHECK(prepare_ct_dir(dir.path, fin, 2).err().code == errc::already_exists);

  write(l->vm_dir / "vm.log", "the VM's log\n");
  write(l->ct_dir / "sp.log", "the secure processor's log\n");
  fs::create_directories(l->vm_dir / "slots");
  write(l->vm_dir / "slots" / "a.sealed", "ciphertext");
  auto removed = erase_ct_dir(l->ct_dir, dir.path / "ct-logs", "cp3");
  BOOST_REQUIRE(removed.ok());
  BOOST_CHECK(!fs::exists(l->ct_dir));
  BOOST_CHECK((*removed == std::vector<std::string>{"admin.token", "cta.pb", "sp.log", "vm/slots/a.sealed",
                                                    "vm/vm.log"}));
  BOOST_CHECK_EQUAL(read(dir.path / "ct-logs" / (uuid + "-cp3.log")), "the VM's log\n");
  BOOST_CHECK_EQUAL(read(dir.path / "ct-logs" / (uuid + "-cp3.sp.log")), "the secure processor's log\n");
  BOOST_CHECK_EQUAL(mode_of(dir.path / "ct-logs"), 0700u);
}

BOOST_AUTO_TEST_CASE(an_erasure_record_is_signed_by_the_node_and_nothing_else_verifies) {
  auto key = crypto::private_key::generate().value();
  auto other = crypto::private_key::generate().value();
  auto pub = key.public_key();
  memory_signer signer{std::move(key)};
  v1::ErasureRecord rec;
  rec.set_uuid(uuid);
  rec.set_cp(cp1);
  rec.set_erased_at_ms(42);
  rec.set_cause("cancelled");
  rec.set_vm_exit_status(3);
  rec.add_files_removed("cta.pb");
  auto signed_rec = sign_erasure(rec, signer);
  BOOST_REQUIRE(signed_rec.ok());
  BOOST_CHECK(verify_erasure(*signed_rec, pub).ok());
  // The signature covers the label and the canonical hash of the record without the signature.
  auto input = erasure_signing_input(*signed_rec).value();
  BOOST_CHECK_EQUAL(std::string(input.begin(), input.begin() + 18), "joconde/erasure/v1");
  BOOST_CHECK_EQUAL(input.size(), 18u + 32u);
  BOOST_CHECK(pub.verify(input, crypto::to_bytes(signed_rec->signature())).ok());
  // Another key; any field changed afterwards; a file hidden from the list.
  BOOST_CHECK(!verify_erasure(*signed_rec, other.public_key()).ok());
  auto changed = *signed_rec;
  changed.set_cause("finished");
  BOOST_CHECK(!verify_erasure(changed, pub).ok());
  changed = *signed_rec;
  changed.clear_files_removed();
  BOOST_CHECK(!verify_erasure(changed, pub).ok());
  changed = *signed_rec;
  changed.set_signature("");
  BOOST_CHECK(!verify_erasure(changed, pub).ok());
}

BOOST_AUTO_TEST_CASE(the_image_measurement_is_the_simulated_platforms) {
  temp_dir dir;
  tee_config tee;
  tee.vm_binary = dir.path / "joconde-vm";
  tee.image_config = dir.path / "vm-image.conf";
  write(tee.vm_binary, std::string("\x7f" "ELF pretend binary", 19));
  write(tee.image_config, "allow_simulated = true\nmin_tcb_version = 1\n");
  auto m = image_measurement(tee);
  BOOST_REQUIRE(m.ok());
  auto bin = crypto::to_bytes(read(tee.vm_binary));
  auto conf = crypto::to_bytes(read(tee.image_config));
  BOOST_CHECK(*m == enclave::measure(bin, conf));
  auto doc = tee_description(tee);
  BOOST_REQUIRE(doc.ok());
  BOOST_CHECK_EQUAL((*doc)["platform"], "simulated");
  BOOST_CHECK_EQUAL((*doc)["simulated"], true);
  BOOST_CHECK_EQUAL((*doc)["measurement"], crypto::hex(*m));
  BOOST_CHECK_EQUAL((*doc)["measurement"].get<std::string>().size(), 96u);
  BOOST_CHECK((*doc)["image"].get<std::string>().rfind("joconde-vm ", 0) == 0);
  BOOST_CHECK((*doc)["note"].get<std::string>().find("no memory protection") != std::string::npos);
  // One byte more in the configuration is another measurement.
  write(tee.image_config, "allow_simulated = true\nmin_tcb_version = 1\n\n");
  BOOST_CHECK(image_measurement(tee).value() != *m);
  // A missing file names the key and the file.
  auto missing = tee;
  missing.vm_binary = dir.path / "nothing";
  auto err = image_measurement(missing);
  BOOST_REQUIRE(!err.ok());
  BOOST_CHECK(err.err().code == errc::io_error);
  BOOST_CHECK(err.err().message.find("tee.vm-binary") != std::string::npos);
  missing = tee;
  missing.image_config.clear();
  BOOST_CHECK(tee_description(missing).err().message.find("tee.image-config") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_process_provisioner_refuses_missing_pieces_clearly) {
  temp_dir dir;
  tee_config tee;
  tee.sp_binary = dir.path / "joconde-sp";
  tee.vm_binary = dir.path / "joconde-vm";
  tee.platform_dir = dir.path / "tee-platform";
  tee.image_config = dir.path / "vm-image.conf";
  auto p = make_process_provisioner(tee);
  v1::FinalCta fin;
  *fin.mutable_cta()->mutable_ctsc() = final_record().ctsc();
  auto l = prepare_ct_dir(dir.path, fin, 0).value();
  auto h = p->start(l);
  BOOST_REQUIRE(!h.ok());
  BOOST_CHECK(h.err().message.find("tee.sp-binary") != std::string::npos);
  // A "secure processor" that is a shell script exiting 3 ends as a cancelled VM would.
  write(tee.sp_binary, "#!/bin/sh\necho \"$@\"\nexit 3\n");
  fs::permissions(tee.sp_binary, fs::perms::owner_all);
  h = p->start(l);
  BOOST_REQUIRE(!h.ok());
  BOOST_CHECK(h.err().message.find("tee.vm-binary") != std::string::npos);
  write(tee.vm_binary, "vm");
  fs::create_directories(tee.platform_dir);
  write(tee.image_config, "allow_simulated = true\n");
  h = p->start(l);
  BOOST_REQUIRE_MESSAGE(h.ok(), (h ? "" : h.err().describe()));
  for (int i = 0; i < 100 && (*h)->alive(); ++i)
    ::usleep(50'000);
  BOOST_CHECK(!(*h)->alive());
  BOOST_CHECK_EQUAL((*h)->exit_status().value_or(-1), 3);
  auto args = read(l.ct_dir / "sp.log");
  BOOST_CHECK(args.find("launch --platform " + tee.platform_dir.string()) != std::string::npos);
  BOOST_CHECK(args.find("--host-data " + crypto::hex(l.cta_hash) + " -- --cta " + l.cta_file.string()
                        + " --cp-index 0 --data-dir " + l.vm_dir.string()
                        + " --bind 127.0.0.1 --advertise 127.0.0.1 --admin-bind 127.0.0.1"
                        + " --admin-token-file " + l.admin_token_file.string() + " --ports 20000-20999")
              != std::string::npos);
  BOOST_CHECK(fs::exists(l.ct_dir / "sp.pid"));
  // A "secure processor" that never ends is killed.
  write(tee.sp_binary, "#!/bin/sh\nexec sleep 60\n");
  h = p->start(l);
  BOOST_REQUIRE(h.ok());
  BOOST_CHECK((*h)->alive());
  (*h)->kill();
  for (int i = 0; i < 100 && (*h)->alive(); ++i)
    ::usleep(50'000);
  BOOST_CHECK_EQUAL((*h)->exit_status().value_or(-1), 128 + 9);
}

/// `n` consecutive ports free on every interface now, above the kernel's ephemeral range.
net::port_range free_port_range(unsigned n) {
  for (unsigned first = 40000; first + n < 65000; first += 97) {
    net::port_range r{static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(first + n - 1)};
    std::vector<net::listener> held;
    for (unsigned i = 0; i < n; ++i)
      if (auto l = net::listen_tcp({"0.0.0.0", static_cast<std::uint16_t>(first + i)}))
        held.push_back(std::move(*l));
    if (held.size() == n)
      return r;
  }
  BOOST_FAIL("no free port range");
  return {};
}

BOOST_AUTO_TEST_CASE(the_inproc_provisioner_runs_the_vm_in_a_thread_until_stopped) {
  temp_dir dir;
  auto platform = enclave::simulated_platform::create().value();
  tee_config tee;
  tee.kind = provisioner_kind::inproc;
  tee.vm_binary = dir.path / "joconde-vm";
  tee.platform_dir = dir.path / "tee-platform";
  tee.image_config = dir.path / "vm-image.conf";
  fs::create_directories(tee.platform_dir);
  BOOST_REQUIRE(platform.save(tee.platform_dir).ok());
  write(tee.vm_binary, "the measured image");
  write(tee.image_config, "allow_simulated = true\nmin_tcb_version = 1\nroot = "
                            + crypto::to_base64(platform.root_certificate()) + "\n");
  auto m = image_measurement(tee).value();
  v1::FinalCta fin;
  std::ifstream task{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
  BOOST_REQUIRE(google::protobuf::util::JsonStringToMessage(
                  std::string{std::istreambuf_iterator<char>{task}, {}}, fin.mutable_cta()->mutable_ctsc())
                  .ok());
  fin.mutable_cta()->mutable_ctsc()->set_uuid(uuid);
  fin.mutable_cta()->mutable_ctsc()->clear_tee_measurements();
  auto* tm = fin.mutable_cta()->mutable_ctsc()->add_tee_measurements();
  tm->set_platform("simulated");
  tm->set_measurement(std::string{m.begin(), m.end()});
  auto l = prepare_ct_dir(dir.path, fin, 1).value();
  // Every interface, reached by a name; four ports of a range free here.
  tee.network.bind = "0.0.0.0";
  tee.network.advertise = "cp2.example.test";
  tee.network.ports = free_port_range(4);
  auto p = make_provisioner(tee);
  BOOST_CHECK_EQUAL(p->name(), "inproc");
  auto h = p->start(l);
  BOOST_REQUIRE_MESSAGE(h.ok(), (h ? "" : h.err().describe()));
  BOOST_CHECK((*h)->alive());
  // It listens and says where, like a VM under joconde-sp.
  bool listening = false;
  for (int i = 0; i < 200 && !listening && (*h)->alive(); ++i) {
    listening = fs::exists(l.vm_dir / "endpoints.json");
    ::usleep(50'000);
  }
  BOOST_REQUIRE(listening);
  auto eps = parse_endpoints(read(l.vm_dir / "endpoints.json"));
  BOOST_REQUIRE(eps.ok());
  std::set<std::uint16_t> ports;
  for (const auto* a : {&eps->client, &eps->peer, &eps->mpc, &eps->admin}) {
    auto hp = net::parse_host_port(*a).value();
    BOOST_CHECK(hp.port >= tee.network.ports.first && hp.port <= tee.network.ports.last);
    ports.insert(hp.port);
  }
  BOOST_CHECK_EQUAL(ports.size(), 4u);
  BOOST_CHECK(eps->client.rfind("cp2.example.test:", 0) == 0); // the advertised name, not 0.0.0.0
  BOOST_CHECK(eps->mpc.rfind("cp2.example.test:", 0) == 0);
  BOOST_CHECK(eps->admin.rfind("127.0.0.1:", 0) == 0);         // the admin endpoint stays local
  // One VM holds the whole range: the next CT's VM does not fit, and says so before it starts.
  auto full = check_port_budget(tee.network, 1);
  BOOST_REQUIRE(!full);
  BOOST_CHECK(full.err().code == errc::resource_exhausted);
  BOOST_CHECK(full.err().message.find("vm.ports = " + tee.network.ports.text()) != std::string::npos);
  BOOST_CHECK(check_port_budget(tee.network, 0).ok());
  BOOST_CHECK(check_port_budget(vm_network{"127.0.0.1", "127.0.0.1", "127.0.0.1", {}}, 1000).ok());
  // A VM that finds its ports taken (by the first one here) does not start.
  fs::create_directories(dir.path / "second");
  auto l2 = prepare_ct_dir(dir.path / "second", fin, 2).value();
  auto h2 = p->start(l2);
  BOOST_REQUIRE(h2.ok());
  for (int i = 0; i < 200 && (*h2)->alive(); ++i)
    ::usleep(50'000);
  BOOST_CHECK(!(*h2)->alive());
  BOOST_CHECK_EQUAL((*h2)->exit_status().value_or(-1), 1);
  BOOST_CHECK(!fs::exists(l2.vm_dir / "endpoints.json"));
  // The stop flag cancels it.
  (*h)->stop();
  for (int i = 0; i < 600 && (*h)->alive(); ++i)
    ::usleep(50'000);
  BOOST_CHECK(!(*h)->alive());
  BOOST_CHECK_EQUAL((*h)->exit_status().value_or(-1), 3);
  // A platform directory that does not load is a clear error.
  auto broken = tee;
  broken.platform_dir = dir.path / "nothing";
  auto refused = make_provisioner(broken)->start(l);
  BOOST_REQUIRE(!refused.ok());
  BOOST_CHECK(refused.err().message.find("tee.platform-dir") != std::string::npos);
}
