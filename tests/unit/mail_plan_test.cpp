// Who is e-mailed about what (cplane/mail_plan.hpp): a step reaches the people of its role at its own
// node, the System Operator's approvers at the root, and the peer's certificate contact from the root;
// a new CTSA version is told again; a cancelled or finished CT is told once; nothing else is sent.

#define BOOST_TEST_MODULE mail_plan
#include <boost/test/unit_test.hpp>

#include "cplane/mail_plan.hpp"
#include "joconde/runtime/smtp_client.hpp"
#include "joconde/messages/text.hpp"
#include "support/test_pki.hpp"

#include <algorithm>

namespace {

using namespace joconde;
using joconde::test::test_pki;

const std::string root = "joconde.test";
const std::string a = "client-a.joconde.test";
const std::string b = "client-b.joconde.test";
const std::string portal = "https://portal.example:8443";

test_pki& pki() {
  static test_pki p = [] {
    test_pki out;
    out.add("client-a", root);
    out.add("client-b", root);
    return out;
  }();
  return p;
}

v1::CtaRecord record() {
  v1::CtaRecord rec;
  rec.set_status(v1::CTA_STATUS_EMERGING);
  auto& c = *rec.mutable_ctsc();
  c.set_uuid("0a1b2c3d-0000-4000-8000-000000000001");
  c.set_title("Income by region");
  c.mutable_temporal()->set_approval_deadline_ms(1000);
  for (const auto& p : {a, b}) {
    auto* peer = c.add_peers();
    peer->set_fqdn(p);
    peer->set_role(v1::PEER_ROLE_INPUT_OUTPUT);
    for (const auto& der : pki().chain_der(p))
      peer->mutable_chain()->add_certificates(der);
  }
  c.add_computing_parties()->set_fqdn("cp1.joconde.test");
  auto* in = c.add_inputs();
  in->set_key("persons");
  in->set_peer(a);
  return rec;
}

user person(const std::string& name, user_role role, const std::string& email) {
  user u;
  u.name = name;
  u.roles = {role};
  u.email = email;
  return u;
}

std::vector<user> people() {
  return {person("org", user_role::task_organiser, "org@a.example"),
          person("org2", user_role::task_organiser, ""),  // gave no address: told nothing
          person("sig", user_role::signatory, "sig@a.example"),
          person("appr", user_role::approver, "appr@so.example"),
          person("aud", user_role::auditor, "aud@a.example")};
}

const mail_item* find(const std::vector<mail_item>& mails, const std::string& key_part) {
  auto it = std::find_if(mails.begin(), mails.end(),
                         [&](const mail_item& m) { return m.key.find(key_part) != std::string::npos; });
  return it == mails.end() ? nullptr : &*it;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_step_reaches_the_people_of_its_role_at_its_node_only) {
  auto mails = plan_mail(record(), a, false, people(), portal);
  // a's organiser must submit the CTSA; b's step is not a's to tell (a's node holds only its own).
  BOOST_REQUIRE_EQUAL(mails.size(), 1u);
  const auto& m = mails[0];
  BOOST_TEST(m.to == std::vector<std::string>{"org@a.example"});
  BOOST_TEST(m.subject.find("Income by region") != std::string::npos);
  BOOST_TEST(m.subject.find("submit the CTSA of " + a) != std::string::npos);
  BOOST_TEST(m.body.find(portal + "/portal/#/ct/0a1b2c3d-0000-4000-8000-000000000001") != std::string::npos);
  BOOST_TEST(m.body.find("Phase: agreement") != std::string::npos);
  // The same record planned again gives the same key: the notifier sends it once.
  BOOST_TEST(plan_mail(record(), a, false, people(), portal)[0].key == m.key);
}

BOOST_AUTO_TEST_CASE(the_root_tells_its_approvers_and_each_peers_certificate_contact) {
  auto rec = record();
  auto* ad = rec.add_addenda();
  ad->set_peer(a);
  ad->set_status("signed");
  ad->mutable_ctsa()->set_version(1);
  auto mails = plan_mail(rec, root, true, people(), portal);
  auto* approve = find(mails, "|approve|" + a + "|1|approver|");
  BOOST_REQUIRE(approve != nullptr);
  BOOST_TEST(approve->to == std::vector<std::string>{"appr@so.example"});
  BOOST_TEST(approve->subject.find("approve or reject the CTSA of " + a) != std::string::npos);
  // b has not submitted: its organisation is told at the contact address of its certificate.
  auto* contact = find(mails, "contact:" + b);
  BOOST_REQUIRE(contact != nullptr);
  BOOST_TEST(contact->to == std::vector<std::string>{"it@example.org"});
  // The contact has no account at the root: no link to the root's portal.
  BOOST_TEST(contact->body.find("/portal/") == std::string::npos);
  BOOST_TEST(contact->subject.find(b + " is to submit the CTSA of " + b) != std::string::npos, contact->subject);
  BOOST_TEST(contact_of(rec.ctsc().peers(0).chain()) == "it@example.org");
  // A rejected CTSA: its peer's organisation reads the System Operator's reason.
  auto rejected = rec;
  auto* rb = rejected.add_addenda();
  rb->set_peer(b);
  rb->set_status("rejected");
  rb->set_reason("the director must sign");
  rb->mutable_ctsa()->set_version(1);
  auto* again = find(plan_mail(rejected, root, true, people(), portal), "submit_ctsa||1|contact:" + b);
  BOOST_REQUIRE(again != nullptr);
  BOOST_TEST(again->subject.find("submit a corrected CTSA of " + b) != std::string::npos, again->subject);
  // What the System Operator wrote stays on the portal page: no typed text goes by e-mail.
  BOOST_TEST(again->subject.find("director") == std::string::npos);
  BOOST_TEST(again->body.find("director") == std::string::npos);
  // A rejected CTSA resubmitted as version 2 and signed again is a new request to approve.
  ad->mutable_ctsa()->set_version(2);
  BOOST_TEST(find(plan_mail(rec, root, true, people(), portal), "|approve|" + a + "|2|approver|") != nullptr);
}

BOOST_AUTO_TEST_CASE(a_refused_upload_and_the_end_of_a_ct_are_told) {
  auto rec = record();
  rec.set_status(v1::CTA_STATUS_INSTANTIATED);
  rec.mutable_ctsc()->mutable_temporal()->set_input_deadline_ms(2000);
  auto* ev = rec.add_telemetry();
  ev->set_cp("cp1.joconde.test");
  ev->set_kind("phase");
  ev->set_subject("input");
  ev = rec.add_telemetry();
  ev->set_cp("cp1.joconde.test");
  ev->set_kind("slot");
  ev->set_subject("persons");
  ev->set_value("empty (upload failed: line 7, column 2: not a number)");
  auto users = people();
  users.push_back(person("cust", user_role::data_custodian, "cust@a.example"));
  auto mails = plan_mail(rec, a, false, users, portal);
  auto* refused = find(mails, "|refused-upload|persons|");
  BOOST_REQUIRE(refused != nullptr);
  BOOST_TEST(refused->to == std::vector<std::string>{"cust@a.example"});
  // The refusal's message may quote a cell of the file: it stays on the portal page.
  BOOST_TEST(refused->body.find("line 7") == std::string::npos);
  BOOST_TEST(refused->body.find("not a number") == std::string::npos);

  rec.set_status(v1::CTA_STATUS_CANCELLED);
  mails = plan_mail(rec, a, false, users, portal);
  // The organiser and the custodian are told, each in an e-mail of their own; the auditor and the
  // signatory are not.
  BOOST_REQUIRE_EQUAL(mails.size(), 2u);
  BOOST_TEST(mails[0].key == rec.ctsc().uuid() + "|cancelled|cust@a.example");
  BOOST_TEST(mails[0].to == std::vector<std::string>{"cust@a.example"});
  BOOST_TEST(mails[1].to == std::vector<std::string>{"org@a.example"});

  rec.set_status(v1::CTA_STATUS_ERASED);
  BOOST_TEST(plan_mail(rec, a, false, users, portal).empty());
}

BOOST_AUTO_TEST_CASE(a_title_cannot_inject_a_header_and_lines_end_in_crlf) {
  auto text = smtp::compose("joconde@node.example", "org@a.example",
                            "[joconde] x\r\nBcc: victim@else.example", "line one\nline two\n", "id@node.example");
  auto head = text.substr(0, text.find("\r\n\r\n"));
  BOOST_TEST(head.find("\r\nBcc:") == std::string::npos);
  BOOST_TEST(head.find("Subject: [joconde] x  Bcc: victim@else.example") != std::string::npos);
  BOOST_TEST(text.find("line one\r\nline two\r\n") != std::string::npos);
  BOOST_TEST(text.find("\n\n") == std::string::npos);
  BOOST_TEST(head.find("Auto-Submitted: auto-generated") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_title_in_any_language_is_an_encoded_subject) {
  std::string subject = "[joconde] Revenus par région — Einkommen nach Größenklasse (CT 0a1b2c3d): your turn";
  auto text = smtp::compose("joconde@node.example", "org@a.example", subject, "body\n", "id@node.example");
  auto head = text.substr(0, text.find("\r\n\r\n"));
  BOOST_TEST(head.find("Subject: =?UTF-8?B?") != std::string::npos);
  // 7-bit headers, each encoded word on a line of its own within 76 characters.
  BOOST_TEST(std::all_of(head.begin(), head.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }));
  std::size_t start = 0;
  for (auto end = head.find("\r\n"); start < head.size(); end = head.find("\r\n", start)) {
    auto line = head.substr(start, end == std::string::npos ? std::string::npos : end - start);
    BOOST_TEST(line.size() <= 78u, line);
    if (end == std::string::npos)
      break;
    start = end + 2;
  }
  // Decoded again, the words give the subject back.
  std::string decoded;
  for (auto at = head.find("=?UTF-8?B?"); at != std::string::npos; at = head.find("=?UTF-8?B?", at + 1)) {
    auto end = head.find("?=", at + 10);
    auto raw = text::from_base64(head.substr(at + 10, end - at - 10));
    BOOST_REQUIRE(raw);
    decoded += std::string{raw->begin(), raw->end()};
  }
  BOOST_TEST(decoded == subject);
}
