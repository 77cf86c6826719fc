#define BOOST_TEST_MODULE artefact_manager
#include <boost/test/unit_test.hpp>

#include "support/sequence.hpp"

// The root's artefact manager with strict mock neighbours (a broker that records what it is asked to
// publish; support/mplane_mocks.hpp): registration of a CTSC (as sequence charts of every message),
// a peer's signed CTSA, and the forged, replayed or mismatched ones that must be refused without any
// change to the stored CTA; once the CTA is final, the CPs' reports of their CT VMs (cta.vm,
// cta.telemetry) with their negative twins.

#include "artefact_manager_test_support.hpp"

#include <algorithm>

using namespace joconde;
using namespace std::string_literals;
using namespace artefact_manager_test_support;

// The registration as a sequence chart: the draft arrives, the root audits and publishes it to the
// CT's peers (and the broker answers); a draft from another node for that organiser is refused.
BOOST_FIXTURE_TEST_CASE(the_root_registers_a_ctsc_for_its_peers_only, fixture) {
  const std::vector<std::string> peers{"client-a.joconde.test", "client-b.joconde.test"};
  v1::CtscRegistration reg;
  reg.set_request_id(std::string(32, 'a'));
  *reg.mutable_ctsc() = example_draft("client-a.joconde.test");
  self->send(am, deliver_atom::value, "cta.ctsc.register"s, "client-a.joconde.test"s, proto::serialize(reg));
  expect((deliver_atom, std::string, std::string, std::string),
         from(_).to(am).with(_, "cta.ctsc.register"s, "client-a.joconde.test"s, _));
  expect((audit_atom, std::string, std::string, std::vector<std::string>),
         from(am).to(audit).with(_, "artefact_manager"s, "cta.ctsc.registered"s, _));
  expect((publish_atom, std::string, std::vector<std::string>, std::string, std::string, uint32_t),
         from(am).to(broker).with(_, "cta.ctsc"s, peers, _, _, uint32_t{1}));
  expect((std::vector<std::string>), from(broker).to(am).with(std::vector<std::string>{"id"}));
  test::expect_quiet(sched);
  BOOST_REQUIRE_EQUAL(sent->size(), 1u);
  auto ctsc = proto::parse<v1::CtscRegistration>(sent->back().payload).value().ctsc();
  BOOST_CHECK(sent->back().to == peers);
  BOOST_CHECK_EQUAL(ctsc.uuid().size(), 36u);
  BOOST_CHECK_EQUAL(ctsc.computing_parties(0).chain().certificates_size(), 2);
  BOOST_CHECK(!stored(ctsc.uuid()).empty());
  BOOST_CHECK_EQUAL(audits->back().event, "cta.ctsc.registered");
  // A draft sent by a node for another node's organiser is refused.
  reg.set_request_id(std::string(32, 'c'));
  self->send(am, deliver_atom::value, "cta.ctsc.register"s, "client-b.joconde.test"s, proto::serialize(reg));
  expect((deliver_atom, std::string, std::string, std::string), from(_).to(am));
  expect((audit_atom, std::string, std::string, std::vector<std::string>),
         from(am).to(audit).with(_, "artefact_manager"s, "cta.ctsc.refused"s, _));
  expect((publish_atom, std::string, std::vector<std::string>, std::string, std::string, uint32_t),
         from(am).to(broker).with(_, "cta.refused"s, std::vector<std::string>{"client-b.joconde.test"}, ""s, _, _));
  expect((std::vector<std::string>), from(broker).to(am));
  test::expect_quiet(sched);
  BOOST_CHECK_EQUAL(sent->back().topic, "cta.refused");
  BOOST_CHECK(sent->back().to == std::vector<std::string>{"client-b.joconde.test"});
}

// Handed over twice (a restart at the client): the second time the root publishes the registered
// CTSC again, and neither stores nor audits anything.
BOOST_FIXTURE_TEST_CASE(a_draft_handed_over_twice_is_registered_once, fixture) {
  v1::CtscRegistration reg;
  reg.set_request_id(std::string(32, 'd'));
  *reg.mutable_ctsc() = example_draft("client-a.joconde.test");
  for (int round = 0; round < 2; ++round) {
    self->send(am, deliver_atom::value, "cta.ctsc.register"s, "client-a.joconde.test"s, proto::serialize(reg));
    expect((deliver_atom, std::string, std::string, std::string), from(_).to(am));
    if (round == 0)
      expect((audit_atom, std::string, std::string, std::vector<std::string>),
             from(am).to(audit).with(_, _, "cta.ctsc.registered"s, _));
    else
      disallow((audit_atom, std::string, std::string, std::vector<std::string>), from(am).to(audit));
    expect((publish_atom, std::string, std::vector<std::string>, std::string, std::string, uint32_t),
           from(am).to(broker).with(_, "cta.ctsc"s, _, _, _, _));
    expect((std::vector<std::string>), from(broker).to(am));
    test::expect_quiet(sched);
  }
  BOOST_REQUIRE_EQUAL(sent->size(), 2u);
  auto first = proto::parse<v1::CtscRegistration>(sent->at(0).payload).value();
  auto second = proto::parse<v1::CtscRegistration>(sent->at(1).payload).value();
  BOOST_CHECK_EQUAL(sent->at(1).topic, "cta.ctsc");
  BOOST_CHECK_EQUAL(first.ctsc().uuid(), second.ctsc().uuid());
  auto txn = store.env->begin_read().value();
  BOOST_CHECK_EQUAL(txn.count(store.ctas).value(), 1u);
}

BOOST_FIXTURE_TEST_CASE(a_signed_ctsa_is_accepted_and_forgeries_and_replays_are_not, fixture) {
  auto ctsc = registered();
  auto& client_a = pki.node("client-a.joconde.test");
  auto& client_b = pki.node("client-b.joconde.test");
  auto first = submission(ctsc, "client-a.joconde.test", 1, client_a);
  deliver("cta.ctsa", "client-a.joconde.test", proto::serialize(first));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.accepted");
  auto rec = proto::parse<v1::CtaRecord>(stored(ctsc.uuid())).value();
  BOOST_REQUIRE_EQUAL(rec.addenda_size(), 1);
  BOOST_CHECK_EQUAL(rec.addenda(0).status(), "submitted");
  BOOST_CHECK_EQUAL(rec.addenda(0).ctsa().version(), 1u);

  // The same CTSA handed over again (after a restart): accepted again, nothing changes.
  auto before = stored(ctsc.uuid());
  deliver("cta.ctsa", "client-a.joconde.test", proto::serialize(first));
  BOOST_CHECK_EQUAL(sent->back().topic, "cta.accepted");
  BOOST_CHECK(stored(ctsc.uuid()) == before);
  // An older version after a newer one: a replay.
  deliver("cta.ctsa", "client-a.joconde.test",
          proto::serialize(submission(ctsc, "client-a.joconde.test", 3, client_a)));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.accepted");
  refused("client-a.joconde.test", first, "replayed");
  refused("client-a.joconde.test", submission(ctsc, "client-a.joconde.test", 2, client_a), "replayed");
  // Signed by another node's key than the peer's.
  refused("client-a.joconde.test", submission(ctsc, "client-a.joconde.test", 4, client_b),
          "bad_signature");
  // A valid signature, but over a CTSA that was changed afterwards.
  auto tampered = submission(ctsc, "client-a.joconde.test", 4, client_a);
  tampered.mutable_ctsa()->mutable_signatories(0)->set_name("Mallory");
  refused("client-a.joconde.test", tampered, "bad_signature");
  // A CTSA for a CTSC that was changed after the CTSA signed its hash.
  auto changed = ctsc;
  changed.set_title("something else");
  auto other = submission(changed, "client-a.joconde.test", 4, client_a);
  other.mutable_ctsa()->set_ctsc_uuid(ctsc.uuid());
  refused("client-a.joconde.test", sign(other, client_a), "malformed_input");
  // Sent by client-b for client-a, or by a node that is not a peer.
  refused("client-b.joconde.test", submission(ctsc, "client-a.joconde.test", 4, client_a), "forbidden");
  refused("cp1.joconde.test", submission(ctsc, "cp1.joconde.test", 1, pki.node("cp1.joconde.test")),
          "unknown_peer");
  // Committed people (properly signed: the hash is the same), or a salt of the wrong size: the SO
  // checks the people, so the root takes a CTSA in full and well formed only.
  auto committed = submission(ctsc, "client-a.joconde.test", 4, client_a);
  BOOST_REQUIRE(commit_personal(*committed.mutable_ctsa()));
  refused("client-a.joconde.test", sign(committed, client_a), "malformed_input");
  auto short_salt = submission(ctsc, "client-a.joconde.test", 4, client_a);
  short_salt.mutable_ctsa()->mutable_data_custodians(0)->set_salt("abc");  // it has no hash to sign
  refused("client-a.joconde.test", short_salt, "malformed_input");
  // An unknown CTA.
  auto unknown = submission(ctsc, "client-a.joconde.test", 4, client_a);
  unknown.mutable_ctsa()->set_ctsc_uuid("00000000-0000-4000-8000-000000000000");
  refused("client-a.joconde.test", sign(unknown, client_a), "not_found");
  // client-b's own, properly signed: accepted.
  deliver("cta.ctsa", "client-b.joconde.test",
          proto::serialize(submission(ctsc, "client-b.joconde.test", 1, client_b)));
  BOOST_CHECK_EQUAL(sent->back().topic, "cta.accepted");
  BOOST_CHECK_EQUAL(proto::parse<v1::CtaRecord>(stored(ctsc.uuid())).value().addenda_size(), 2);
}

// The final CTA reaches every holder in one envelope: the root refuses a signature whose document
// would take the CTA past what one envelope carries, and nothing changes; a new CTSA version drops
// the signatures (and documents) of the version it replaces.
BOOST_FIXTURE_TEST_CASE(a_signature_too_large_for_the_cta_to_reach_its_holders_is_refused, fixture) {
  auto ctsc = registered();
  auto peer = "client-a.joconde.test"s;
  auto& client_a = pki.node(peer);
  auto sub = submission(ctsc, peer, 1, client_a);
  for (const auto* name : {"Bea", "Carl", "Dora", "Ed"})
    sub.mutable_ctsa()->add_signatories()->set_name(name);
  sub = sign(sub, client_a);
  deliver("cta.ctsa", peer, proto::serialize(sub));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.accepted");
  // Four documents of 900 kB fit (3.6 MB of the 4 MiB - 64 KiB); the fifth does not.
  for (uint32_t i = 0; i < 4; ++i) {
    deliver("cta.signature", peer, proto::serialize(signature_of(peer, sub.ctsa(), i, 900'000)));
    BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.accepted");
  }
  auto before = stored(ctsc.uuid());
  deliver("cta.signature", peer, proto::serialize(signature_of(peer, sub.ctsa(), 4, 900'000)));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.refused");
  auto refusal = proto::parse<v1::ArtefactRefusal>(sent->back().payload).value();
  BOOST_CHECK_EQUAL(refusal.code(), "too_large");
  BOOST_CHECK_MESSAGE(refusal.message().find("document.sha256") != std::string::npos, refusal.message());
  BOOST_CHECK(stored(ctsc.uuid()) == before);
  // The same signatory with its document kept out of band (by its SHA-256): accepted.
  auto by_hash = signature_of(peer, sub.ctsa(), 4, 0);
  by_hash.mutable_signature()->mutable_document()->set_sha256(std::string(32, '\x11'));
  deliver("cta.signature", peer, proto::serialize(by_hash));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.accepted");
  auto rec = proto::parse<v1::CtaRecord>(stored(ctsc.uuid()), 16 << 20).value();
  BOOST_CHECK_EQUAL(rec.addenda(0).signatures_size(), 5);
  BOOST_CHECK_EQUAL(rec.addenda(0).status(), "signed");
  // A new version of the CTSA: the five signatures were over the old one and go with it.
  auto second = submission(ctsc, peer, 2, client_a);
  deliver("cta.ctsa", peer, proto::serialize(second));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.accepted");
  rec = proto::parse<v1::CtaRecord>(stored(ctsc.uuid()), 16 << 20).value();
  BOOST_CHECK_EQUAL(rec.addenda(0).signatures_size(), 0);
  BOOST_CHECK_EQUAL(rec.addenda(0).signed_by_size(), 0);
  BOOST_CHECK_EQUAL(rec.addenda(0).status(), "submitted");
  deliver("cta.signature", peer, proto::serialize(signature_of(peer, second.ctsa(), 0, 900'000)));
  BOOST_CHECK_EQUAL(sent->back().topic, "cta.accepted");
}

// Garbage on every agreement topic, from the root's children and from strangers: nothing is stored,
// nothing crashes, and the actor still answers.
BOOST_FIXTURE_TEST_CASE(garbage_on_every_topic_changes_nothing, fixture) {
  auto ctsc = registered();
  auto before = stored(ctsc.uuid());
  auto n = sent->size();
  std::vector<std::string> garbage{"", "\x08\x96\x01", std::string(1000, '\xff'),
                                   crypto::hex(crypto::random_bytes(64)), "{\"json\": true}"};
  for (const auto* topic : {"cta.ctsc.register", "cta.ctsc", "cta.refused", "cta.ctsa", "cta.accepted",
                            "cta.signature", "cta.final", "cta.cancel", "cta.status", "cta.vm",
                            "cta.telemetry", "cta.vms", "cta.events", "cta.decision", "cta.unknown"})
    for (const auto* origin : {"client-a.joconde.test", "joconde.test", "stranger.example"})
      for (const auto& g : garbage)
        deliver(topic, origin, g);
  BOOST_CHECK(stored(ctsc.uuid()) == before);
  auto txn = store.env->begin_read().value();
  BOOST_CHECK_EQUAL(txn.count(store.ctas).value(), 1u);
  // Whatever was answered is a refusal, never a registration or an acceptance.
  for (size_t i = n; i < sent->size(); ++i)
    BOOST_CHECK_MESSAGE(sent->at(i).topic == "cta.refused", "sent " << sent->at(i).topic);
  caf::settings status;
  auto rp = self->request(am, caf::infinite, status_atom::value);
  sched.run();
  rp.receive([&](caf::settings& s) { status = std::move(s); },
             [&](caf::error& err) { BOOST_FAIL(describe(err)); });
  BOOST_CHECK(caf::get_if(&status, "registered") != nullptr);
}

// -- CT reports: the CPs' VM addresses (cta.vm) and events (cta.telemetry) at the root --

BOOST_FIXTURE_TEST_CASE(the_root_keeps_and_forwards_a_cps_vm_addresses_and_refuses_the_rest,
                        final_fixture) {
  deliver("cta.vm", "cp2.joconde.test", proto::serialize(vm("cp2.joconde.test", 1)));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.vms");
  BOOST_CHECK(sent->back().to == every_holder);
  BOOST_CHECK(sent->back().payload == proto::serialize(vm("cp2.joconde.test", 1)));
  BOOST_REQUIRE_EQUAL(record().vms_size(), 1);
  BOOST_CHECK_EQUAL(record().vms(0).cp(), "cp2.joconde.test");
  // Handed over again: kept once, forwarded again (a lost forward is made good).
  auto n = sent->size();
  deliver("cta.vm", "cp2.joconde.test", proto::serialize(vm("cp2.joconde.test", 1)));
  BOOST_CHECK_EQUAL(sent->size(), n + 1);
  BOOST_CHECK_EQUAL(record().vms_size(), 1);

  // Another CP's addresses; a wrong index; a peer posing as a CP; a bad address; another CTA.
  refused_report("cta.vm", "cp3.joconde.test", proto::serialize(vm("cp2.joconde.test", 1)));
  refused_report("cta.vm", "cp3.joconde.test", proto::serialize(vm("cp3.joconde.test", 0)));
  refused_report("cta.vm", "client-a.joconde.test", proto::serialize(vm("client-a.joconde.test", 0)));
  auto bad = vm("cp1.joconde.test", 0);
  bad.set_client_address("0.0.0.0:1");
  refused_report("cta.vm", "cp1.joconde.test", proto::serialize(bad));
  bad = vm("cp1.joconde.test", 0);
  bad.set_mpc_address("evil host:80");
  refused_report("cta.vm", "cp1.joconde.test", proto::serialize(bad));
  bad = vm("cp1.joconde.test", 0);
  bad.set_uuid("00000000-0000-4000-8000-000000000000");
  refused_report("cta.vm", "cp1.joconde.test", proto::serialize(bad));
  refused_report("cta.vm", "cp1.joconde.test", std::string(100, '\xff'));
  refused_report("cta.vm", "cp1.joconde.test", std::string(20000, 'a')); // over the size limit
  // The forwarded topics come from the root only.
  refused_report("cta.vms", "cp1.joconde.test", proto::serialize(vm("cp1.joconde.test", 0)));
  refused_report("cta.events", "cp1.joconde.test",
                 proto::serialize(event("cp1.joconde.test", "phase", "input")));

  // Every CP reported: the record has all three.
  deliver("cta.vm", "cp1.joconde.test", proto::serialize(vm("cp1.joconde.test", 0)));
  deliver("cta.vm", "cp3.joconde.test", proto::serialize(vm("cp3.joconde.test", 2)));
  BOOST_CHECK_EQUAL(record().vms_size(), 3);
  cta_view shown;
  auto rp = self->request(am, caf::infinite, query_atom::value, uuid);
  sched.run();
  rp.receive([&](cta_view& v) { shown = std::move(v); }, [](caf::error& err) { BOOST_FAIL(describe(err)); });
  auto doc = cta_json(shown, "joconde.test", true);  // as GET /v1/ctas/{uuid} shows it at the root
  BOOST_CHECK_EQUAL(doc["vms"].size(), 3u);
  BOOST_CHECK(doc["telemetry"].is_array());
}

BOOST_FIXTURE_TEST_CASE(the_root_keeps_and_forwards_vm_events_and_finishes_the_ct_when_every_vm_did,
                        final_fixture) {
  deliver("cta.telemetry", "cp1.joconde.test", proto::serialize(event("cp1.joconde.test", "phase", "input")));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.events");
  BOOST_CHECK(sent->back().to == every_holder);
  // Kept with the root's own agreement events (SYS-5.3), shared with the peers (cta.agreement).
  auto vm_events = [&] {
    auto rec = record();
    return std::count_if(rec.telemetry().begin(), rec.telemetry().end(),
                         [](const auto& ev) { return ev.kind() != "agreement"; });
  };
  BOOST_CHECK_EQUAL(vm_events(), 1);
  BOOST_CHECK_GT(record().telemetry_size(), 1);
  BOOST_CHECK(std::any_of(sent->begin(), sent->end(), [](const auto& m) { return m.topic == "cta.agreement"; }));
  // Another CP's event, a peer's, an unknown kind, control characters.
  refused_report("cta.telemetry", "cp2.joconde.test",
                 proto::serialize(event("cp1.joconde.test", "phase", "input")));
  refused_report("cta.telemetry", "client-a.joconde.test",
                 proto::serialize(event("client-a.joconde.test", "phase", "input")));
  refused_report("cta.telemetry", "cp2.joconde.test", proto::serialize(event("cp2.joconde.test", "gossip", "")));
  refused_report("cta.telemetry", "cp2.joconde.test",
                 proto::serialize(event("cp2.joconde.test", "phase", "in\x1b[2Jput")));

  // Two VMs ended with the task done: still instantiated; the third: finished, every holder told.
  for (const auto* cp : {"cp1.joconde.test", "cp2.joconde.test"})
    deliver("cta.telemetry", cp, proto::serialize(event(cp, "erased", "finished", "exit status 0", 9)));
  BOOST_CHECK_EQUAL(to_string(record().status()), "instantiated");
  deliver("cta.telemetry", "cp3.joconde.test",
          proto::serialize(event("cp3.joconde.test", "erased", "finished", "exit status 0", 9)));
  BOOST_CHECK_EQUAL(to_string(record().status()), "finished");
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.status");
  BOOST_CHECK(sent->back().to == every_holder);
  auto up = proto::parse<v1::StatusUpdate>(sent->back().payload).value();
  BOOST_CHECK(up.status() == v1::CTA_STATUS_FINISHED);
  // Events of a finished CT still count, addresses no longer do.
  deliver("cta.telemetry", "cp3.joconde.test", proto::serialize(event("cp3.joconde.test", "vm", "", "x", 10)));
  BOOST_CHECK_EQUAL(sent->back().topic, "cta.events");
  refused_report("cta.vm", "cp1.joconde.test", proto::serialize(vm("cp1.joconde.test", 0)));
}

BOOST_FIXTURE_TEST_CASE(a_vm_that_ended_otherwise_cancels_the_ct_everywhere, final_fixture) {
  deliver("cta.telemetry", "cp2.joconde.test",
          proto::serialize(event("cp2.joconde.test", "erased", "vm-exited", "exit status 137, 6 files removed")));
  auto rec = record();
  BOOST_CHECK_EQUAL(to_string(rec.status()), "cancelled");
  BOOST_CHECK(rec.reason().find("cp2.joconde.test") != std::string::npos);
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.status");
  BOOST_CHECK(proto::parse<v1::StatusUpdate>(sent->back().payload).value().status()
              == v1::CTA_STATUS_CANCELLED);
  // The other VMs' erasures still arrive and are kept; nothing is cancelled twice.
  auto n = sent->size();
  deliver("cta.telemetry", "cp1.joconde.test",
          proto::serialize(event("cp1.joconde.test", "erased", "cancelled", "exit status 3")));
  BOOST_CHECK_EQUAL(to_string(record().status()), "cancelled");
  BOOST_CHECK_EQUAL(sent->size(), n + 1);
  BOOST_CHECK_EQUAL(sent->back().topic, "cta.events");
}

BOOST_FIXTURE_TEST_CASE(a_vm_lost_in_the_output_phase_lets_the_others_end_it_finished, final_fixture) {
  // Found by ops/chaos: cp2's VM killed after client-a downloaded its output and before client-b
  // did. The computation is done; the other VMs end the Output phase themselves (finished, b's
  // output erased unretrieved): the root does not cancel the CT, it finishes it once all ended.
  for (const auto* cp : {"cp1.joconde.test", "cp2.joconde.test", "cp3.joconde.test"})
    deliver("cta.telemetry", cp, proto::serialize(event(cp, "phase", "output", "agreed by every CP", 3)));
  deliver("cta.telemetry", "cp2.joconde.test",
          proto::serialize(event("cp2.joconde.test", "erased", "vm-exited", "exit status -1", 5)));
  BOOST_CHECK_EQUAL(to_string(record().status()), "instantiated");
  BOOST_CHECK_EQUAL(sent->back().topic, "cta.events");
  for (const auto* cp : {"cp1.joconde.test", "cp3.joconde.test"}) {
    deliver("cta.telemetry", cp,
            proto::serialize(event(cp, "phase", "finished", "lost counterpart cp-1; 1 retrieval not made, erased", 6)));
    deliver("cta.telemetry", cp, proto::serialize(event(cp, "erased", "finished", "exit status 0", 9)));
  }
  BOOST_CHECK_EQUAL(to_string(record().status()), "finished");
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.status");
  BOOST_CHECK(proto::parse<v1::StatusUpdate>(sent->back().payload).value().status() == v1::CTA_STATUS_FINISHED);
}

BOOST_FIXTURE_TEST_CASE(every_vm_ended_in_the_output_phase_without_finishing_cancels_the_ct, final_fixture) {
  // Every VM ended, but none with the task done (one cancelled by its host, the others killed):
  // nothing is left to wait for, the CT is cancelled.
  deliver("cta.telemetry", "cp1.joconde.test",
          proto::serialize(event("cp1.joconde.test", "phase", "output", "agreed by every CP", 3)));
  deliver("cta.telemetry", "cp1.joconde.test",
          proto::serialize(event("cp1.joconde.test", "erased", "cancelled", "exit status 3", 5)));
  deliver("cta.telemetry", "cp2.joconde.test",
          proto::serialize(event("cp2.joconde.test", "erased", "vm-exited", "exit status -1", 5)));
  BOOST_CHECK_EQUAL(to_string(record().status()), "instantiated");
  deliver("cta.telemetry", "cp3.joconde.test",
          proto::serialize(event("cp3.joconde.test", "erased", "vm-exited", "exit status -1", 5)));
  BOOST_CHECK_EQUAL(to_string(record().status()), "cancelled");
  BOOST_CHECK(record().reason().find("cp3.joconde.test") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(no_approval_after_the_approval_deadline_and_the_cta_is_cancelled, fixture) {
  auto ctsc = registered(now_ms() + 1500);
  const auto uuid = ctsc.uuid();
  auto sub = submission(ctsc, "client-a.joconde.test", 1, pki.node("client-a.joconde.test"));
  deliver("cta.ctsa", "client-a.joconde.test", proto::serialize(sub));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.accepted");
  std::this_thread::sleep_for(std::chrono::milliseconds{1600});
  auto rp = self->request(am, caf::infinite, decide_atom::value, uuid, "client-a.joconde.test"s, true,
                          std::string{}, "approver"s);
  sched.run();
  rp.receive([](cta_receipt&) { BOOST_FAIL("approved after the approval deadline"); },
             [](caf::error& err) { BOOST_CHECK(code_of(err) == errc::timeout); });
  auto rec = proto::parse<v1::CtaRecord>(stored(uuid)).value();
  BOOST_CHECK_EQUAL(to_string(rec.status()), "emerging");
  // The root's housekeeping cancels it and tells every holder.
  self->send(am, tick_atom::value);
  sched.run();
  rec = proto::parse<v1::CtaRecord>(stored(uuid)).value();
  BOOST_CHECK_EQUAL(to_string(rec.status()), "cancelled");
  BOOST_CHECK(rec.reason().find("approval deadline") != std::string::npos);
}

// An output goes only to the peers the CTSC names for it: the root refuses a CTSA whose analyst is
// given an output its peer does not receive (check_ctsa, spec §4.4.1.3), and nothing changes; the
// same peer's CTSA without that analyst is accepted (the CT VMs refuse such a PAK too, task_policy).
BOOST_FIXTURE_TEST_CASE(a_ctsa_giving_an_analyst_an_output_its_peer_does_not_receive_is_refused, fixture) {
  v1::CtscRegistration reg;
  reg.set_request_id(std::string(32, 'e'));
  *reg.mutable_ctsc() = example_draft("client-a.joconde.test");
  auto& draft = *reg.mutable_ctsc();
  draft.mutable_outputs(0)->clear_peers();
  draft.mutable_outputs(0)->add_peers("client-a.joconde.test");
  for (auto& p : *draft.mutable_peers())
    if (p.fqdn() == "client-b.joconde.test")
      p.set_role(v1::PEER_ROLE_INPUT);
  deliver("cta.ctsc.register", "client-a.joconde.test", proto::serialize(reg));
  BOOST_REQUIRE_EQUAL(sent->back().topic, "cta.ctsc");
  auto ctsc = proto::parse<v1::CtscRegistration>(sent->back().payload).value().ctsc();
  auto& client_b = pki.node("client-b.joconde.test");
  auto sub = submission(ctsc, "client-b.joconde.test", 1, client_b);  // its analyst: turnover_by_region
  refused("client-b.joconde.test", sub, "forbidden");
  auto refusal = proto::parse<v1::ArtefactRefusal>(sent->back().payload).value();
  BOOST_CHECK_MESSAGE(refusal.message().find("data analyst Dan is given output turnover_by_region, which "
                                             "does not go to client-b.joconde.test")
                        != std::string::npos,
                      refusal.message());
  sub.mutable_ctsa()->clear_data_analysts();
  deliver("cta.ctsa", "client-b.joconde.test", proto::serialize(sign(sub, client_b)));
  BOOST_CHECK_EQUAL(sent->back().topic, "cta.accepted");
}
