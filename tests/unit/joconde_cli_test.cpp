// The `joconde` client against a fake node that implements the API contract of docs/cli.md: where
// it finds the node and token, what each command prints, how HTTP outcomes map to exit codes, and
// that no token is ever printed.
// Here: where it finds the node, exit codes, parsing and formatting, the program itself; the
// commands are in joconde_cli_test_commands.cpp and joconde_cli_test_agreements.cpp.
#define BOOST_TEST_MODULE joconde_cli
#include <boost/test/unit_test.hpp>

#include "joconde_cli_test_support.hpp"

#include <sys/wait.h>

#include <cstdio>

using namespace joconde;
using namespace joconde_cli_test_support;

BOOST_FIXTURE_TEST_SUITE(joconde_cli, fixture)

// -- where to talk to --

BOOST_AUTO_TEST_CASE(whoami_with_url_and_token) {
  auto r = joconde_run(with_url({"whoami"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "alice at client-a (roles: task_organiser, signatory)\n");
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.last_token(), good_token);
}

BOOST_AUTO_TEST_CASE(options_win_over_the_environment) {
  // The environment alone.
  auto r = joconde_run({"whoami"}, {{"JOCONDE_URL", node.url()}, {"JOCONDE_TOKEN", good_token}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "alice at client-a (roles: task_organiser, signatory)\n");
  // --url beats JOCONDE_URL (which points nowhere); the token still comes from the environment.
  r = joconde_run({"whoami", "--url", node.url()},
                  {{"JOCONDE_URL", unreachable}, {"JOCONDE_TOKEN", good_token}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  // --token beats JOCONDE_TOKEN (which the node does not know).
  r = joconde_run({"whoami", "--token", admin_token},
                  {{"JOCONDE_URL", node.url()}, {"JOCONDE_TOKEN", bad_token}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "admin at client-a (roles: it_admin)\n");
  // --cluster/--as beat the environment entirely.
  r = joconde_run({"--cluster", dir.string(), "--as", "client-a:task_organiser", "whoami"},
                  {{"JOCONDE_URL", unreachable}, {"JOCONDE_TOKEN", bad_token}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(node.last_token(), good_token);
  // Nothing at all, or half of it: a usage error and no request.
  auto before = node.requests();
  r = joconde_run({"whoami"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("no node given") != std::string::npos);
  r = joconde_run({"whoami"}, {{"JOCONDE_URL", node.url()}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("no token given") != std::string::npos);
  // A token that cannot go into a header is refused before sending (and not quoted).
  r = joconde_run({"whoami", "--url", node.url(), "--token", "jct_with space"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("with space") == std::string::npos);
  BOOST_CHECK_EQUAL(node.requests(), before);
}

BOOST_AUTO_TEST_CASE(cluster_and_as_resolve_users_and_the_admin) {
  auto as = [&](const std::string& who) {
    return joconde_run({"whoami", "--cluster", dir.string(), "--as", who});
  };
  auto r = as("client-a:task_organiser");
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "alice at client-a (roles: task_organiser, signatory)\n");
  // No role: the admin token, first line of admin_token_file.
  r = as("client-a");
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "admin at client-a (roles: it_admin)\n");
  BOOST_CHECK_EQUAL(node.last_token(), admin_token);
  auto parsed = cli::parse_options({"--cluster", dir.string(), "--as", "client-a"});
  BOOST_REQUIRE(parsed.ok());
  auto resolved = cli::resolve_endpoint(*parsed, cli::process_environment());
  BOOST_REQUIRE(resolved.ok());
  BOOST_CHECK_EQUAL(resolved->url, node.url());
  BOOST_CHECK_EQUAL(resolved->token, admin_token);
  BOOST_CHECK(resolved->source.find(admin_token) == std::string::npos);
  // What cannot be resolved is a usage error naming what exists, never a token.
  auto before = node.requests();
  r = as("client-a:auditor");
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("roles there: signatory, task_organiser") != std::string::npos);
  BOOST_CHECK(!shows_a_token(r));
  r = as("nobody");
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("nodes there: client-a, cp1") != std::string::npos);
  r = as("cp1"); // its admin token file does not exist
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("admin token file") != std::string::npos);
  r = as("client-a:");
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  r = joconde_run({"whoami", "--cluster", (dir / "client-a").string(), "--as", "client-a"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("cluster.json") != std::string::npos);
  r = joconde_run({"whoami", "--cluster", dir.string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  r = joconde_run({"whoami", "--cluster", dir.string(), "--as", "client-a", "--url", node.url()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("alternatives") != std::string::npos);
  BOOST_CHECK_EQUAL(node.requests(), before);
}

// -- failures and exit codes --

BOOST_AUTO_TEST_CASE(http_outcomes_map_to_exit_codes) {
  auto r = joconde_run(with_url({"whoami"}, bad_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
  BOOST_CHECK_EQUAL(r.err, "joconde: unauthorised: unknown or missing API token\n");
  BOOST_CHECK_EQUAL(r.out, "");
  r = joconde_run(with_url({"status"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
  BOOST_CHECK_EQUAL(r.err, "joconde: forbidden: GET /v1/status needs it_admin or auditor\n");
  r = joconde_run(with_url({"cta", "show", "secret"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
  r = joconde_run(with_url({"cta", "show", "nothing-here"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  BOOST_CHECK_EQUAL(r.err, "joconde: not_found: no CTA nothing-here\n");
  r = joconde_run(with_url({"cta", "show", "boom"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_server);
  BOOST_CHECK(r.err.rfind("joconde: internal_error: ", 0) == 0);
  r = joconde_run(with_url({"cta", "show", "bare-502"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_server);
  BOOST_CHECK_EQUAL(r.err, "joconde: http_502: the node answered HTTP 502 without a JSON error\n");
  r = joconde_run(with_url({"cta", "show", "garbage"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_server);
  BOOST_CHECK_EQUAL(r.out, "");
  BOOST_CHECK(r.err.find("is not JSON") != std::string::npos);
  // A UUID is one path segment, percent-encoded: a slash cannot reach another route.
  r = joconde_run(with_url({"cta", "show", "../whoami"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  BOOST_CHECK_EQUAL(r.err, "joconde: not_found: no CTA ../whoami\n");
  // The table itself.
  BOOST_CHECK_EQUAL(cli::exit_code_for_status(201), cli::exit_ok);
  for (int s : {401, 403})
    BOOST_CHECK_EQUAL(cli::exit_code_for_status(s), cli::exit_denied);
  BOOST_CHECK_EQUAL(cli::exit_code_for_status(404), cli::exit_not_found);
  for (int s : {400, 409, 413, 422})
    BOOST_CHECK_EQUAL(cli::exit_code_for_status(s), cli::exit_invalid);
  for (int s : {500, 502, 503, 405, 302})
    BOOST_CHECK_EQUAL(cli::exit_code_for_status(s), cli::exit_server);
}

BOOST_AUTO_TEST_CASE(an_unreachable_node_is_exit_code_3) {
  auto r = joconde_run({"whoami", "--url", unreachable, "--token", good_token});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_unreachable);
  BOOST_CHECK(r.err.rfind("joconde: io_error: ", 0) == 0);
  r = joconde_run({"whoami", "--cluster", dir.string(), "--as", "cp1:nobody"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage); // cp1 has no users: resolution fails first
  // No full answer within --timeout.
  r = joconde_run(with_url({"cta", "show", "slow", "--timeout", "0.2"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_unreachable);
  BOOST_CHECK(r.err.rfind("joconde: timeout: ", 0) == 0);
  // A URL the client cannot use is a usage error.
  r = joconde_run({"whoami", "--url", "https://127.0.0.1:1", "--token", good_token});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
}

BOOST_AUTO_TEST_CASE(no_token_is_ever_printed) {
  const std::vector<std::vector<std::string>> calls{
    {"whoami", "--verbose"},
    {"status", "--verbose"},
    {"cta", "show", "boom", "--verbose"},
    {"cta", "show", "missing", "--verbose"},
  };
  for (const auto* token : {good_token, bad_token}) {
    for (const auto& args : calls) {
      auto r = joconde_run(with_url(args, token));
      BOOST_CHECK_MESSAGE(!shows_a_token(r), r.err);
      BOOST_CHECK(r.err.find("joconde: GET /v1/") != std::string::npos);
    }
  }
  const auto doc = write("doc.txt", "signed").string();
  for (const auto& args : std::vector<std::vector<std::string>>{
         {"cta", "sign", "c0ffee", "--signatory", "1", "--document", doc, "--verbose"},
         {"cta", "reject", "c0ffee", "--peer", "client-a", "--reason", "no", "--verbose"}}) {
    auto r = joconde_run(with_url(args));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
    BOOST_CHECK_MESSAGE(!shows_a_token(r), r.err);
    BOOST_CHECK(r.err.find("joconde: POST /v1/ctas/c0ffee/") != std::string::npos);
  }
  auto r = joconde_run({"whoami", "--verbose", "--cluster", dir.string(), "--as", "client-a"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK(!shows_a_token(r));
  r = joconde_run({"whoami", "--verbose", "--url", unreachable}, {{"JOCONDE_TOKEN", good_token}});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_unreachable);
  BOOST_CHECK(!shows_a_token(r));
}

// -- parsing and formatting --

BOOST_AUTO_TEST_CASE(options_and_usage_errors) {
  auto o = cli::parse_options({"cta", "--json", "show", "--timeout=2.5", "--", "--odd-uuid"});
  BOOST_REQUIRE(o.ok());
  BOOST_CHECK(o->json);
  BOOST_CHECK_EQUAL(o->timeout.count(), 2500);
  BOOST_CHECK((o->words == std::vector<std::string>{"cta", "show", "--odd-uuid"}));
  BOOST_CHECK_EQUAL(cli::parse_options({}).value().timeout.count(), 30'000);
  BOOST_CHECK(!cli::parse_options({"--frobnicate"}).ok());
  BOOST_CHECK(!cli::parse_options({"--json=yes"}).ok());
  BOOST_CHECK(!cli::parse_options({"--url"}).ok());
  for (const auto* t : {"0", "-1", "abc", "1e9", "nan"})
    BOOST_CHECK_MESSAGE(!cli::parse_options({"--timeout", t}).ok(), t);
  // Usage errors: exit 2, nothing sent.
  const auto before = node.requests();
  for (const auto& args : std::vector<std::vector<std::string>>{
         {}, {"frobnicate"}, {"cta"}, {"cta", "delete"}, {"cta", "show"}, {"cta", "list", "extra"},
         {"whoami", "extra"}, {"cta", "create"}, {"-x"}, {"help", "frobnicate"}}) {
    auto r = joconde_run(with_url(args));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK_EQUAL(r.out, "");
  }
  BOOST_CHECK_EQUAL(node.requests(), before);
  // Help: exit 0 on stdout, per command too.
  auto r = joconde_run({"--help"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, cli::usage());
  r = joconde_run({"cta", "show", "--help"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, cli::usage("cta show"));
  BOOST_CHECK_EQUAL(joconde_run({"help", "cta", "create"}).out, cli::usage("cta create"));
  BOOST_CHECK(cli::usage().find("7  server error") != std::string::npos);
  // The agreement commands: each has its own text, and the general one lists them.
  for (const auto* command : {"ctsa submit", "cta sign", "cta approve", "cta reject"}) {
    BOOST_CHECK_NE(cli::usage(command), cli::usage());
    BOOST_CHECK(cli::usage(command).rfind(std::string{"usage: joconde "} + command, 0) == 0);
    BOOST_CHECK_MESSAGE(cli::usage().find(std::string{"\n  "} + command + " ") != std::string::npos,
                        command);
  }
  r = joconde_run({"cta", "sign", "--help"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, cli::usage("cta sign"));
  BOOST_CHECK_EQUAL(joconde_run({"help", "ctsa", "submit"}).out, cli::usage("ctsa submit"));
  BOOST_CHECK_EQUAL(joconde_run({"ctsa", "--help"}).out, cli::usage("ctsa"));
  BOOST_CHECK_EQUAL(joconde_run({"cta", "reject", "-h"}).out, cli::usage("cta reject"));
}

// CLI11 parses the line; these are the habits of the hand-written parser it replaced.
BOOST_AUTO_TEST_CASE(options_stand_anywhere_and_command_words_can_be_arguments) {
  // A command's own option before the command, the last of a repeated option wins.
  auto r = joconde_run({"--peer", "client-a", "--url", "http://127.0.0.1:1", "cta", "approve", "c0ffee",
                        "--url", node.url(), "--token", good_token});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "client-a.joconde.test: approved; CTA instantiated\n");
  // Words that name commands are arguments after a command: a UUID "whoami", a reason "status".
  r = joconde_run(with_url({"cta", "show", "whoami"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  BOOST_CHECK_EQUAL(r.err, "joconde: not_found: no CTA whoami\n");
  r = joconde_run(with_url({"cta", "cancel", "c0ffee", "--reason", "status"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(node.last_body(), R"({"reason":"status"})");
  // A value is the next word whatever it looks like; one given inline is taken as it is.
  r = joconde_run(with_url({"cta", "cancel", "c0ffee", "--reason", "-x"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(node.last_body(), R"({"reason":"-x"})");
  r = joconde_run(with_url({"cta", "cancel", "c0ffee", "--reason=[a,b]"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(node.last_body(), R"({"reason":"[a,b]"})");
  // Refused before anything is sent: a flag with a value, an empty value, the CLI11 wording.
  const auto before = node.requests();
  for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
         {{"whoami", "--json=true"}, "option --json takes no value"},
         {{"whoami", "--verbose="}, "option --verbose takes no value"},
         {{"cta", "cancel", "c0ffee", "--reason", ""}, "option --reason needs a value"},
         {{"download", "c0ffee", "out", "--url=", "x"}, "option --url needs a value"},
         {{"whoami", "--frobnicate=1"}, "unknown option '--frobnicate'"},
         {{"whoami", "--timeout", "86401"}, "--timeout wants a number of seconds between 0 and 86400"}}) {
    r = joconde_run(with_url(args));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK_EQUAL(r.out, "");
    BOOST_CHECK_MESSAGE(r.err.rfind("joconde: invalid_config: " + says, 0) == 0, r.err);
  }
  BOOST_CHECK_EQUAL(node.requests(), before);
  auto last = cli::parse_options({"whoami", "--token"});
  BOOST_REQUIRE(!last.ok());
  BOOST_CHECK_EQUAL(last.err().message, "option --token needs a value");
}

// Every command comes from one table: each has its usage text, is listed in the general one, and
// counts its arguments before anything is sent.
BOOST_AUTO_TEST_CASE(every_command_has_its_usage_and_counts_its_arguments) {
  const auto before = node.requests();
  for (const auto* command : {"whoami", "cta create", "cta list", "cta show", "cta watch", "ctsa submit",
                              "cta sign", "cta approve", "cta reject", "cta cancel", "cta override",
                              "pak create", "upload", "download", "sql check", "node revoke", "status"}) {
    const std::string name{command};
    BOOST_CHECK_MESSAGE(cli::usage(name).rfind("usage: joconde " + name + " ", 0) == 0, name);
    BOOST_CHECK_MESSAGE(cli::usage().find("\n  " + name) != std::string::npos, name);
    std::vector<std::string> words;
    for (size_t start = 0, space = 0; space != std::string::npos; start = space + 1) {
      space = name.find(' ', start);
      words.push_back(name.substr(start, space - start));
    }
    auto help = words;
    help.push_back("--help");
    BOOST_CHECK_EQUAL(joconde_run(help).out, cli::usage(name));
    auto extra = words;
    extra.insert(extra.end(), {"1", "2", "3", "4"});
    auto r = joconde_run(with_url(extra));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK_MESSAGE(r.err.find(name + " takes no more arguments") != std::string::npos, r.err);
  }
  BOOST_CHECK_EQUAL(node.requests(), before);
  // A group's text lists its commands.
  BOOST_CHECK(cli::usage("cta").find("\n  cta override UUID") != std::string::npos);
  BOOST_CHECK(cli::usage("pak").find("\n  pak create UUID") != std::string::npos);
  BOOST_CHECK(cli::usage().find("\n  --passphrase-file FILE   pak create, upload, download\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(times_are_utc_iso_8601) {
  BOOST_CHECK_EQUAL(cli::format_utc_ms(0), "1970-01-01T00:00:00.000Z");
  BOOST_CHECK_EQUAL(cli::format_utc_ms(-1), "1969-12-31T23:59:59.999Z");
  BOOST_CHECK_EQUAL(cli::format_utc_ms(951'827'696'007), "2000-02-29T12:34:56.007Z");
  BOOST_CHECK_EQUAL(cli::format_utc_ms(INT64_MAX), std::to_string(INT64_MAX) + " ms since the epoch");
}

BOOST_AUTO_TEST_SUITE_END()

// -- the program itself --

namespace {

outcome program(const std::string& args) {
  auto cmd = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde " + args + " 2>/dev/null";
  outcome o{-1, {}, {}};
  if (auto* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, p))
      o.out.append(buf, n);
    auto rc = ::pclose(p);
    o.rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  return o;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_program_prints_help_and_refuses_bad_usage) {
  auto help = program("--help");
  BOOST_CHECK_EQUAL(help.rc, 0);
  BOOST_CHECK_EQUAL(help.out, cli::usage());
  auto bad = program("cta frobnicate");
  BOOST_CHECK_EQUAL(bad.rc, 2);
  BOOST_CHECK_EQUAL(bad.out, "");
}
