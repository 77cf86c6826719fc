#include "user_commands.hpp"

#include "../mplane/node_store.hpp"
#include "../mplane/user_directory.hpp"
#include "pki_commands.hpp"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include <set>

namespace joconde::users_cli {

namespace {

namespace fs = std::filesystem;

constexpr uint64_t map_size = 1ull << 30;

result<user_directory> open_directory(const fs::path& dir) {
  if (!fs::exists(dir / "joconde.ini"))
    return fail(errc::invalid_config, dir.string() + " is not a node directory (no joconde.ini)");
  auto store = node_store::open(dir, map_size);
  if (!store)
    return store.err();
  return user_directory{*store};
}

std::string roles_text(const std::set<user_role>& roles) {
  std::string out;
  for (auto r : roles)
    out += (out.empty() ? "" : ",") + std::string{to_string(r)};
  return out;
}

result<std::set<user_role>> parse_roles(const std::string& csv) {
  std::set<user_role> out;
  size_t start = 0;
  while (start <= csv.size()) {
    auto comma = csv.find(',', start);
    auto item = csv.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      auto role = user_role_from_string(item);
      if (!role) {
        std::string valid;
        for (auto r : all_user_roles())
          valid += (valid.empty() ? "" : ", ") + std::string{to_string(r)};
        return fail(errc::malformed_input, "unknown role '" + item + "'; roles are " + valid);
      }
      out.insert(*role);
    }
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  if (out.empty())
    return fail(errc::malformed_input, "give at least one role with --role");
  return out;
}

} // namespace

result<std::vector<std::string>> add(const fs::path& dir, const std::string& name,
                                     const std::string& roles, const std::string& email) {
  auto set = parse_roles(roles);
  if (!set)
    return set.err();
  auto users = open_directory(dir);
  if (!users)
    return users.err();
  auto token = users->add(name, *set, "joconde-node", email);
  if (!token)
    return token.err();
  return std::vector<std::string>{"added: " + name + " (" + roles_text(*set) + ")",
                                  "token: " + *token,
                                  "the token is shown once: hand it to " + name
                                    + " over a trusted channel (joconde-node user token issues a new one)"};
}

result<std::vector<std::string>> list(const fs::path& dir, bool json) {
  auto users = open_directory(dir);
  if (!users)
    return users.err();
  auto all = users->list();
  if (!all)
    return all.err();
  if (json) {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& u : *all) {
      nlohmann::json roles = nlohmann::json::array();
      for (auto r : u.roles)
        roles.push_back(std::string{to_string(r)});
      doc.push_back({{"name", u.name}, {"roles", roles}, {"email", u.email}, {"created_at_ms", u.created_at_ms},
                     {"created_by", u.created_by}, {"token_issued_at_ms", u.token_issued_at_ms}});
    }
    return std::vector<std::string>{doc.dump()};
  }
  std::vector<std::string> lines;
  for (const auto& u : *all)
    lines.push_back(u.name + "  " + roles_text(u.roles));
  if (lines.empty())
    lines.emplace_back("no users (the node operator uses admin.token)");
  return lines;
}

result<std::vector<std::string>> remove(const fs::path& dir, const std::string& name) {
  auto users = open_directory(dir);
  if (!users)
    return users.err();
  if (auto r = users->remove(name); !r)
    return r.err();
  return std::vector<std::string>{"removed: " + name};
}

result<std::vector<std::string>> new_token(const fs::path& dir, const std::string& name) {
  auto users = open_directory(dir);
  if (!users)
    return users.err();
  auto token = users->new_token(name);
  if (!token)
    return token.err();
  return std::vector<std::string>{"token: " + *token, "the previous token of " + name + " no longer works"};
}

result<std::vector<std::string>> set_password(const fs::path& dir, const std::string& name,
                                              const fs::path& password_file) {
  auto secret = pki::read_secret(password_file);
  if (!secret)
    return secret.err();
  auto users = open_directory(dir);
  if (!users) {
    OPENSSL_cleanse(secret->data(), secret->size());
    return users.err();
  }
  auto r = users->set_password(name, *secret);
  OPENSSL_cleanse(secret->data(), secret->size());
  if (!r)
    return r.err();
  return std::vector<std::string>{"password set: " + name + " may log in to the portal with it"};
}

} // namespace joconde::users_cli
