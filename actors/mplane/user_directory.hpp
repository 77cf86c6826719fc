#pragma once

// People at a node, their roles and their API tokens (DESIGN.md §4 access_manager). Plain code over
// the node's LMDB store, used by `joconde-node user ...` and by the HTTP API; thread-safe because
// LMDB transactions are.
//
// A token is 32 random bytes, shown once when it is issued ("jct_" + 64 hex digits); the store keeps
// only its SHA-256, so a copy of the store does not give anyone access.

#include "joconde/messages/result.hpp"
#include "node_store.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace joconde {

/// What a person may do at a node (spec §4.1 roles plus the node's operators).
enum class user_role : uint8_t {
  task_organiser = 1,
  signatory,
  data_custodian,
  data_analyst,
  approver,
  general_manager,
  auditor,
  it_admin,
};

/// Every role, in order.
const std::vector<user_role>& all_user_roles();

std::string_view to_string(user_role role);

/// "task_organiser" ... "it_admin"; nullopt for anything else.
std::optional<user_role> user_role_from_string(std::string_view name);

/// A person at this node.
struct user {
  std::string name;
  std::set<user_role> roles;
  int64_t created_at_ms = 0;
  std::string created_by;
  int64_t token_issued_at_ms = 0;
  std::string email;  ///< where notifications reach them; empty: they get none
  bool has_password = false;  ///< may log in to the portal with a password

  bool has(user_role r) const { return roles.count(r) > 0; }
};

/// The name of the built-in operator account behind `admin.token` (role it_admin).
constexpr std::string_view admin_user_name = "admin";

class user_directory {
public:
  explicit user_directory(node_store store);

  /// Adds a user; returns the API token (shown once). Names are [a-z0-9._-], 1 to 64 characters,
  /// not "admin"; at least one role; `email` empty or one address (local@domain, no spaces, at
  /// most 254 characters).
  result<std::string> add(const std::string& name, const std::set<user_role>& roles,
                          const std::string& created_by, const std::string& email = {});

  /// Removes a user and their token.
  result<void> remove(const std::string& name);

  /// Issues a new token for a user; the old one stops working.
  result<std::string> new_token(const std::string& name);

  /// Every user, by name.
  result<std::vector<user>> list() const;

  /// Sets the portal password of `name` (12 to 1024 bytes); only its scrypt is stored.
  result<void> set_password(const std::string& name, std::string_view password);

  /// The user `name` if `password` is theirs; nullopt for an unknown user, no password or a wrong
  /// one (which take as long as a right one).
  result<std::optional<user>> check_password(const std::string& name, std::string_view password) const;

  /// The user called `name`, or nullopt.
  result<std::optional<user>> find(const std::string& name) const;

  /// The user whose token this is, or nullopt.
  result<std::optional<user>> authenticate(std::string_view token) const;

private:
  node_store store_;
};

} // namespace joconde
