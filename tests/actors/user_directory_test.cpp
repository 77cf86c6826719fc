#define BOOST_TEST_MODULE user_directory
#include <boost/test/unit_test.hpp>

// People at a node: adding, listing, removing, tokens, and what is refused — on a real LMDB store.

#include "mplane/user_directory.hpp"

#include <filesystem>

#include <unistd.h>

using namespace joconde;
namespace fs = std::filesystem;

namespace {

struct fixture {
  fs::path dir = fs::temp_directory_path() / ("joconde-users-" + std::to_string(::getpid()));
  node_store store;
  std::unique_ptr<user_directory> users;

  fixture() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    store = node_store::open(dir, 64ull << 20).value();
    users = std::make_unique<user_directory>(store);
  }

  ~fixture() {
    users.reset();
    store = {};
    fs::remove_all(dir);
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(a_user_is_added_listed_authenticated_and_removed, fixture) {
  auto token = users->add("alice", {user_role::task_organiser, user_role::signatory}, "test");
  BOOST_REQUIRE_MESSAGE(token.ok(), (token ? std::string{} : token.err().describe()));
  BOOST_CHECK_EQUAL(token->size(), 4u + 64u);
  BOOST_CHECK_EQUAL(token->substr(0, 4), "jct_");
  auto who = users->authenticate(*token);
  BOOST_REQUIRE(who.ok());
  BOOST_REQUIRE(who->has_value());
  BOOST_CHECK_EQUAL((*who)->name, "alice");
  BOOST_CHECK((*who)->has(user_role::signatory));
  BOOST_CHECK(!(*who)->has(user_role::it_admin));
  auto all = users->list();
  BOOST_REQUIRE(all.ok());
  BOOST_REQUIRE_EQUAL(all->size(), 1u);
  BOOST_CHECK_EQUAL(all->front().created_by, "test");
  // The store keeps only the token's hash.
  auto txn = store.env->begin_read().value();
  bool found = false;
  (void) txn.for_each(store.users, "", [&](std::string_view, std::string_view v) {
    found = found || v.find(token->substr(4)) != std::string_view::npos;
    return true;
  });
  BOOST_CHECK(!found);
  BOOST_REQUIRE(users->remove("alice").ok());
  BOOST_CHECK(!users->authenticate(*token)->has_value());
  BOOST_CHECK(users->list()->empty());
}

BOOST_FIXTURE_TEST_CASE(a_new_token_replaces_the_old_one, fixture) {
  auto first = users->add("bob", {user_role::auditor}, "test").value();
  auto second = users->new_token("bob");
  BOOST_REQUIRE(second.ok());
  BOOST_CHECK_NE(first, *second);
  BOOST_CHECK(!users->authenticate(first)->has_value());
  BOOST_CHECK(users->authenticate(*second)->has_value());
}

BOOST_FIXTURE_TEST_CASE(bad_names_roles_and_tokens_are_refused_and_change_nothing, fixture) {
  const std::vector<std::string> bad_names{"", "Alice", "a b", "x/y", "admin", std::string(65, 'a')};
  for (const auto& name : bad_names)
    BOOST_CHECK_MESSAGE(!users->add(name, {user_role::auditor}, "test").ok(), "'" << name << "'");
  BOOST_CHECK(!users->add("carol", {}, "test").ok());
  BOOST_REQUIRE(users->add("carol", {user_role::auditor}, "test").ok());
  auto twice = users->add("carol", {user_role::it_admin}, "test");
  BOOST_REQUIRE(!twice.ok());
  BOOST_CHECK(twice.err().code == errc::already_exists);
  BOOST_CHECK(!users->list()->front().has(user_role::it_admin));
  BOOST_CHECK(users->remove("nobody").err().code == errc::not_found);
  BOOST_CHECK(users->new_token("nobody").err().code == errc::not_found);
  for (auto token : {"", "jct_", "jct_00", "not-a-token", "jct_zz"})
    BOOST_CHECK(!users->authenticate(token)->has_value());
  BOOST_CHECK_EQUAL(users->list()->size(), 1u);
}

BOOST_FIXTURE_TEST_CASE(bad_addresses_and_passwords_are_refused_and_change_nothing, fixture) {
  // An address goes into an SMTP envelope and a header: one plain address or nothing.
  for (const auto* email : {"no-at-sign", "@example.org", "a@", "a@b", "a@@b.example", "a b@c.example",
                            "a@b.example\r\nBcc: x@y.example", "<a@b.example>", "a@b.example, c@d.example",
                            "a@.example", "a@example."})
    BOOST_CHECK_MESSAGE(!users->add("dave", {user_role::auditor}, "test", email).ok(), "'" << email << "'");
  BOOST_CHECK(!users->add("dave", {user_role::auditor}, "test", std::string(250, 'a') + "@b.example").ok());
  BOOST_CHECK(users->list()->empty());
  BOOST_REQUIRE(users->add("dave", {user_role::auditor}, "test", "dave@stat.example").ok());
  BOOST_CHECK_EQUAL(users->list()->front().email, "dave@stat.example");
  BOOST_CHECK(!users->list()->front().has_password);
  // Passwords: 12 to 1024 bytes; a user without one cannot log in with any.
  BOOST_CHECK(!users->check_password("dave", "")->has_value());
  BOOST_CHECK(!users->set_password("dave", "short").ok());
  BOOST_CHECK(!users->set_password("dave", std::string(1025, 'p')).ok());
  BOOST_CHECK(users->set_password("nobody", "long enough password").err().code == errc::not_found);
  BOOST_CHECK(!users->list()->front().has_password);
  BOOST_REQUIRE(users->set_password("dave", "long enough password").ok());
  BOOST_CHECK(users->check_password("dave", "long enough password")->has_value());
  BOOST_CHECK(!users->check_password("dave", "long enough passworD")->has_value());
  BOOST_CHECK(!users->check_password("nobody", "long enough password")->has_value());
  BOOST_CHECK(users->list()->front().has_password);
}

BOOST_AUTO_TEST_CASE(role_names_round_trip) {
  BOOST_CHECK_EQUAL(all_user_roles().size(), 8u);
  for (auto r : all_user_roles())
    BOOST_CHECK(user_role_from_string(to_string(r)) == r);
  BOOST_CHECK(!user_role_from_string("root").has_value());
}
