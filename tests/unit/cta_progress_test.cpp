// What `cta show` leads with (cplane/cta_progress.hpp): a CTA's phase and what each organisation
// still has to do, from the addenda and the CT VMs' telemetry; and why a CT was cancelled.
#define BOOST_TEST_MODULE cta_progress
#include <boost/test/unit_test.hpp>

#include "cplane/cta_progress.hpp"

namespace {

using namespace joconde;

const std::string a = "client-a.joconde.test";
const std::string b = "client-b.joconde.test";
const char* cps[] = {"cp1.joconde.test", "cp2.joconde.test", "cp3.joconde.test"};

/// A CTA of two peers: a uploads `persons`, b uploads `income`; both read `by_region`.
v1::CtaRecord record(v1::CtaStatus status) {
  v1::CtaRecord rec;
  rec.set_status(status);
  auto& c = *rec.mutable_ctsc();
  c.mutable_temporal()->set_approval_deadline_ms(1000);
  c.mutable_temporal()->set_input_deadline_ms(2000);
  c.mutable_temporal()->set_execution_deadline_ms(3000);
  c.mutable_temporal()->set_output_deadline_ms(4000);
  for (const auto& p : {a, b}) {
    auto* peer = c.add_peers();
    peer->set_fqdn(p);
    peer->set_role(v1::PEER_ROLE_INPUT_OUTPUT);
  }
  for (auto cp : cps)
    c.add_computing_parties()->set_fqdn(cp);
  auto* in = c.add_inputs();
  in->set_key("persons");
  in->set_peer(a);
  in = c.add_inputs();
  in->set_key("income");
  in->set_peer(b);
  auto* out = c.add_outputs();
  out->set_key("by_region");
  out->add_peers(a);
  out->add_peers(b);
  return rec;
}

void event(v1::CtaRecord& rec, const std::string& cp, const std::string& kind, const std::string& subject,
           const std::string& value) {
  auto* ev = rec.add_telemetry();
  ev->set_cp(cp);
  ev->set_kind(kind);
  ev->set_subject(subject);
  ev->set_value(value);
}

/// "who: what" of every step.
std::vector<std::string> steps(const cta_progress& p) {
  std::vector<std::string> out;
  for (const auto& s : p.to_do)
    out.push_back(s.who + ": " + s.what);
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_agreement_waits_for_ctsas_signatures_and_the_so) {
  auto rec = record(v1::CTA_STATUS_EMERGING);
  // At the root, before anyone submitted: both peers must.
  auto p = progress_of(rec, "joconde.test", true);
  BOOST_CHECK_EQUAL(p.phase, "agreement");
  BOOST_CHECK_EQUAL(p.until_ms, 1000);
  BOOST_REQUIRE_EQUAL(p.to_do.size(), 2u);
  BOOST_CHECK_EQUAL(steps(p)[0], a + ": submit its CTSA (joconde ctsa submit)");
  // a submitted, one of two signatories signed; b's was rejected.
  auto* ad = rec.add_addenda();
  ad->set_peer(a);
  ad->set_status("submitted");
  ad->mutable_ctsa()->add_signatories()->set_name("x");
  ad->mutable_ctsa()->add_signatories()->set_name("y");
  ad->add_signed_by(0);
  ad = rec.add_addenda();
  ad->set_peer(b);
  ad->set_status("rejected");
  ad->set_reason("the director must sign");
  p = progress_of(rec, "joconde.test", true);
  BOOST_REQUIRE_EQUAL(p.to_do.size(), 2u);
  BOOST_CHECK_EQUAL(steps(p)[0], a + ": its signatories sign its CTSA (1 of 2 signed; joconde cta sign)");
  BOOST_CHECK_EQUAL(steps(p)[1], b + ": submit a corrected CTSA (rejected: the director must sign)");
  BOOST_CHECK_EQUAL(p.to_do[0].role + " " + p.to_do[0].action, "signatory sign");
  BOOST_CHECK_EQUAL(p.to_do[1].role + " " + p.to_do[1].action, "task_organiser submit_ctsa");
  // Signed: the SO decides; approved: nothing left for a.
  rec.mutable_addenda(0)->set_status("signed");
  rec.mutable_addenda(1)->set_status("approved");
  p = progress_of(rec, "joconde.test", true);
  BOOST_REQUIRE_EQUAL(p.to_do.size(), 1u);
  BOOST_CHECK_EQUAL(steps(p)[0], "the System Operator: approve or reject the CTSA of " + a
                                   + " (joconde cta approve or cta reject, at the root)");
  // For programs (the portal's buttons, notifications): who acts, doing what, about what.
  BOOST_CHECK_EQUAL(p.to_do[0].role, "approver");
  BOOST_CHECK_EQUAL(p.to_do[0].action, "approve");
  BOOST_CHECK_EQUAL(p.to_do[0].subject, a);
  // At b's node, which holds only its own addendum: a's is the root's to tell.
  auto at_b = record(v1::CTA_STATUS_EMERGING);
  p = progress_of(at_b, b, false);
  BOOST_REQUIRE_EQUAL(p.to_do.size(), 1u);
  BOOST_CHECK_EQUAL(p.to_do[0].who, b);
}

BOOST_AUTO_TEST_CASE(the_ct_waits_for_the_vms_the_uploads_the_calculation_and_the_downloads) {
  auto rec = record(v1::CTA_STATUS_INSTANTIATED);
  auto p = progress_of(rec, a, false);
  BOOST_CHECK_EQUAL(p.phase, "starting");
  BOOST_CHECK_EQUAL(steps(p)[0], "the Computing Parties: start their CT VMs, which attest each other");
  // Two CPs are in the Input phase, one is not yet: still starting.
  event(rec, cps[0], "phase", "input", "agreed by every CP");
  event(rec, cps[1], "phase", "input", "agreed by every CP");
  BOOST_CHECK_EQUAL(progress_of(rec, a, false).phase, "starting");
  event(rec, cps[2], "phase", "input", "agreed by every CP");
  p = progress_of(rec, a, false);
  BOOST_CHECK_EQUAL(p.phase, "input");
  BOOST_CHECK_EQUAL(p.until_ms, 2000);
  BOOST_REQUIRE_EQUAL(p.to_do.size(), 2u);
  BOOST_CHECK_EQUAL(steps(p)[0], a + ": upload input `persons` (a Data Custodian: joconde upload)");
  BOOST_CHECK_EQUAL(p.to_do[0].role + " " + p.to_do[0].action + " " + p.to_do[0].subject,
                    "data_custodian upload persons");
  // persons is ready at every CP; income's upload failed at one.
  for (auto cp : cps)
    event(rec, cp, "slot", "persons", "ready (10 rows, sealed at every CP)");
  event(rec, cps[1], "slot", "income", "empty (upload failed: line 7, column 2: not a number)");
  p = progress_of(rec, a, false);
  BOOST_REQUIRE_EQUAL(p.to_do.size(), 1u);
  BOOST_CHECK_EQUAL(steps(p)[0], b + ": upload input `income` (a Data Custodian: joconde upload); the last upload "
                                   "failed at cp2.joconde.test: line 7, column 2: not a number");
  for (auto cp : cps)
    event(rec, cp, "phase", "calculation", "agreed by every CP");
  p = progress_of(rec, a, false);
  BOOST_CHECK_EQUAL(p.phase, "calculation");
  BOOST_CHECK_EQUAL(p.until_ms, 3000);
  BOOST_CHECK_EQUAL(p.to_do.size(), 1u);
  for (auto cp : cps) {
    event(rec, cp, "phase", "output", "agreed by every CP");
    event(rec, cp, "slot", "by_region", "released to " + a + " (by Ann); 1 peer still to retrieve it");
  }
  p = progress_of(rec, a, false);
  BOOST_CHECK_EQUAL(p.phase, "output");
  BOOST_CHECK_EQUAL(p.until_ms, 4000);
  BOOST_REQUIRE_EQUAL(p.to_do.size(), 1u);
  BOOST_CHECK_EQUAL(steps(p)[0], b + ": download output `by_region` (a Data Analyst: joconde download)");
  BOOST_CHECK_EQUAL(p.to_do[0].role + " " + p.to_do[0].action + " " + p.to_do[0].subject,
                    "data_analyst download by_region");
}

BOOST_AUTO_TEST_CASE(an_upload_waits_for_its_check_and_a_refused_one_says_why) {
  auto rec = record(v1::CTA_STATUS_INSTANTIATED);
  for (auto cp : cps) {
    event(rec, cp, "phase", "input", "agreed by every CP");
    event(rec, cp, "slot", "income", "ready (10 rows, sealed at every CP)");
    event(rec, cp, "slot", "persons", "sealed at every CP (10 rows); its data-quality check is to run");
  }
  auto p = progress_of(rec, a, false);
  BOOST_REQUIRE_EQUAL(p.to_do.size(), 1u);
  BOOST_CHECK_EQUAL(steps(p)[0], a + ": wait for the data-quality check of the upload of `persons` (it runs at "
                                   "the Computing Parties; joconde cta watch)");
  for (auto cp : cps)
    event(rec, cp, "slot", "persons",
          "empty (its data-quality check failed; upload again before the input deadline)");
  p = progress_of(rec, a, false);
  BOOST_REQUIRE_EQUAL(p.to_do.size(), 1u);
  BOOST_CHECK_EQUAL(steps(p)[0], a + ": upload input `persons` (a Data Custodian: joconde upload); the last "
                                   "upload was refused: its data-quality check failed");
  for (auto cp : cps)
    event(rec, cp, "slot", "persons", "ready (10 rows, sealed at every CP; its data-quality check passed)");
  for (const auto& step : steps(progress_of(rec, a, false)))
    BOOST_CHECK_MESSAGE(step.find("persons") == std::string::npos, step);
}

BOOST_AUTO_TEST_CASE(a_cancelled_ct_says_what_failed) {
  auto rec = record(v1::CTA_STATUS_INSTANTIATED);
  BOOST_CHECK_EQUAL(cancel_cause(rec), "");
  event(rec, cps[1], "phase", "cancelled", "cancelled by cp-0: the data-quality check of `income` failed");
  BOOST_CHECK_EQUAL(cancel_cause(rec),
                    "cp2.joconde.test: cancelled by cp1.joconde.test: the data-quality check of `income` failed");
  event(rec, cps[0], "phase", "cancelled", "the data-quality check of `income` failed");
  event(rec, cps[2], "phase", "cancelled", "cancelled by cp-0: the data-quality check of `income` failed");
  BOOST_CHECK_EQUAL(cancel_cause(rec), "cp1.joconde.test: the data-quality check of `income` failed");
  // A lost counterpart is named by its node; an index no CP has, or a longer word, stays.
  auto lost = record(v1::CTA_STATUS_INSTANTIATED);
  event(lost, cps[1], "phase", "cancelled", "lost counterpart cp-0: io_error; cp-7 and cp-2x and cp-");
  BOOST_CHECK_EQUAL(cancel_cause(lost),
                    "cp2.joconde.test: lost counterpart cp1.joconde.test: io_error; cp-7 and cp-2x and cp-");
  rec.set_status(v1::CTA_STATUS_CANCELLED);
  rec.set_reason("the CT was cancelled at cp1.joconde.test: the data-quality check of `income` failed");
  auto p = progress_of(rec, a, false);
  BOOST_CHECK_EQUAL(p.phase, "cancelled");
  BOOST_CHECK_EQUAL(p.cause, rec.reason());
  BOOST_CHECK(p.to_do.empty());
  rec.set_status(v1::CTA_STATUS_FINISHED);
  BOOST_CHECK_EQUAL(progress_of(rec, a, false).phase, "finished");
}
