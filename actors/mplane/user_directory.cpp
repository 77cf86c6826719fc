#include "user_directory.hpp"

#include "joconde/runtime/clock.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/users.pb.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <chrono>

namespace joconde {

namespace {

constexpr size_t max_record = 64 * 1024;
constexpr std::string_view token_prefix = "jct_";


bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64)
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

std::string token_key(std::string_view token) {
  auto digest = crypto::sha256(crypto::to_bytes(token));
  return std::string{digest.begin(), digest.end()};
}

/// A fresh token and the key it is stored under.
std::pair<std::string, std::string> make_token() {
  auto token = std::string{token_prefix} + crypto::hex(crypto::random_bytes(32));
  return {token, token_key(token)};
}

/// One plain address: something@domain.tld, printable ASCII without spaces, quotes, brackets or
/// commas (it goes into an SMTP envelope and a header, so nothing that could inject another).
bool valid_email(std::string_view e) {
  if (e.size() > 254)
    return false;
  auto at = e.find('@');
  if (at == 0 || at == std::string_view::npos || e.find('@', at + 1) != std::string_view::npos)
    return false;
  auto domain = e.substr(at + 1);
  if (domain.empty() || domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.')
    return false;
  for (char c : e)
    if (c <= 0x20 || c >= 0x7f || std::string_view{"<>()[],;:\\\"'"}.find(c) != std::string_view::npos)
      return false;
  return true;
}

user from_record(const v1::UserRecord& rec) {
  user u;
  u.name = rec.name();
  for (auto r : rec.roles())
    if (r >= static_cast<int>(user_role::task_organiser) && r <= static_cast<int>(user_role::it_admin))
      u.roles.insert(static_cast<user_role>(r));
  u.created_at_ms = rec.created_at_ms();
  u.created_by = rec.created_by();
  u.token_issued_at_ms = rec.token_issued_at_ms();
  u.email = rec.email();
  u.has_password = !rec.password_scrypt().empty();
  return u;
}

/// Inside `txn`: the record of user `name` (not_found if none), with its current token forgotten.
result<v1::UserRecord> take_token(lmdb::write_txn& txn, const node_store& store, const std::string& name) {
  auto bytes = txn.get(store.users, name);
  if (!bytes)
    return bytes.err();
  if (!bytes->has_value())
    return fail(errc::not_found, "no user " + name + " at this node");
  auto rec = proto::parse<v1::UserRecord>(**bytes, max_record);
  if (!rec)
    return rec.err();
  if (auto r = txn.del(store.tokens, rec->token_sha256()); !r)
    return r.err();
  return rec;
}

/// The user `name` as the store holds them, or nullopt.
result<std::optional<user>> read_user(lmdb::read_txn& txn, const node_store& store, const std::string& name) {
  auto bytes = txn.get(store.users, name);
  if (!bytes)
    return bytes.err();
  if (!bytes->has_value())
    return std::optional<user>{};
  auto rec = proto::parse<v1::UserRecord>(**bytes, max_record);
  if (!rec)
    return rec.err();
  return std::optional<user>{from_record(*rec)};
}

} // namespace

const std::vector<user_role>& all_user_roles() {
  static const std::vector<user_role> roles{
    user_role::task_organiser, user_role::signatory, user_role::data_custodian,
    user_role::data_analyst,   user_role::approver,  user_role::general_manager,
    user_role::auditor,        user_role::it_admin,
  };
  return roles;
}

std::string_view to_string(user_role role) {
  switch (role) {
    case user_role::task_organiser:
      return "task_organiser";
    case user_role::signatory:
      return "signatory";
    case user_role::data_custodian:
      return "data_custodian";
    case user_role::data_analyst:
      return "data_analyst";
    case user_role::approver:
      return "approver";
    case user_role::general_manager:
      return "general_manager";
    case user_role::auditor:
      return "auditor";
    case user_role::it_admin:
      return "it_admin";
  }
  return "unknown";
}

std::optional<user_role> user_role_from_string(std::string_view name) {
  for (auto r : all_user_roles())
    if (to_string(r) == name)
      return r;
  return std::nullopt;
}

user_directory::user_directory(node_store store) : store_(std::move(store)) {
  // nop
}

result<std::string> user_directory::add(const std::string& name, const std::set<user_role>& roles,
                                        const std::string& created_by, const std::string& email) {
  if (!email.empty() && !valid_email(email))
    return fail(errc::malformed_input, "'" + email + "' is not one e-mail address (local@domain, no spaces or "
                                       "control characters, at most 254 characters)");
  if (!valid_name(name))
    return fail(errc::malformed_input,
                "a user name is 1 to 64 characters of a-z, 0-9, '.', '_' and '-'");
  if (name == admin_user_name)
    return fail(errc::already_exists, "'admin' is the node's built-in operator (admin.token)");
  if (roles.empty())
    return fail(errc::malformed_input, "a user needs at least one role");
  v1::UserRecord rec;
  rec.set_name(name);
  for (auto r : roles)
    rec.add_roles(static_cast<v1::UserRole>(r));
  rec.set_created_at_ms(now_ms());
  rec.set_created_by(created_by);
  rec.set_email(email);
  auto [token, key] = make_token();
  rec.set_token_sha256(key);
  rec.set_token_issued_at_ms(rec.created_at_ms());
  auto txn = store_.env->begin_write();
  if (!txn)
    return txn.err();
  auto fresh = txn->put_if_absent(store_.users, name, proto::serialize(rec));
  if (!fresh)
    return fresh.err();
  if (!*fresh)
    return fail(errc::already_exists, "user " + name + " exists already");
  if (auto r = txn->put(store_.tokens, key, name); !r)
    return r.err();
  if (auto r = txn->commit(); !r)
    return r.err();
  return token;
}

result<void> user_directory::remove(const std::string& name) {
  auto txn = store_.env->begin_write();
  if (!txn)
    return txn.err();
  auto rec = take_token(*txn, store_, name);
  if (!rec)
    return rec.err();
  if (auto r = txn->del(store_.users, name); !r)
    return r.err();
  return txn->commit();
}

result<std::string> user_directory::new_token(const std::string& name) {
  auto txn = store_.env->begin_write();
  if (!txn)
    return txn.err();
  auto rec = take_token(*txn, store_, name);
  if (!rec)
    return rec.err();
  auto [token, key] = make_token();
  rec->set_token_sha256(key);
  rec->set_token_issued_at_ms(now_ms());
  if (auto r = txn->put(store_.users, name, proto::serialize(*rec)); !r)
    return r.err();
  if (auto r = txn->put(store_.tokens, key, name); !r)
    return r.err();
  if (auto r = txn->commit(); !r)
    return r.err();
  return token;
}

result<std::vector<user>> user_directory::list() const {
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  std::vector<user> out;
  std::optional<error> bad;
  auto r = txn->for_each(store_.users, "", [&](std::string_view, std::string_view value) {
    auto rec = proto::parse<v1::UserRecord>(value, max_record);
    if (!rec) {
      bad = rec.err();
      return false;
    }
    out.push_back(from_record(*rec));
    return true;
  });
  if (!r)
    return r.err();
  if (bad)
    return *bad;
  return out;
}

result<std::optional<user>> user_directory::authenticate(std::string_view token) const {
  if (token.substr(0, token_prefix.size()) != token_prefix || token.size() > 256)
    return std::optional<user>{};
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  auto name = txn->get(store_.tokens, token_key(token));
  if (!name)
    return name.err();
  if (!name->has_value())
    return std::optional<user>{};
  return read_user(*txn, store_, **name);
}

namespace {

/// scrypt of `password` with `salt` (N 2^15, r 8, p 1: 32 MiB and ~0.1 s a try).
result<std::string> scrypt_of(std::string_view password, std::string_view salt) {
  std::string out(32, '\0');
  if (EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                     salt.size(), 1u << 15, 8, 1, 64u << 20, reinterpret_cast<unsigned char*>(out.data()),
                     out.size()) != 1)
    return fail(errc::crypto_failure, "scrypt failed");
  return out;
}

} // namespace

result<void> user_directory::set_password(const std::string& name, std::string_view password) {
  if (password.size() < 12 || password.size() > 1024)
    return fail(errc::malformed_input, "a portal password has 12 to 1024 characters");
  auto salt = crypto::random_bytes(16);
  std::string salt_s{salt.begin(), salt.end()};
  auto hash = scrypt_of(password, salt_s);
  if (!hash)
    return hash.err();
  auto txn = store_.env->begin_write();
  if (!txn)
    return txn.err();
  auto bytes = txn->get(store_.users, name);
  if (!bytes)
    return bytes.err();
  if (!bytes->has_value())
    return fail(errc::not_found, "no user " + name + " at this node");
  auto rec = proto::parse<v1::UserRecord>(**bytes, max_record);
  if (!rec)
    return rec.err();
  rec->set_password_scrypt(*hash);
  rec->set_password_salt(salt_s);
  rec->set_password_set_at_ms(now_ms());
  if (auto r = txn->put(store_.users, name, proto::serialize(*rec)); !r)
    return r.err();
  return txn->commit();
}

result<std::optional<user>> user_directory::check_password(const std::string& name, std::string_view password) const {
  if (password.empty() || password.size() > 1024)
    return std::optional<user>{};
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  auto bytes = txn->get(store_.users, name);
  if (!bytes)
    return bytes.err();
  std::optional<v1::UserRecord> rec;
  if (bytes->has_value())
    if (auto parsed = proto::parse<v1::UserRecord>(**bytes, max_record); parsed)
      rec = std::move(*parsed);
  // An unknown user or one without a password costs the same scrypt: no one learns who exists.
  bool usable = rec && !rec->password_scrypt().empty();
  auto hash = scrypt_of(password, usable ? rec->password_salt() : std::string(16, '\0'));
  if (!hash)
    return hash.err();
  if (!usable || !crypto::constant_time_equal(crypto::to_bytes(*hash), crypto::to_bytes(rec->password_scrypt())))
    return std::optional<user>{};
  return std::optional<user>{from_record(*rec)};
}

result<std::optional<user>> user_directory::find(const std::string& name) const {
  auto txn = store_.env->begin_read();
  if (!txn)
    return txn.err();
  return read_user(*txn, store_, name);
}

} // namespace joconde
