#define BOOST_TEST_MODULE cta_records
#include <boost/test/unit_test.hpp>

// How a node reads its CTA records back (the status is the Protobuf enum, and a record written
// before it was, with its status by name in field 3, reads the same) and what the artefact manager's
// workflows do to a record with the plain functions of cta_records.hpp.

#include "cplane/cta_records.hpp"
#include "cplane/cta_state.hpp"

#include "joconde/messages/proto.hpp"

using namespace joconde;

namespace {

/// A record as a node wrote it before the status was an enum.
std::string legacy_record(const std::string& status) {
  v1::CtaRecord rec;
  rec.mutable_ctsc()->set_uuid("c0ffee00-0000-4000-8000-000000000000");
  rec.set_legacy_status(status);
  rec.set_updates(3);
  return proto::serialize(rec);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_record_keeps_its_status_as_the_enum) {
  v1::CtaRecord rec;
  rec.set_status(v1::CTA_STATUS_INSTANTIATED);
  auto back = parse_cta_record(proto::serialize(rec));
  BOOST_REQUIRE(back.ok());
  BOOST_CHECK(back->status() == v1::CTA_STATUS_INSTANTIATED);
  BOOST_CHECK_EQUAL(to_string(back->status()), "instantiated");
}

BOOST_AUTO_TEST_CASE(a_record_written_with_the_status_by_name_reads_the_same) {
  for (auto [name, status] : {std::pair{"emerging", v1::CTA_STATUS_EMERGING},
                              {"instantiated", v1::CTA_STATUS_INSTANTIATED},
                              {"finished", v1::CTA_STATUS_FINISHED},
                              {"cancelled", v1::CTA_STATUS_CANCELLED},
                              {"erased", v1::CTA_STATUS_ERASED}}) {
    auto back = parse_cta_record(legacy_record(name));
    BOOST_REQUIRE_MESSAGE(back.ok(), name);
    BOOST_CHECK_MESSAGE(back->status() == status, name);
    BOOST_CHECK(back->legacy_status().empty()); // written back without it
    BOOST_CHECK_EQUAL(back->updates(), 3u);
    BOOST_CHECK_EQUAL(to_string(back->status()), name);
  }
}

BOOST_AUTO_TEST_CASE(a_record_with_a_status_name_that_is_none_is_refused) {
  auto back = parse_cta_record(legacy_record("half-alive"));
  BOOST_REQUIRE(!back.ok());
  BOOST_CHECK(back.err().code == errc::malformed_input);
  BOOST_CHECK(back.err().message.find("half-alive") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_status_name_reads_back_as_its_status) {
  for (auto s : {v1::CTA_STATUS_EMERGING, v1::CTA_STATUS_INSTANTIATED, v1::CTA_STATUS_FINISHED,
                 v1::CTA_STATUS_CANCELLED, v1::CTA_STATUS_ERASED})
    BOOST_CHECK(cta_status_from_string(to_string(s)) == s);
  BOOST_CHECK(!cta_status_from_string("CTA_STATUS_FINISHED"));
  BOOST_CHECK_EQUAL(to_string(v1::CTA_STATUS_DRAFTED), "unknown");
}

namespace {

/// A record of a CTA with peers a and b and CPs 1..3, a's CTSA submitted.
v1::CtaRecord two_peer_record() {
  v1::CtaRecord rec;
  auto& ctsc = *rec.mutable_ctsc();
  ctsc.set_uuid("c0ffee00-0000-4000-8000-000000000000");
  ctsc.set_title("t");
  for (auto* p : {"a.joconde.test", "b.joconde.test"})
    ctsc.add_peers()->set_fqdn(p);
  for (auto* cp : {"cp1.joconde.test", "cp2.joconde.test", "cp3.joconde.test"})
    ctsc.add_computing_parties()->set_fqdn(cp);
  rec.set_status(v1::CTA_STATUS_EMERGING);
  rec.set_updates(2);
  rec.set_last_changed_ms(1000);
  auto& a = addendum_entry(rec, "a.joconde.test");
  a.set_status("submitted");
  a.mutable_ctsa()->set_version(1);
  a.mutable_ctsa()->add_signatories()->set_name("Ada");
  a.set_ctsa_sha256("h");
  return rec;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_state_machine_reads_and_writes_a_record) {
  auto rec = two_peer_record();
  auto s = state_of(rec);
  BOOST_CHECK(s.status() == v1::CTA_STATUS_EMERGING);
  BOOST_CHECK_EQUAL(s.updates(), 2u);
  BOOST_CHECK(s.addenda().at("a.joconde.test").status == addendum_status::submitted);
  BOOST_CHECK(s.addenda().at("b.joconde.test").status == addendum_status::missing);
  BOOST_REQUIRE(s.cancel("the organiser withdrew", 2000).ok());
  put_state(s, rec);
  BOOST_CHECK(rec.status() == v1::CTA_STATUS_CANCELLED);
  BOOST_CHECK_EQUAL(rec.updates(), 3u);
  BOOST_CHECK_EQUAL(rec.last_changed_ms(), 2000);
  BOOST_CHECK_EQUAL(rec.reason(), "the organiser withdrew");
}

BOOST_AUTO_TEST_CASE(an_addendum_entry_is_made_once_per_peer) {
  auto rec = two_peer_record();
  BOOST_CHECK_EQUAL(&addendum_entry(rec, "a.joconde.test"), &rec.addenda(0));
  auto& b = addendum_entry(rec, "b.joconde.test");
  BOOST_CHECK_EQUAL(b.status(), "missing");
  BOOST_CHECK_EQUAL(rec.addenda_size(), 2);
}

BOOST_AUTO_TEST_CASE(the_cps_hold_a_cta_once_it_is_final) {
  auto rec = two_peer_record();
  BOOST_CHECK(holders(rec) == (std::vector<std::string>{"a.joconde.test", "b.joconde.test"}));
  rec.mutable_final();
  BOOST_CHECK_EQUAL(holders(rec).size(), 5u);
  BOOST_CHECK(is_peer(rec.ctsc(), "b.joconde.test"));
  BOOST_CHECK(!is_peer(rec.ctsc(), "cp1.joconde.test"));
}

BOOST_AUTO_TEST_CASE(an_erased_record_keeps_only_that_the_cta_existed) {
  auto rec = two_peer_record();
  rec.mutable_final();
  rec.add_vms()->set_cp("cp1.joconde.test");
  rec.add_telemetry()->set_kind("phase");
  strip_to_fact(rec);
  BOOST_CHECK_EQUAL(rec.ctsc().uuid(), "c0ffee00-0000-4000-8000-000000000000");
  BOOST_CHECK_EQUAL(rec.ctsc().title(), "t");
  BOOST_CHECK_EQUAL(rec.ctsc().peers_size(), 0);
  BOOST_CHECK_EQUAL(rec.addenda_size(), 0);
  BOOST_CHECK(!rec.has_final());
  BOOST_CHECK_EQUAL(rec.vms_size(), 0);
  BOOST_CHECK_EQUAL(rec.telemetry_size(), 0);
  BOOST_CHECK(rec.status() == v1::CTA_STATUS_EMERGING); // the caller sets the status
}
