#pragma once

// `joconde-node user ...`: the people at a node, their roles and API tokens, managed on the node's
// data directory (LMDB allows this while the node runs).

#include "joconde/messages/result.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace joconde::users_cli {

/// Adds a user with comma-separated roles and an e-mail address (may be empty); the lines to print
/// include the token (shown once).
result<std::vector<std::string>> add(const std::filesystem::path& dir, const std::string& name,
                                     const std::string& roles, const std::string& email = {});

/// One line per user (name, roles, when added); as one JSON document with `json`.
result<std::vector<std::string>> list(const std::filesystem::path& dir, bool json);

/// Removes a user; their token stops working at once.
result<std::vector<std::string>> remove(const std::filesystem::path& dir, const std::string& name);

/// Sets a user's portal password, read from the first line of `password_file` (mode 0600).
result<std::vector<std::string>> set_password(const std::filesystem::path& dir, const std::string& name,
                                              const std::filesystem::path& password_file);

/// Issues a new token for a user (printed once); the old one stops working.
result<std::vector<std::string>> new_token(const std::filesystem::path& dir, const std::string& name);

} // namespace joconde::users_cli
