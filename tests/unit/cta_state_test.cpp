#define BOOST_TEST_MODULE cta_state
#include <boost/test/unit_test.hpp>

// The CTA lifecycle as a plain class: the order of events, and that a refused event changes nothing.

#include "cplane/cta_state.hpp"

using namespace joconde;

namespace {

const std::string a = "client-a.joconde.test";
const std::string b = "client-b.joconde.test";
const std::string ctsc = "c5c";

cta_state make() {
  return cta_state{"uuid-1", ctsc, {a, b},
                   {"cp1.joconde.test", "cp2.joconde.test", "cp3.joconde.test"}, 1000};
}

/// Everything a refusal must leave as it was.
struct snapshot {
  v1::CtaStatus status;
  uint64_t updates;
  int64_t last_changed;
  std::vector<std::tuple<std::string, addendum_status, uint64_t, std::string, size_t>> addenda;

  explicit snapshot(const cta_state& s)
    : status(s.status()), updates(s.updates()), last_changed(s.last_changed_ms()) {
    for (const auto& [peer, ad] : s.addenda())
      addenda.emplace_back(peer, ad.status, ad.version, ad.ctsa_hash, ad.signed_by.size());
  }

  bool operator==(const snapshot& o) const {
    return status == o.status && updates == o.updates && last_changed == o.last_changed
           && addenda == o.addenda;
  }
};

/// `r` failed with `code` and `s` did not change.
void refused(cta_state& s, const std::function<result<void>(cta_state&)>& event, errc code) {
  snapshot before{s};
  auto r = event(s);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted, but should have been refused");
  BOOST_CHECK_MESSAGE(r.err().code == code,
                      "refused with " << to_string(r.err().code) << ": " << r.err().message);
  BOOST_CHECK(snapshot{s} == before);
}

/// Both peers submit, sign (one signatory each) and are approved.
void agree(cta_state& s) {
  BOOST_REQUIRE(s.submit_addendum(a, 1, "ha1", ctsc, 1, 2000).ok());
  BOOST_REQUIRE(s.submit_addendum(b, 1, "hb1", ctsc, 1, 2001).ok());
  BOOST_REQUIRE(s.add_signatory_signature(a, "ha1", 0, 2002).ok());
  BOOST_REQUIRE(s.add_signatory_signature(b, "hb1", 0, 2003).ok());
  BOOST_REQUIRE(s.decide(a, "ha1", true, "", 2004).ok());
  BOOST_REQUIRE(s.decide(b, "hb1", true, "", 2005).ok());
}

} // namespace

BOOST_AUTO_TEST_CASE(every_peer_approved_makes_the_cta_final) {
  auto s = make();
  BOOST_CHECK(s.status() == v1::CTA_STATUS_EMERGING);
  BOOST_REQUIRE(s.submit_addendum(a, 1, "ha1", ctsc, 2, 2000).ok());
  BOOST_CHECK(s.addenda().at(a).status == addendum_status::submitted);
  BOOST_REQUIRE(s.add_signatory_signature(a, "ha1", 1, 2001).ok());
  BOOST_CHECK(s.addenda().at(a).status == addendum_status::submitted); // one of two
  BOOST_REQUIRE(s.add_signatory_signature(a, "ha1", 0, 2002).ok());
  BOOST_CHECK(s.addenda().at(a).status == addendum_status::signed_);
  BOOST_REQUIRE(s.decide(a, "ha1", true, "", 2003).ok());
  BOOST_CHECK(s.status() == v1::CTA_STATUS_EMERGING); // b is still missing
  BOOST_REQUIRE(s.submit_addendum(b, 1, "hb1", ctsc, 1, 2004).ok());
  BOOST_REQUIRE(s.add_signatory_signature(b, "hb1", 0, 2005).ok());
  BOOST_REQUIRE(s.decide(b, "hb1", true, "", 2006).ok());
  BOOST_CHECK(s.status() == v1::CTA_STATUS_INSTANTIATED);
  BOOST_CHECK_EQUAL(s.updates(), 7u);
  BOOST_CHECK_EQUAL(s.last_changed_ms(), 2006);
  BOOST_REQUIRE(s.finish(3000).ok());
  BOOST_CHECK(s.status() == v1::CTA_STATUS_FINISHED);
  BOOST_REQUIRE(s.erase(4000).ok());
  BOOST_CHECK(s.status() == v1::CTA_STATUS_ERASED);
  BOOST_CHECK(s.addenda().at(a).ctsa_hash.empty());
}

BOOST_AUTO_TEST_CASE(a_rejected_addendum_is_replaced_by_a_newer_version) {
  auto s = make();
  BOOST_REQUIRE(s.submit_addendum(a, 1, "ha1", ctsc, 1, 2000).ok());
  BOOST_REQUIRE(s.add_signatory_signature(a, "ha1", 0, 2001).ok());
  refused(s, [](cta_state& x) { return x.decide(a, "ha1", false, "", 2002); }, errc::malformed_input);
  BOOST_REQUIRE(s.decide(a, "ha1", false, "the custodian list is wrong", 2002).ok());
  BOOST_CHECK(s.addenda().at(a).status == addendum_status::rejected);
  BOOST_CHECK_EQUAL(s.addenda().at(a).reason, "the custodian list is wrong");
  // The old version cannot come back; a newer one starts over.
  refused(s, [](cta_state& x) { return x.submit_addendum(a, 1, "ha1", ctsc, 1, 2003); }, errc::replayed);
  BOOST_REQUIRE(s.submit_addendum(a, 2, "ha2", ctsc, 1, 2003).ok());
  BOOST_CHECK(s.addenda().at(a).status == addendum_status::submitted);
  BOOST_CHECK(s.addenda().at(a).signed_by.empty());
  // A signature or decision for the rejected version is a replay now.
  refused(s, [](cta_state& x) { return x.add_signatory_signature(a, "ha1", 0, 2004); }, errc::replayed);
  refused(s, [](cta_state& x) { return x.decide(a, "ha1", true, "", 2004); }, errc::replayed);
}

BOOST_AUTO_TEST_CASE(out_of_turn_events_are_refused_and_change_nothing) {
  auto s = make();
  // Nothing to sign or decide yet; strangers and other CTSCs are refused.
  refused(s, [](cta_state& x) { return x.add_signatory_signature(a, "ha1", 0, 2000); },
          errc::invalid_state);
  refused(s, [](cta_state& x) { return x.decide(a, "ha1", true, "", 2000); }, errc::invalid_state);
  refused(s, [](cta_state& x) { return x.submit_addendum("cp1.joconde.test", 1, "h", ctsc, 1, 2000); },
          errc::forbidden);
  refused(s, [](cta_state& x) { return x.submit_addendum(a, 1, "ha1", "other-ctsc", 1, 2000); },
          errc::malformed_input);
  refused(s, [](cta_state& x) { return x.submit_addendum(a, 1, "ha1", ctsc, 0, 2000); },
          errc::malformed_input);
  refused(s, [](cta_state& x) { return x.finish(2000); }, errc::invalid_state);
  refused(s, [](cta_state& x) { return x.erase(2000); }, errc::invalid_state);
  BOOST_REQUIRE(s.submit_addendum(a, 1, "ha1", ctsc, 1, 2000).ok());
  // Approval needs every signatory; a signatory signs once and only as one the CTSA names.
  refused(s, [](cta_state& x) { return x.decide(a, "ha1", true, "", 2001); }, errc::invalid_state);
  refused(s, [](cta_state& x) { return x.add_signatory_signature(a, "ha1", 1, 2001); },
          errc::malformed_input);
  BOOST_REQUIRE(s.add_signatory_signature(a, "ha1", 0, 2001).ok());
  refused(s, [](cta_state& x) { return x.add_signatory_signature(a, "ha1", 0, 2002); }, errc::duplicate);
  BOOST_REQUIRE(s.decide(a, "ha1", true, "", 2002).ok());
  // Decided once; an approved addendum is final.
  refused(s, [](cta_state& x) { return x.decide(a, "ha1", false, "changed my mind", 2003); },
          errc::invalid_state);
  refused(s, [](cta_state& x) { return x.submit_addendum(a, 2, "ha2", ctsc, 1, 2003); },
          errc::invalid_state);
}

BOOST_AUTO_TEST_CASE(a_final_cta_takes_no_more_addenda) {
  auto s = make();
  agree(s);
  BOOST_CHECK(s.status() == v1::CTA_STATUS_INSTANTIATED);
  refused(s, [](cta_state& x) { return x.submit_addendum(b, 2, "hb2", ctsc, 1, 3000); },
          errc::invalid_state);
  refused(s, [](cta_state& x) { return x.decide(b, "hb1", false, "late", 3000); }, errc::invalid_state);
}

BOOST_AUTO_TEST_CASE(cancellation_and_revocation) {
  auto s = make();
  refused(s, [](cta_state& x) { return x.cancel("", 2000); }, errc::malformed_input);
  BOOST_REQUIRE(s.cancel("budget withdrawn", 2000).ok());
  BOOST_CHECK(s.status() == v1::CTA_STATUS_CANCELLED);
  BOOST_CHECK_EQUAL(s.reason(), "budget withdrawn");
  refused(s, [](cta_state& x) { return x.cancel("again", 2001); }, errc::invalid_state);
  refused(s, [](cta_state& x) { return x.submit_addendum(a, 1, "ha1", ctsc, 1, 2001); },
          errc::invalid_state);
  BOOST_REQUIRE(s.erase(5000).ok());

  // A revoked node cancels the CTAs that name it, and only those; an instantiated CTA too.
  auto t = make();
  agree(t);
  BOOST_CHECK(!t.node_revoked("cp9.joconde.test", 3000));
  BOOST_CHECK(t.status() == v1::CTA_STATUS_INSTANTIATED);
  BOOST_CHECK(t.node_revoked("cp2.joconde.test", 3001));
  BOOST_CHECK(t.status() == v1::CTA_STATUS_CANCELLED);
  BOOST_CHECK(t.reason().find("cp2.joconde.test") != std::string::npos);
  auto u = make();
  BOOST_CHECK(u.node_revoked(b, 3002));
  BOOST_CHECK(u.status() == v1::CTA_STATUS_CANCELLED);
  // A finished CTA is not cancelled any more.
  auto v = make();
  agree(v);
  BOOST_REQUIRE(v.finish(4000).ok());
  BOOST_CHECK(!v.node_revoked(a, 4001));
  BOOST_CHECK(v.status() == v1::CTA_STATUS_FINISHED);
}
