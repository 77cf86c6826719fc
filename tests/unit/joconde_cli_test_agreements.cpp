// The `joconde` commands on existing agreements, and status (part of the joconde_cli test program).
#include <boost/test/unit_test.hpp>

#include "joconde_cli_test_support.hpp"

using namespace joconde;
using namespace joconde_cli_test_support;

BOOST_FIXTURE_TEST_SUITE(joconde_cli, fixture)

BOOST_AUTO_TEST_CASE(cta_cancel_says_why) {
  auto r = joconde_run(with_url({"cta", "cancel", "c0ffee", "--reason", "budget withdrawn"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "CTA c0ffee: cancelled\n");
  BOOST_CHECK_EQUAL(node.last_body(), R"({"reason":"budget withdrawn"})");
  r = joconde_run(with_url({"cta", "cancel", "c0ffee"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("cta cancel needs --reason TEXT") != std::string::npos);
  r = joconde_run(with_url({"cta", "cancel", "deadbeef", "--reason", "x"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
}

// `node revoke` without a reason, or with a blank one, is a usage error and asks the node nothing
// (its answers are checked against a real node in integration.cluster).
BOOST_AUTO_TEST_CASE(node_revoke_needs_a_reason_and_sends_nothing_without_one) {
  const auto before = node.requests();
  for (const auto& args : {std::vector<std::string>{"node", "revoke"},
                           std::vector<std::string>{"node", "revoke", "--reason", "  "},
                           std::vector<std::string>{"node", "revoke", "--reason"},
                           std::vector<std::string>{"node", "revoke", "extra", "--reason", "leak"}}) {
    auto r = joconde_run(with_url(args));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK(!r.err.empty());
  }
  BOOST_CHECK_EQUAL(node.requests(), before);
}

BOOST_AUTO_TEST_CASE(cta_approve_and_reject_record_decisions) {
  auto r = joconde_run(with_url({"cta", "approve", "c0ffee", "--peer", "client-a"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "client-a.joconde.test: approved; CTA instantiated\n");
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.last_body(), R"({"approve":true,"peer":"client-a"})");
  r = joconde_run(with_url({"cta", "reject", "c0ffee", "--peer", "client-b", "--reason",
                            "signatory 1 lacks an ID document"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "client-b.joconde.test: rejected; CTA emerging\n");
  BOOST_CHECK_EQUAL(node.last_body(), R"({"approve":false,"peer":"client-b",)"
                                      R"("reason":"signatory 1 lacks an ID document"})");
  r = joconde_run(with_url({"--json", "cta", "approve", "c0ffee", "--peer", "client-a"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, R"({"decision":"approved","peer":"client-a.joconde.test",)"
                           R"("status":"instantiated","uuid":"c0ffee"})"
                           "\n");
  r = joconde_run(with_url({"cta", "approve", "nothing-here", "--peer", "client-a"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  BOOST_CHECK_EQUAL(r.err, "joconde: not_found: no CTA nothing-here\n");
  r = joconde_run(with_url({"cta", "approve", "c0ffee", "--peer", "client-a"}, bad_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
  BOOST_CHECK(!shows_a_token(r));
  BOOST_CHECK(!cli::render_decision(json{{"peer", "p"}}, true).ok());
}

BOOST_AUTO_TEST_CASE(bad_agreement_commands_are_refused_before_any_request) {
  fs::create_directories(dir / "a-directory");
  const auto doc = write("doc.pdf", "%PDF-1.7").string();
  const auto big = write("big.pdf", "").string();
  fs::resize_file(big, cli::max_document_bytes + 1);
  const auto ctsa = write("ctsa.json", R"({"version": 1})").string();
  const auto before = node.requests();
  auto refused = [&](std::vector<std::string> args, const std::string& says) {
    auto r = joconde_run(with_url(args));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK_EQUAL(r.out, "");
    BOOST_CHECK_MESSAGE(r.err.find(says) != std::string::npos, r.err);
  };
  // ctsa submit: a file that is not a JSON object, or missing arguments.
  refused({"ctsa", "submit", "c0ffee", write("array.json", "[1]").string()},
          "CTSA file '" + (dir / "array.json").string() + "' holds a JSON array");
  refused({"ctsa", "submit", "c0ffee", write("text.json", "hello").string()}, "is not JSON");
  refused({"ctsa", "submit", "c0ffee", (dir / "missing.json").string()}, "cannot read CTSA file");
  refused({"ctsa", "submit", "c0ffee", (dir / "a-directory").string()}, "not a regular file");
  refused({"ctsa", "submit", ctsa}, "ctsa submit needs two arguments");
  refused({"ctsa", "submit", "", ctsa}, "is not a CTA's UUID");
  refused({"ctsa"}, "ctsa needs a sub-command");
  refused({"ctsa", "sign"}, "unknown ctsa sub-command 'sign'");
  // cta sign: a bad N, a missing, unreadable or too large document, a bad media type.
  for (const auto* n : {"-1", "+1", "x", "1.5", "0x1", " 1", "4294967296"})
    refused({"cta", "sign", "c0ffee", "--signatory", n, "--document", doc},
            "--signatory wants the signatory's index in the CTSA, a non-negative integer");
  refused({"cta", "sign", "c0ffee", "--document", doc}, "needs --signatory N and --document FILE");
  refused({"cta", "sign", "c0ffee", "--signatory", "1"}, "needs --signatory N and --document FILE");
  refused({"cta", "sign", "c0ffee", "--signatory", "1", "--document", (dir / "none.pdf").string()},
          "io_error: cannot read document");
  refused({"cta", "sign", "c0ffee", "--signatory", "1", "--document",
           (dir / "a-directory").string()},
          "is not a regular file");
  refused({"cta", "sign", "c0ffee", "--signatory", "1", "--document", big},
          "too_large: document '" + big + "' has 10485761 bytes; at most 10485760 (10 MiB)");
  refused({"cta", "sign", "c0ffee", "--signatory", "1", "--document", doc, "--media-type", "pdf"},
          "--media-type wants TYPE/SUBTYPE");
  refused({"cta", "sign", "c0ffee", "extra", "--signatory", "1", "--document", doc},
          "takes no more arguments");
  // cta approve and reject: --peer always, --reason for a rejection only and not blank.
  refused({"cta", "approve", "c0ffee"}, "cta approve needs --peer NAME");
  refused({"cta", "reject", "c0ffee", "--reason", "late"}, "cta reject needs --peer NAME");
  refused({"cta", "reject", "c0ffee", "--peer", "client-a"}, "cta reject needs --reason TEXT");
  refused({"cta", "reject", "c0ffee", "--peer", "client-a", "--reason", " \t"},
          "cta reject needs --reason TEXT");
  refused({"cta", "reject", "c0ffee", "--peer", "client-a", "--reason="}, "--reason needs a value");
  refused({"cta", "approve", "c0ffee", "--peer", "client-a", "--reason", "why"},
          "option --reason does not apply to cta approve");
  refused({"cta", "approve", "c0ffee", "--peer", "client-a", "--signatory", "1"},
          "option --signatory does not apply to cta approve");
  refused({"whoami", "--peer", "client-a"}, "option --peer does not apply to whoami");
  refused({"cta", "reject", "c0ffee", "--peer", "client-\xff", "--reason", "bad"},
          "not valid UTF-8");
  // Also with an unreachable node: the arguments and files are checked first.
  auto r = joconde_run({"cta", "reject", "c0ffee", "--peer", "client-a", "--url", unreachable,
                        "--token", good_token});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK_EQUAL(node.requests(), before);
}

BOOST_AUTO_TEST_CASE(cta_list_prints_an_aligned_table) {
  auto r = joconde_run(with_url({"cta", "list"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "UUID      STATUS   UPDATES  TITLE\n"
                           "c0ffee-1  running  3        Price index\n"
                           "d00d      draft    12       Wages\n");
  r = joconde_run(with_url({"cta", "list", "--json"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out.find(R"({"ctas":[{"ctsc_sha256":"ab","last_changed_ms":1,)"), 0u);
  BOOST_CHECK_EQUAL(std::count(r.out.begin(), r.out.end(), '\n'), 1);
  // An empty list is the header alone.
  auto empty = cli::render_cta_list(json{{"ctas", json::array()}});
  BOOST_REQUIRE(empty.ok());
  BOOST_CHECK_EQUAL(*empty, "UUID  STATUS  UPDATES  TITLE\n");
  BOOST_CHECK(!cli::render_cta_list(json{{"ctas", {1, 2}}}).ok());
}

BOOST_AUTO_TEST_CASE(cta_show_is_readable_and_deterministic) {
  auto r = joconde_run(with_url({"cta", "show", "c0ffee"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, cta_text);
  BOOST_CHECK_EQUAL(joconde_run(with_url({"cta", "show", "c0ffee"})).out, r.out);
  // The same document built in another order renders to the same bytes.
  json reordered;
  for (const auto* key : {"flags", "note", "task", "parties", "last_changed_ms", "updates",
                          "ctsc_sha256", "status", "title", "uuid"})
    reordered[key] = cta_doc[key];
  auto again = cli::render_cta(reordered);
  BOOST_REQUIRE(again.ok());
  BOOST_CHECK_EQUAL(*again, cta_text);
  // --json: the document itself, one line, keys sorted.
  r = joconde_run(with_url({"--json", "cta", "show", "c0ffee"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, cli::compact_json(cta_doc) + "\n");
  BOOST_CHECK_EQUAL(r.out.substr(0, 22), R"({"ctsc_sha256":"ab12",)");
  BOOST_CHECK_EQUAL(json::parse(r.out), cta_doc);
  // Only some key fields, no others.
  auto small = cli::render_cta(json{{"status", "draft"}, {"uuid", "u"}});
  BOOST_REQUIRE(small.ok());
  BOOST_CHECK_EQUAL(*small, "uuid:         u\nstatus:       draft\n");
  BOOST_CHECK(!cli::render_cta(json::array()).ok());
}

// SYS-2.1: the members the node has not confirmed come first, with what to compare and do.
BOOST_AUTO_TEST_CASE(cta_show_warns_of_unconfirmed_members_first) {
  json doc{{"uuid", "c0ffee"},
           {"status", "emerging"},
           {"members",
            {{{"fqdn", "cp1.joconde.test"}, {"role", "computing_party"}, {"fingerprint", "11:22"},
              {"trust", "confirmed"}, {"confirmed_at_ms", 1}},
             {{"fqdn", "cp3.joconde.test"}, {"role", "computing_party"}, {"fingerprint", "0A:1B"},
              {"trust", "unconfirmed"}},
             {{"fqdn", "client-b.joconde.test\x1b[2J"}, {"role", "peer"}, {"fingerprint", "33:44"},
              {"trust", "unconfirmed"}}}}};
  auto text = cli::render_cta(doc);
  BOOST_REQUIRE(text.ok());
  const std::string head =
    "uuid:         c0ffee\n"
    "status:       emerging\n"
    "\n"
    "WARNING: 2 members of this CTA are NOT confirmed out of band at this node (SYS-2.1).\n"
    "This node submits no CTSA for it until each is confirmed or overridden.\n"
    "  UNCONFIRMED cp3.joconde.test (computing_party)\n"
    "    fingerprint: 0A:1B\n"
    "    compare it with cp3.joconde.test's operator over another channel, then at this node:\n"
    "      joconde-node trust confirm 0A:1B --dir DATA_DIR\n"
    "    or, accepting the risk (it_admin):\n"
    "      joconde cta override c0ffee --member cp3.joconde.test --reason TEXT\n"
    "  UNCONFIRMED client-b.joconde.test\\x1b[2J (peer)\n";
  BOOST_CHECK_EQUAL(text->substr(0, head.size()), head);
  BOOST_CHECK(text->find("UNCONFIRMED cp1") == std::string::npos);
  BOOST_CHECK(text->find("\nmembers:\n") > text->find("WARNING"));
  // Every member confirmed or overridden: no warning at all.
  doc["members"][1]["trust"] = "override";
  doc["members"][2]["trust"] = "confirmed";
  auto quiet = cli::render_cta(doc);
  BOOST_REQUIRE(quiet.ok());
  BOOST_CHECK(quiet->find("WARNING") == std::string::npos);
  BOOST_CHECK(quiet->find("UNCONFIRMED") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(cta_override_records_an_it_administrators_decision) {
  auto r = joconde_run(with_url({"cta", "override", "c0ffee", "--member", "cp3", "--reason", "read out on a call"},
                                admin_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "override: cp3.joconde.test (fingerprint 0A:1B) accepted unconfirmed for CTA "
                           "c0ffee by admin\n");
  BOOST_CHECK_EQUAL(node.last_body(), R"({"member":"cp3","reason":"read out on a call"})");
  // Refused by the node: without the role, for a confirmed member, for another CTA.
  r = joconde_run(with_url({"cta", "override", "c0ffee", "--member", "cp3", "--reason", "x"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
  r = joconde_run(with_url({"cta", "override", "c0ffee", "--member", "client-a", "--reason", "x"}, admin_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK_EQUAL(r.err, "joconde: invalid_state: client-a.joconde.test is confirmed at this node\n");
  r = joconde_run(with_url({"cta", "override", "d00d", "--member", "cp3", "--reason", "x"}, admin_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  // Refused here, before any request: no member, no or a blank reason, --member elsewhere.
  auto before = node.requests();
  for (const auto& args : std::vector<std::vector<std::string>>{
         {"cta", "override", "c0ffee", "--reason", "x"},
         {"cta", "override", "c0ffee", "--member", "cp3"},
         {"cta", "override", "c0ffee", "--member", "cp3", "--reason", " \t"},
         {"cta", "show", "c0ffee", "--member", "cp3"}}) {
    auto bad = joconde_run(with_url(args, admin_token));
    BOOST_CHECK_EQUAL(bad.rc, cli::exit_usage);
    BOOST_CHECK_EQUAL(bad.out, "");
  }
  BOOST_CHECK_EQUAL(node.requests(), before);
  BOOST_CHECK(!cli::render_override(json{{"member", "m"}}).ok());
}

BOOST_AUTO_TEST_CASE(status_is_pretty_unless_json) {
  auto r = joconde_run(with_url({"status"}, admin_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "{\n  \"links\": [\n    {\n      \"peer\": \"root\",\n"
                           "      \"up\": true\n    }\n  ],\n  \"node\": \"client-a\"\n}\n");
  r = joconde_run(with_url({"status", "--json"}, admin_token));
  BOOST_CHECK_EQUAL(r.out, R"({"links":[{"peer":"root","up":true}],"node":"client-a"})"
                           "\n");
  r = joconde_run(with_url({"whoami", "--json"}));
  BOOST_CHECK_EQUAL(r.out, R"({"node":"client-a","roles":["task_organiser","signatory"],"user":"alice"})"
                           "\n");
}

BOOST_AUTO_TEST_SUITE_END()
