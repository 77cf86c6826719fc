// The OpenID Connect callback's refusals that need no identity provider (actors/node/oidc_login.hpp):
// a state nobody started, an empty or malformed one, an error from the provider with any text, a
// state used twice; each is refused as `state`, and never reaches the network. And the group map of
// oidc.groups refuses what is not GROUP:role.

#define BOOST_TEST_MODULE oidc_login
#include <boost/test/unit_test.hpp>

#include "node/node_config.hpp"
#include "node/oidc_login.hpp"

#include <string>

using namespace joconde;

namespace {

oidc_login client() {
  node_config cfg;
  // An address nothing answers: a refusal that needed the provider would show as `unavailable`.
  cfg.oidc_issuer = "https://127.0.0.1:1";
  cfg.oidc_client_id = "client-a";
  cfg.oidc_groups = "stat-auditors:auditor";
  cfg.oidc_label = "the test provider";
  return oidc_login{cfg, "secret", "https://127.0.0.1:8443/v1/oidc/callback"};
}

std::string code_of(const oidc_outcome& o) {
  return o.ok ? std::string{"ok"} : std::string{to_string(o.failure)};
}

} // namespace

BOOST_AUTO_TEST_CASE(a_callback_without_a_log_in_of_this_node_is_refused_as_state) {
  auto c = client();
  auto now = oidc_login::clock::now();
  const std::string hex64(64, 'a');
  for (const auto& [code, state, error, binding] :
       std::initializer_list<std::tuple<std::string, std::string, std::string, std::string>>{
         {"x", "", "", ""},
         {"x", "not-a-state", "", "b"},
         {"x", hex64, "", hex64},
         {"", hex64, "access_denied\r\nInjected: header", ""},
         {std::string(5000, 'c'), std::string(5000, 's'), "", ""},
         {"x", std::string(64, '\0'), "", ""}}) {
    auto o = c.finish(code, state, error, binding, 1800000000, now);
    BOOST_TEST(code_of(o) == "state", state.substr(0, 20));
    BOOST_TEST(o.person.user.empty());
  }
}

BOOST_AUTO_TEST_CASE(starting_a_log_in_needs_the_provider) {
  // Discovery fails (nothing listens): the log-in does not start, and says why.
  auto c = client();
  auto started = c.begin("#/ctas", oidc_login::clock::now());
  BOOST_TEST(!started);
  BOOST_TEST(c.label() == "the test provider");
}

BOOST_AUTO_TEST_CASE(the_group_map_takes_only_group_role_pairs) {
  auto ok = parse_oidc_groups(" a:auditor , b:auditor,b:it_admin,, ");
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok->size() == 2U);
  BOOST_TEST(ok->at("b").size() == 2U);
  for (const char* bad : {"auditor", ":auditor", "a:", "a:root", "a:auditor, b", "a:AUDITOR"})
    BOOST_TEST(!parse_oidc_groups(bad), bad);
  BOOST_TEST(parse_oidc_groups("")->empty());
}
