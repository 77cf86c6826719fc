#include "pki_commands.hpp"

#include "../mplane/access_policy.hpp"

#include "../mplane/confirmations.hpp"
#include "../mplane/node_store.hpp"
#include "../mplane/revocation.hpp"
#include "../mplane/rotation.hpp"
#include "../mplane/tree_policy.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/http_client.hpp"
#include "../mplane/trust_view.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/node.pb.h"
#include "joconde/runtime/crypto.hpp"
#include "https_identity.hpp"
#include "node_config.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace joconde::pki {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr auto root_ca_validity = std::chrono::seconds{10LL * 365 * 24 * 3600};
constexpr int root_ca_path_length = 4;

/// A fresh random secret as hex (pass phrases, tokens).
std::string fresh_secret() {
  return crypto::hex(crypto::random_bytes(32));
}


bool is_label(const std::string& s) {
  return !s.empty() && s.size() <= 63 && s.front() != '-' && s.back() != '-'
         && s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
}

std::map<std::string, std::string> config_values(const init_options& o);

result<void> check_init(const init_options& o) {
  if (!is_label(o.name))
    return fail(errc::invalid_config, "--name must be a DNS label (lowercase letters, digits, '-')");
  if (o.organisation.empty() || o.email.empty())
    return fail(errc::invalid_config, "--org and --email are required (the email is a non-personal "
                                      "contact address of the organisation)");
  if (o.email.find('@') == std::string::npos)
    return fail(errc::invalid_config, "--email is not an e-mail address");
  for (auto [flag, value] : {std::pair{"--listen", &o.listen}, std::pair{"--http", &o.http},
                             std::pair{"--metrics", &o.metrics}})
    if (auto ep = parse_endpoint(*value); !ep)
      return fail(errc::invalid_config, std::string{flag} + ": " + ep.err().message);
  if (fs::exists(o.dir / "node.key"))
    return fail(errc::already_exists, (o.dir / "node.key").string()
                                        + " exists: this directory was initialised already");
  // Further keys are checked as the node will read them, before anything is written.
  if (!o.settings.empty()) {
    auto values = config_values(o);
    for (const auto& [key, value] : o.settings) {
      if (std::none_of(config_keys().begin(), config_keys().end(),
                       [&](const config_key& k) { return k.name == key; }))
        return fail(errc::invalid_config, "--" + key + ": unknown configuration key "
                                            "(joconde-node config-keys lists them)");
      if (key == "node.name" || key == "node.role" || key == "node.parent" || key == "node.listen"
          || key == "http.listen" || key == "metrics.listen")
        return fail(errc::invalid_config, "--" + key + ": give it with its own option");
    }
    values["node.data-dir"] = o.dir.string();
    if (o.role == "root")
      values.erase("node.parent");
    if (auto cfg = load_node_config({}, values); !cfg)
      return cfg.err();
  }
  return ok();
}

/// The configuration `init` writes: the keys of its options, then the further ones given.
std::map<std::string, std::string> config_values(const init_options& o) {
  std::map<std::string, std::string> ini{
    {"node.name", o.name},          {"node.role", o.role},
    {"node.data-dir", "."},         {"node.listen", o.listen},
    {"node.passphrase-file", "passphrase"},
    {"tls.certificate", "node-chain.pem"}, {"tls.key", "node.key"},
    {"tls.ca", "root-ca.pem"},      {"http.listen", o.http},
    {"http.admin-token-file", "admin.token"}, {"metrics.listen", o.metrics},
    {"log.file", "node.log.rfc5424"},
  };
  if (!o.parent.empty())
    ini["node.parent"] = o.parent;
  for (const auto& [key, value] : o.settings)
    ini[key] = value;
  return ini;
}

result<void> write_config(const init_options& o) {
  return write_ini(o.dir / "joconde.ini", config_values(o));
}

/// Creates the node directory, pass phrase, admin token and the encrypted node key.
result<crypto::private_key> make_node_key(const init_options& o) {
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  if (ec)
    return fail(errc::io_error, "cannot create " + o.dir.string() + ": " + ec.message());
  fs::permissions(o.dir, fs::perms::owner_all, ec);
  auto passphrase = fresh_secret();
  if (auto r = write_file(o.dir / "passphrase", passphrase + "\n", fs::perms::owner_read); !r)
    return r.err();
  if (auto r = write_file(o.dir / "admin.token", fresh_secret() + "\n", fs::perms::owner_read); !r)
    return r.err();
  auto key = crypto::private_key::generate();
  if (!key)
    return key.err();
  auto pem = key->to_encrypted_pem(passphrase);
  if (!pem)
    return pem.err();
  if (auto r = write_file(o.dir / "node.key", *pem, fs::perms::owner_read | fs::perms::owner_write); !r)
    return r.err();
  return key;
}

result<crypto::private_key> load_node_key(const fs::path& dir) {
  auto passphrase = read_secret(dir / "passphrase");
  if (!passphrase)
    return passphrase.err();
  auto pem = read_file(dir / "node.key");
  if (!pem)
    return pem.err();
  return crypto::private_key::from_pem(*pem, *passphrase);
}

result<std::vector<crypto::certificate>> load_chain(const fs::path& file) {
  auto pem = read_file(file);
  if (!pem)
    return pem.err();
  return crypto::certificate::chain_from_pem(*pem);
}

std::string chain_pem(const std::vector<crypto::certificate>& chain) {
  std::string out;
  for (const auto& c : chain)
    out += c.to_pem();
  return out;
}

/// The node store of the node in `dir`, opened by an offline command (LMDB grows the map to the
/// file's size when the node configured a larger one).
result<node_store> open_store(const fs::path& dir) {
  return node_store::open(dir, 1ull << 30);
}

/// The store of the node in `dir` and the canonical form of `fingerprint`, for the trust commands.
result<std::pair<node_store, std::string>> trust_store(const fs::path& dir, const std::string& fingerprint) {
  auto canonical = canonical_fingerprint(fingerprint);
  if (!canonical)
    return canonical.err();
  auto store = open_store(dir);
  if (!store)
    return store.err();
  return std::pair{std::move(*store), std::move(*canonical)};
}

} // namespace

// -- files --------------------------------------------------------------------------------------------

result<std::string> read_file(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return fail(errc::io_error, "cannot read " + file.string());
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

result<void> write_file(const fs::path& file, std::string_view content, fs::perms perms) {
  auto tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
    if (!out)
      return fail(errc::io_error, "cannot write " + tmp.string());
    std::error_code ec;
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out)
      return fail(errc::io_error, "cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::permissions(tmp, perms, ec);
  fs::rename(tmp, file, ec);
  if (ec)
    return fail(errc::io_error, "cannot rename " + tmp.string() + ": " + ec.message());
  return ok();
}

result<std::string> read_private_file(const fs::path& file) {
  struct stat st{};
  if (::stat(file.c_str(), &st) != 0)
    return fail(errc::io_error, "cannot read secret file " + file.string());
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return fail(errc::invalid_config, file.string() + " is readable by group or others: chmod 600 it");
  return read_file(file);
}

result<std::string> read_secret(const fs::path& file) {
  auto content = read_private_file(file);
  if (!content)
    return content.err();
  auto line = content->substr(0, content->find('\n'));
  if (line.empty())
    return fail(errc::invalid_config, file.string() + " is empty");
  return line;
}

// -- sub-commands -------------------------------------------------------------------------------------

result<std::vector<std::string>> init_root(const init_options& o) {
  if (auto r = check_init(o); !r)
    return r.err();
  if (o.domain.empty() || o.domain.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") != std::string::npos)
    return fail(errc::invalid_config, "--domain must be a lowercase DNS domain, e.g. joconde.test");
  auto node_key = make_node_key(o);
  if (!node_key)
    return node_key.err();
  // The root CA key lives in offline/: move that directory to offline storage after set-up.
  std::error_code ec;
  fs::create_directories(o.dir / "offline", ec);
  fs::permissions(o.dir / "offline", fs::perms::owner_all, ec);
  auto ca_key = crypto::private_key::generate();
  if (!ca_key)
    return ca_key.err();
  auto ca_pass = fresh_secret();
  if (auto r = write_file(o.dir / "offline" / "root-ca.passphrase", ca_pass + "\n", fs::perms::owner_read); !r)
    return r.err();
  auto ca_pem = ca_key->to_encrypted_pem(ca_pass);
  if (!ca_pem)
    return ca_pem.err();
  if (auto r = write_file(o.dir / "offline" / "root-ca.key", *ca_pem, fs::perms::owner_read); !r)
    return r.err();
  crypto::subject ca_subject{o.domain + " Root CA", o.organisation, o.department, o.email};
  crypto::issue_profile ca_profile;
  ca_profile.is_ca = true;
  ca_profile.path_length = root_ca_path_length;
  ca_profile.permitted_dns = {o.domain};
  ca_profile.validity = root_ca_validity;
  auto ca_cert = crypto::issue(ca_subject, {}, ca_key->public_key(), nullptr, *ca_key, ca_profile);
  if (!ca_cert)
    return ca_cert.err();
  crypto::subject node_subject{o.name, o.organisation, o.department, o.email};
  crypto::issue_profile node_profile;
  node_profile.is_ca = true;
  node_profile.path_length = root_ca_path_length - 1;
  node_profile.permitted_dns = {o.domain};
  node_profile.validity = default_certificate_lifetime;
  auto node_cert = crypto::issue(node_subject, {o.domain}, node_key->public_key(), &*ca_cert,
                                 *ca_key, node_profile);
  if (!node_cert)
    return node_cert.err();
  if (auto r = write_file(o.dir / "root-ca.pem", ca_cert->to_pem(), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read); !r)
    return r.err();
  if (auto r = write_file(o.dir / "node-chain.pem", node_cert->to_pem(), fs::perms::owner_read | fs::perms::owner_write); !r)
    return r.err();
  auto opts = o;
  opts.role = "root";
  opts.parent.clear();
  if (auto r = write_config(opts); !r)
    return r.err();
  return std::vector<std::string>{
    "root CA: " + ca_cert->subject().common_name,
    "root CA fingerprint: " + ca_cert->fingerprint(),
    "node: " + o.name + " (" + o.domain + ")",
    "fingerprint: " + node_cert->fingerprint(),
    "the root CA key is in " + (o.dir / "offline").string()
      + "/ : move that directory to offline storage",
  };
}

result<std::vector<std::string>> init_member(const init_options& o) {
  if (auto r = check_init(o); !r)
    return r.err();
  if (o.role != "client" && o.role != "computing")
    return fail(errc::invalid_config, "--role must be client or computing");
  if (auto ep = parse_endpoint(o.parent); !ep)
    return fail(errc::invalid_config, "--parent: " + ep.err().message);
  auto key = make_node_key(o);
  if (!key)
    return key.err();
  crypto::subject subject{o.name, o.organisation, o.department, o.email};
  auto csr = crypto::certificate_request::create(*key, subject, o.name);
  if (!csr)
    return csr.err();
  if (auto r = write_file(o.dir / "node.csr.pem", csr->to_pem(), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read); !r)
    return r.err();
  if (auto r = write_config(o); !r)
    return r.err();
  return std::vector<std::string>{
    "request: " + (o.dir / "node.csr.pem").string(),
    "fingerprint: " + key->public_key().fingerprint(),
    "give the request to the parent's IT administrator: joconde-node enrol --dir PARENT_DIR --csr "
    "node.csr.pem --role " + o.role + " --out issued-chain.pem",
  };
}

result<std::vector<std::string>> enrol(const fs::path& parent_dir, const fs::path& csr_file,
                                       const std::string& role, const fs::path& out) {
  if (role != "client" && role != "computing")
    return fail(errc::invalid_config, "--role must be client or computing");
  auto csr_pem = read_file(csr_file);
  if (!csr_pem)
    return csr_pem.err();
  auto csr = crypto::certificate_request::from_pem(*csr_pem);
  if (!csr)
    return csr.err();
  if (auto r = csr->verify_signature(); !r)
    return r.err();
  auto subject = csr->subject();
  if (!is_label(subject.common_name))
    return fail(errc::malformed_input, "the request's common name '" + subject.common_name
                                         + "' is not a DNS label");
  // The access policy of the enrolling node: which roles it may hand out.
  auto parent_cfg = load_node_config(parent_dir / "joconde.ini", {});
  if (!parent_cfg)
    return parent_cfg.err();
  access_policy policy{parent_cfg->name, role_from_string(parent_cfg->role)};
  if (auto d = policy.may_enrol(role_from_string(role)); !d)
    return fail(errc::forbidden, d.reason + " (rule " + d.rule + ")");
  auto key = load_node_key(parent_dir);
  if (!key)
    return key.err();
  auto chain = load_chain(parent_dir / "node-chain.pem");
  if (!chain)
    return chain.err();
  const auto& parent_cert = chain->front();
  if (!parent_cert.is_ca())
    return fail(errc::constraint_violation, "this node's certificate may not issue certificates");
  auto parent_names = parent_cert.dns_names();
  if (parent_names.empty())
    return fail(errc::untrusted_chain, "this node's certificate names no DNS identity");
  auto fqdn = subject.common_name + "." + parent_names.front();
  auto store = open_store(parent_dir);
  if (!store)
    return store.err();
  {
    auto txn = store->env->begin_read();
    if (!txn)
      return txn.err();
    if (auto r = refuse_revoked_key(*txn, *store, csr->public_key()); !r)
      return r.err();
    auto existing = txn->get(store->children, fqdn);
    if (!existing)
      return existing.err();
    if (existing->has_value())
      return fail(errc::already_exists, fqdn + " is enrolled already; revoke it first to replace it");
  }
  // As long as the root's rules say (the policy this node holds; at the root, its configuration).
  auto lifetime = parent_cfg->certificate_lifetime;
  if (parent_cfg->role != "root") {
    lifetime = default_certificate_lifetime;
    auto txn = store->env->begin_read();
    if (!txn)
      return txn.err();
    auto held = stored_tree_policy(*txn, *store);
    if (!held)
      return held.err();
    if (held->has_value())
      lifetime = (*held)->second.certificate_lifetime;
  }
  auto cert = crypto::issue(subject, {fqdn}, csr->public_key(), &parent_cert, *key,
                            child_issue_profile(parent_cert, fqdn, lifetime));
  if (!cert)
    return cert.err();
  std::vector<crypto::certificate> issued{*cert};
  issued.insert(issued.end(), chain->begin(), chain->end());
  if (auto r = write_file(out, chain_pem(issued), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read); !r)
    return r.err();
  v1::NodeIdentity id;
  id.set_name(subject.common_name);
  id.set_fqdn(fqdn);
  id.set_role(role == "computing" ? v1::ROLE_COMPUTING : v1::ROLE_CLIENT);
  for (const auto& c : issued) {
    auto der = c.to_der();
    id.mutable_chain()->add_certificates(std::string{der.begin(), der.end()});
  }
  id.set_fingerprint(cert->fingerprint());
  id.set_enrolled_at_ms(now_ms());
  auto txn = store->env->begin_write();
  if (!txn)
    return txn.err();
  if (auto r = txn->put(store->children, fqdn, proto::serialize(id)); !r)
    return r.err();
  if (auto r = txn->commit(); !r)
    return r.err();
  return std::vector<std::string>{"issued: " + fqdn + " (" + role + ")",
                                  "fingerprint: " + cert->fingerprint(),
                                  "chain written to " + out.string()};
}

result<std::vector<std::string>> install(const fs::path& dir, const fs::path& chain_file,
                                         const fs::path& root_ca_file) {
  auto key = load_node_key(dir);
  if (!key)
    return key.err();
  auto chain = load_chain(chain_file);
  if (!chain)
    return chain.err();
  auto root_pem = read_file(root_ca_file);
  if (!root_pem)
    return root_pem.err();
  auto root = crypto::certificate::from_pem(*root_pem);
  if (!root)
    return root.err();
  if (chain->front().public_key().to_der() != key->public_key().to_der())
    return fail(errc::unknown_peer, "the issued certificate is not for this node's key");
  std::vector<crypto::certificate> intermediates{chain->begin() + 1, chain->end()};
  if (auto r = crypto::verify_chain(chain->front(), intermediates, *root,
                                    std::chrono::system_clock::now());
      !r)
    return r.err();
  if (auto r = write_file(dir / "node-chain.pem", chain_pem(*chain), fs::perms::owner_read | fs::perms::owner_write); !r)
    return r.err();
  if (auto r = write_file(dir / "root-ca.pem", root->to_pem(), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read); !r)
    return r.err();
  std::error_code ec;
  fs::remove(dir / "node.csr.pem", ec);
  auto names = chain->front().dns_names();
  return std::vector<std::string>{"installed: " + (names.empty() ? std::string{"?"} : names.front()),
                                  "fingerprint: " + chain->front().fingerprint(),
                                  "root CA fingerprint: " + root->fingerprint()};
}

result<std::vector<std::string>> trust_confirm(const fs::path& dir, const std::string& fingerprint) {
  auto opened = trust_store(dir, fingerprint);
  if (!opened)
    return opened.err();
  auto& [store, canonical] = *opened;
  if (auto r = confirm_fingerprint(store, canonical, now_ms()); !r)
    return r.err();
  return std::vector<std::string>{"trusted: " + canonical};
}

result<std::vector<std::string>> trust_remove(const fs::path& dir, const std::string& fingerprint) {
  auto opened = trust_store(dir, fingerprint);
  if (!opened)
    return opened.err();
  auto& [store, canonical] = *opened;
  auto removed = remove_confirmation(store, canonical);
  if (!removed)
    return removed.err();
  return std::vector<std::string>{
    "no longer trusted: " + canonical,
    "CTAs naming its node now show it unconfirmed, and this node submits no CTSA for them until it "
    "is confirmed again (joconde-node trust confirm) or overridden (joconde cta override)"};
}

result<std::vector<std::string>> trust_list(const fs::path& dir) {
  auto store = open_store(dir);
  if (!store)
    return store.err();
  auto txn = store->env->begin_read();
  if (!txn)
    return txn.err();
  std::vector<std::string> lines;
  auto r = txn->for_each(store->trusted, "", [&](std::string_view fp, std::string_view value) {
    auto c = decode_confirmation(value);
    lines.push_back(std::string{fp} + (c.rotated_from.empty() ? " confirmed out of band"
                                                              : " rotated from " + c.rotated_from)
                    + " at " + std::to_string(c.at_ms) + " ms");
    return true;
  });
  if (!r)
    return r.err();
  if (lines.empty())
    lines.push_back("no fingerprint is confirmed at this node");
  return lines;
}

result<std::vector<std::string>> revoke(const fs::path& dir, const std::string& reason,
                                        bool root_mark, const std::string& fingerprint,
                                        const std::string& fqdn) {
  if (reason.empty())
    return fail(errc::invalid_config, "--reason is required: say why the certificate is revoked");
  auto cfg = load_node_config(dir / "joconde.ini", {});
  if (!cfg)
    return cfg.err();
  auto key = load_node_key(dir);
  if (!key)
    return key.err();
  auto chain = load_chain(cfg->certificate);
  if (!chain)
    return chain.err();
  std::vector<std::string> chain_der;
  for (const auto& c : *chain) {
    auto der = c.to_der();
    chain_der.emplace_back(der.begin(), der.end());
  }
  auto own_names = chain->front().dns_names();
  std::string target_fp = fingerprint;
  std::string target_fqdn = fqdn;
  if (root_mark) {
    if (cfg->role != "root")
      return fail(errc::forbidden, "only the root node may mark another node's key as lost");
    if (fingerprint.empty() || fqdn.empty())
      return fail(errc::invalid_config, "--root-mark needs --node FQDN and --fingerprint FP");
  } else {
    target_fp = chain->front().fingerprint();
    target_fqdn = own_names.empty() ? std::string{} : own_names.front();
    if (!fingerprint.empty() && fingerprint != target_fp)
      return fail(errc::forbidden, "a node can only revoke its own certificate (" + target_fp
                                     + "); the root marks lost keys with --root-mark");
  }
  memory_signer signer{std::move(*key)};
  auto bytes = make_revocation(target_fqdn, target_fp, reason, root_mark, chain_der, signer,
                               std::chrono::system_clock::now());
  if (!bytes)
    return bytes.err();
  auto token = read_secret(cfg->admin_token_file);
  if (!token)
    return token.err();
  nlohmann::json body{{"revocation_hex", crypto::hex(crypto::to_bytes(*bytes))}};
  auto res = call_own_api(*cfg, "POST", "/v1/revocations", body.dump(), *token);
  if (!res)
    return fail(res.err().code, "the node must be running to apply and spread the revocation: "
                                  + res.err().message);
  if (res->status != 200)
    return fail(errc::forbidden, "the node refused the revocation: " + res->body);
  return std::vector<std::string>{"revoked: " + target_fqdn, "fingerprint: " + target_fp,
                                  "the revocation is spreading through the tree"};
}

result<http::response> call_own_api(const node_config& cfg, const std::string& method,
                                    const std::string& path, std::string body, const std::string& token) {
  // This host reaches its own node at the bind address (loopback for a wildcard); the chain the
  // node serves (DATA_DIR/http-chain.pem, written at every start) is the trust anchor.
  auto host = cfg.http_listen.host;
  if (net::is_wildcard(host))
    host = net::is_ipv6_literal(host) ? "::1" : "127.0.0.1";
  http::client_options options;
  options.timeout = std::chrono::seconds{15};
  if (cfg.http_tls)
    options.ca_file = (cfg.data_dir / https_chain_file).string();
  auto url = std::string{cfg.http_tls ? "https://" : "http://"} + net::bracketed(host) + ":"
             + std::to_string(cfg.http_listen.port);
  return http::client::send(url, method, path, std::move(body), token, options);
}

result<std::vector<std::string>> rotate(const fs::path& dir) {
  auto cfg = load_node_config(dir / "joconde.ini", {});
  if (!cfg)
    return cfg.err();
  auto token = read_secret(cfg->admin_token_file);
  if (!token)
    return token.err();
  auto res = call_own_api(*cfg, "POST", "/v1/rotate", "{}", *token);
  if (!res)
    return fail(res.err().code, "the node must be running to rotate its key: " + res.err().message);
  auto doc = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status != 202 || doc.is_discarded())
    return fail(errc::invalid_state, "the node refused: " + res->body);
  return std::vector<std::string>{doc.value("rotation", std::string{}),
                                  "the new certificate is installed when the parent answers; "
                                  "`joconde-node fingerprint --dir DIR` shows it"};
}

result<std::vector<std::string>> show_fingerprints(const fs::path& dir) {
  auto chain = load_chain(dir / "node-chain.pem");
  if (!chain)
    return chain.err();
  auto root_pem = read_file(dir / "root-ca.pem");
  if (!root_pem)
    return root_pem.err();
  auto root = crypto::certificate::from_pem(*root_pem);
  if (!root)
    return root.err();
  auto names = chain->front().dns_names();
  return std::vector<std::string>{"node: " + (names.empty() ? std::string{"?"} : names.front()),
                                  "fingerprint: " + chain->front().fingerprint(),
                                  "root CA fingerprint: " + root->fingerprint()};
}

} // namespace joconde::pki
