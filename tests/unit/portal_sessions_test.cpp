// The portal's sessions (actors/node/portal_sessions.hpp): ids and CSRF tokens, idle and absolute
// expiry, the bound on live sessions, log-out, and reading the cookie from a Cookie header.

#define BOOST_TEST_MODULE portal_sessions
#include <boost/test/unit_test.hpp>

#include "node/portal_sessions.hpp"

#include <set>

using namespace joconde;
using namespace std::chrono_literals;

namespace {

portal_sessions::clock::time_point t0() {
  return portal_sessions::clock::time_point{} + 1000h;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_session_is_found_by_its_id_only) {
  portal_sessions s{900s, 8h, 10};
  auto id = s.open({"analyst", 42, "token", false, {}, {}}, t0());
  BOOST_TEST(id.size() == 64u);
  auto found = s.find(id, t0() + 1s);
  BOOST_REQUIRE(found);
  BOOST_TEST(found->user == "analyst");
  BOOST_TEST(found->token_issued_at_ms == 42);
  BOOST_TEST(found->csrf_token.size() == 64u);
  BOOST_TEST(found->csrf_token != id);
  // One hex digit changed, a prefix, an empty id: nothing.
  auto other = id;
  other[10] = other[10] == '0' ? '1' : '0';
  BOOST_TEST(!s.find(other, t0()));
  BOOST_TEST(!s.find(id.substr(0, 63), t0()));
  BOOST_TEST(!s.find("", t0()));
}

BOOST_AUTO_TEST_CASE(ids_and_csrf_tokens_are_fresh_each_time) {
  portal_sessions s{900s, 8h, 100};
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto id = s.open({"u", 1, "token", false, {}, {}}, t0());
    BOOST_TEST(seen.insert(id).second);
    BOOST_TEST(seen.insert(s.find(id, t0())->csrf_token).second);
  }
}

BOOST_AUTO_TEST_CASE(a_session_ends_when_idle_and_after_its_lifetime) {
  portal_sessions s{60s, 300s, 10};
  auto id = s.open({"u", 1, "token", false, {}, {}}, t0());
  // Used every 50 s it stays alive until its lifetime is over.
  for (int i = 1; i < 6; ++i)
    BOOST_TEST(s.find(id, t0() + i * 50s).has_value());
  BOOST_TEST(!s.find(id, t0() + 300s));
  auto idle = s.open({"u", 1, "token", false, {}, {}}, t0());
  BOOST_TEST(s.find(idle, t0() + 59s).has_value());
  BOOST_TEST(!s.find(idle, t0() + 119s));
  BOOST_TEST(s.live(t0() + 119s) == 0u);
}

BOOST_AUTO_TEST_CASE(log_out_ends_the_session) {
  portal_sessions s{900s, 8h, 10};
  auto id = s.open({"u", 1, "token", false, {}, {}}, t0());
  BOOST_TEST(s.close(id));
  BOOST_TEST(!s.close(id));
  BOOST_TEST(!s.find(id, t0()));
}

BOOST_AUTO_TEST_CASE(beyond_the_bound_the_least_recently_used_session_ends) {
  portal_sessions s{900s, 8h, 3};
  auto a = s.open({"a", 1, "token", false, {}, {}}, t0());
  auto b = s.open({"b", 1, "token", false, {}, {}}, t0() + 1s);
  auto c = s.open({"c", 1, "token", false, {}, {}}, t0() + 2s);
  BOOST_TEST(s.find(a, t0() + 3s).has_value()); // a is now the most recent
  auto d = s.open({"d", 1, "token", false, {}, {}}, t0() + 4s);
  BOOST_TEST(!s.find(b, t0() + 5s));
  for (const auto& id : {a, c, d})
    BOOST_TEST(s.find(id, t0() + 5s).has_value());
  BOOST_TEST(s.live(t0() + 5s) == 3u);
}

BOOST_AUTO_TEST_CASE(the_csrf_token_must_match_exactly) {
  portal_sessions s{900s, 8h, 10};
  auto found = s.find(s.open({"u", 1, "token", false, {}, {}}, t0()), t0());
  BOOST_REQUIRE(found);
  BOOST_TEST(portal_sessions::csrf_matches(*found, found->csrf_token));
  BOOST_TEST(!portal_sessions::csrf_matches(*found, ""));
  BOOST_TEST(!portal_sessions::csrf_matches(*found, found->csrf_token.substr(1)));
  BOOST_TEST(!portal_sessions::csrf_matches(*found, found->csrf_token + "0"));
}

BOOST_AUTO_TEST_CASE(the_cookie_is_named_per_node_and_read_from_the_header) {
  BOOST_TEST(portal_sessions::cookie_name("client-a") == "__Host-joconde-client-a");
  BOOST_TEST(portal_sessions::cookie_name("a b;c=") == "__Host-joconde-a_b_c_");
  auto name = portal_sessions::cookie_name("client-a");
  BOOST_TEST(portal_sessions::cookie_value("__Host-joconde-client-a=abc", name) == "abc");
  BOOST_TEST(portal_sessions::cookie_value("x=1; __Host-joconde-client-b=zzz; __Host-joconde-client-a=abc; y=2", name)
             == "abc");
  BOOST_TEST(portal_sessions::cookie_value("__Host-joconde-client-ab=abc", name).empty());
  BOOST_TEST(portal_sessions::cookie_value("", name).empty());
  BOOST_TEST(portal_sessions::cookie_value(";;=;", name).empty());
}

BOOST_AUTO_TEST_CASE(an_external_persons_session_keeps_their_roles_and_how_they_came_in) {
  portal_sessions s{900s, 8h, 10};
  auto id = s.open({"oidc:olga", 0, "oidc", true, {"auditor", "general_manager"}, "olga@org.example"}, t0());
  auto local = s.open({"olga", 7, "password", false, {}, {}}, t0());
  auto found = s.find(id, t0() + 1s);
  BOOST_REQUIRE(found);
  BOOST_TEST(found->external);
  BOOST_TEST(found->via == "oidc");
  BOOST_TEST((found->roles == std::vector<std::string>{"auditor", "general_manager"}));
  BOOST_TEST(found->email == "olga@org.example");
  auto other = s.find(local, t0() + 1s);
  BOOST_REQUIRE(other);
  BOOST_TEST(!other->external);
  BOOST_TEST(other->roles.empty());
  BOOST_TEST(other->via == "password");
}
