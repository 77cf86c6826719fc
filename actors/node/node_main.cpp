// joconde-node: a JOCONDE Service Node and its administration sub-commands.

#include "node_run.hpp"
#include "pki_commands.hpp"
#include "user_commands.hpp"
#include "node_config.hpp"
#include "backup.hpp"

#include "audit_commands.hpp"

#include <algorithm>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

constexpr const char* usage = R"(usage: joconde-node COMMAND [OPTIONS]

Set-up (spec §4.3.4; every command prints fingerprints to compare out of band):
  init --root --dir DIR --name NAME --domain DOMAIN --org ORG [--department DEPT] --email EMAIL
       --listen HOST:PORT --http HOST:PORT --metrics HOST:PORT [--section.key=VALUE ...]
                       root CA (key kept in DIR/offline/ for offline storage) and the root node
  init --dir DIR --name NAME --role client|computing --parent HOST:PORT --org ORG
       [--department DEPT] --email EMAIL --listen HOST:PORT --http HOST:PORT --metrics HOST:PORT
       [--section.key=VALUE ...]
                       a member node's encrypted key, certificate request and configuration;
                       --section.key=VALUE writes further keys (--vm.advertise=cp1.example.org)
  enrol --dir PARENT_DIR --csr FILE --role client|computing --out CHAIN_FILE
                       at the parent: issue the child's certificate and record the child
  install --dir DIR --chain CHAIN_FILE --root-ca ROOT_CA_FILE
                       at the child: check and install the issued chain
  trust confirm FINGERPRINT --dir DIR
                       record a fingerprint that was compared out of band
  trust remove FINGERPRINT --dir DIR
                       withdraw a confirmation (this node then commits to no CTA naming it)
  trust list --dir DIR print the confirmed fingerprints and how each was confirmed
  fingerprint --dir DIR
                       print this node's fingerprints
  rotate --dir DIR     rotate this node's key now: new key, certificate from the parent, vouched
                       for by the old key (also automatic, at the period the root sets)
  revoke --dir DIR --reason TEXT
                       revoke this node's own certificate (signed with its key)
  revoke --dir ROOT_DIR --root-mark --node FQDN --fingerprint FP --reason TEXT
                       at the root: mark another node's key as lost

People (roles: task_organiser signatory data_custodian data_analyst approver general_manager
auditor it_admin; the API checks every call against the role it needs):
  user add --dir DIR --name NAME --role ROLE[,ROLE...] [--email ADDRESS]
                       add a user; prints their API token once; with an e-mail address the
                       node tells them when a step of a CT waits for them (mail.* keys)
  user list --dir DIR [--json]
  user remove --dir DIR --name NAME
  user token --dir DIR --name NAME
                       issue a new token (printed once); the old one stops working
  user password --dir DIR --name NAME --password-file FILE
                       set the user's portal password (12 characters at least; the file's first
                       line, mode 0600); only its scrypt is stored

Operation:
  run --dir DIR [--section.key=VALUE ...]
  run --config FILE [--section.key=VALUE ...]
                       run the node until SIGTERM or SIGINT
  audit verify --dir DIR | --file FILE [--ca CA_FILE] [--node FQDN] [--head HEAD_FILE]
                       check the audit log: its hash chain, its signed checkpoints (against the
                       root CA) and the head its parent keeps (--head, from `audit heads`);
                       exit 0 only if intact, 1 if broken (the line and why), 2 if it cannot check
  audit heads --dir DIR [--node FQDN]
                       print the signed audit heads this node keeps for its children (its own
                       at the root), one line each: NODE SEQ HASH TIME KEY SIGNATURE
  backup --dir DIR --to FILE
                       back up the node (running or not) into the new FILE: its files and a
                       consistent copy of its store, encrypted under its pass phrase; never the
                       pass phrase, CT VM state or process logs
  restore --from FILE --dir DIR --passphrase-file FILE
                       restore a backup into the empty DIR; the pass phrase must open it and the
                       restored node key; then run the node as before
  config-keys          list every configuration key with its default and meaning
)";

/// Parses "--key value" and "--key=value" options; flags without value get "true".
std::optional<std::map<std::string, std::string>>
parse_options(const std::vector<std::string>& args, size_t first, std::vector<std::string>& positional,
              const std::vector<std::string>& flags) {
  std::map<std::string, std::string> out;
  for (size_t i = first; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.rfind("--", 0) != 0) {
      positional.push_back(a);
      continue;
    }
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      out[a.substr(2, eq - 2)] = a.substr(eq + 1);
      continue;
    }
    auto key = a.substr(2);
    if (std::find(flags.begin(), flags.end(), key) != flags.end()) {
      out[key] = "true";
      continue;
    }
    if (i + 1 >= args.size()) {
      std::cerr << "joconde-node: option --" << key << " needs a value\n";
      return std::nullopt;
    }
    out[key] = args[++i];
  }
  return out;
}

int print_lines(const joconde::result<std::vector<std::string>>& res) {
  if (!res) {
    std::cerr << "joconde-node: " << res.err().describe() << "\n";
    return 1;
  }
  for (const auto& line : *res)
    std::cout << line << "\n";
  return 0;
}

std::string need(const std::map<std::string, std::string>& opts, const std::string& key) {
  auto i = opts.find(key);
  return i == opts.end() ? std::string{} : i->second;
}

/// The options each command takes; `section.key` settings are taken by init and run only (and checked
/// against the configuration keys there).
const std::map<std::string, std::vector<std::string>> command_options = {
  {"init", {"root", "dir", "name", "role", "domain", "org", "department", "email", "listen", "http", "metrics",
            "parent"}},
  {"enrol", {"dir", "csr", "role", "out"}},
  {"install", {"dir", "chain", "root-ca"}},
  {"trust", {"dir"}},
  {"rotate", {"dir"}},
  {"revoke", {"dir", "reason", "root-mark", "fingerprint", "node"}},
  {"fingerprint", {"dir"}},
  {"audit", {"dir", "file", "ca", "node", "head"}},
  {"user", {"dir", "name", "role", "email", "password-file", "json"}},
  {"config-keys", {}},
  {"run", {"dir", "config"}},
  {"backup", {"dir", "to"}},
  {"restore", {"dir", "from", "passphrase-file"}},
};

/// False (saying which) if `opts` holds an option command `cmd` does not take: a mistyped option
/// is refused, never ignored.
bool known_options(const std::string& cmd, const std::map<std::string, std::string>& opts) {
  auto allowed = command_options.find(cmd);
  if (allowed == command_options.end())
    return true; // an unknown command is refused with the usage
  bool settings = cmd == "init" || cmd == "run";
  for (const auto& [key, value] : opts) {
    if (settings && key.find('.') != std::string::npos)
      continue;
    if (std::find(allowed->second.begin(), allowed->second.end(), key) == allowed->second.end()) {
      std::cerr << "joconde-node: " << cmd << " takes no option --" << key << " (see joconde-node --help)\n";
      return false;
    }
  }
  return true;
}

bool require(const std::map<std::string, std::string>& opts, std::initializer_list<const char*> keys) {
  bool ok = true;
  for (const auto* k : keys)
    if (need(opts, k).empty()) {
      std::cerr << "joconde-node: --" << k << " is required\n";
      ok = false;
    }
  return ok;
}

/// Writes a root node (--root) or a member node: keys, certificate request and configuration.
int command_init(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  joconde::pki::init_options o;
  o.dir = need(opts, "dir");
  o.name = need(opts, "name");
  o.role = need(opts, "role");
  o.domain = need(opts, "domain");
  o.organisation = need(opts, "org");
  o.department = need(opts, "department");
  o.email = need(opts, "email");
  o.listen = need(opts, "listen");
  o.http = need(opts, "http");
  o.metrics = need(opts, "metrics");
  o.parent = need(opts, "parent");
  for (const auto& [key, value] : opts)
    if (key.find('.') != std::string::npos)
      o.settings[key] = value;
  if (!require(opts, {"dir", "name", "org", "email", "listen", "http", "metrics"}))
    return 2;
  if (need(opts, "root") == "true") {
    o.role = "root";
    if (!require(opts, {"domain"}))
      return 2;
    return print_lines(joconde::pki::init_root(o));
  }
  if (!require(opts, {"role", "parent"}))
    return 2;
  return print_lines(joconde::pki::init_member(o));
}

/// At the parent: issues a child's certificate and records the child.
int command_enrol(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  if (!require(opts, {"dir", "csr", "role", "out"}))
    return 2;
  return print_lines(joconde::pki::enrol(need(opts, "dir"), need(opts, "csr"),
                                         need(opts, "role"), need(opts, "out")));
}

/// At the child: checks and installs the chain its parent issued.
int command_install(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  if (!require(opts, {"dir", "chain", "root-ca"}))
    return 2;
  return print_lines(joconde::pki::install(need(opts, "dir"), need(opts, "chain"),
                                           need(opts, "root-ca")));
}

/// Confirms, removes or lists the fingerprints compared out of band.
int command_trust(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  bool with_fp = pos.size() == 2 && (pos[0] == "confirm" || pos[0] == "remove");
  bool list = pos.size() == 1 && pos[0] == "list";
  if ((!with_fp && !list) || !require(opts, {"dir"})) {
    std::cerr << "usage: joconde-node trust confirm|remove FINGERPRINT --dir DIR\n"
                 "       joconde-node trust list --dir DIR\n";
    return 2;
  }
  if (list)
    return print_lines(joconde::pki::trust_list(need(opts, "dir")));
  return print_lines(pos[0] == "confirm" ? joconde::pki::trust_confirm(need(opts, "dir"), pos[1])
                                         : joconde::pki::trust_remove(need(opts, "dir"), pos[1]));
}

/// Rotates this node's key now.
int command_rotate(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  if (!require(opts, {"dir"}))
    return 2;
  return print_lines(joconde::pki::rotate(need(opts, "dir")));
}

/// Revokes this node's own certificate, or at the root marks another node's key as lost.
int command_revoke(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  if (!require(opts, {"dir", "reason"}))
    return 2;
  return print_lines(joconde::pki::revoke(need(opts, "dir"), need(opts, "reason"),
                                          need(opts, "root-mark") == "true",
                                          need(opts, "fingerprint"), need(opts, "node")));
}

/// Prints this node's fingerprints.
int command_fingerprint(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  if (!require(opts, {"dir"}))
    return 2;
  return print_lines(joconde::pki::show_fingerprints(need(opts, "dir")));
}

/// Verifies an audit log or prints the signed audit heads this node keeps.
int command_audit(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  const char* audit_usage =
    "usage: joconde-node audit verify --dir DIR | --file FILE [--ca CA_FILE] [--node FQDN] "
    "[--head HEAD_FILE]\n"
    "       joconde-node audit heads --dir DIR [--node FQDN]\n";
  if (pos.size() == 1 && pos[0] == "heads") {
    if (!require(opts, {"dir"}))
      return 2;
    return print_lines(joconde::audit_cli::heads(need(opts, "dir"), need(opts, "node")));
  }
  if (pos.size() != 1 || pos[0] != "verify" || (need(opts, "dir").empty() == need(opts, "file").empty())) {
    std::cerr << audit_usage;
    return 2;
  }
  auto verdict = joconde::audit_cli::verify({need(opts, "dir"), need(opts, "file"), need(opts, "ca"),
                                             need(opts, "node"), need(opts, "head")});
  if (!verdict) {
    std::cerr << "joconde-node: " << verdict.err().describe() << "\n";
    return 2;
  }
  for (const auto& line : verdict->second)
    std::cout << line << "\n";
  return verdict->first ? 0 : 1;
}

/// Adds, lists or removes the node's people, or issues one a new token.
int command_user(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  const char* user_usage = "usage: joconde-node user add|list|remove|token|password --dir DIR [--name NAME] "
                           "[--role ROLE[,ROLE...]] [--email ADDRESS] [--password-file FILE] [--json]\n";
  if (pos.size() != 1 || !require(opts, {"dir"})) {
    std::cerr << user_usage;
    return 2;
  }
  const auto& sub = pos[0];
  if (sub == "list")
    return print_lines(joconde::users_cli::list(need(opts, "dir"), need(opts, "json") == "true"));
  if (sub == "add") {
    if (!require(opts, {"name", "role"}))
      return 2;
    return print_lines(joconde::users_cli::add(need(opts, "dir"), need(opts, "name"),
                                               need(opts, "role"), need(opts, "email")));
  }
  if (sub == "password") {
    if (!require(opts, {"name", "password-file"}))
      return 2;
    return print_lines(joconde::users_cli::set_password(need(opts, "dir"), need(opts, "name"),
                                                        need(opts, "password-file")));
  }
  if (sub == "remove" || sub == "token") {
    if (!require(opts, {"name"}))
      return 2;
    return print_lines(sub == "remove"
                         ? joconde::users_cli::remove(need(opts, "dir"), need(opts, "name"))
                         : joconde::users_cli::new_token(need(opts, "dir"), need(opts, "name")));
  }
  std::cerr << user_usage;
  return 2;
}

/// Lists every configuration key with its default and meaning.
int command_config_keys(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  for (const auto& k : joconde::config_keys())
    std::cout << k.name << " (default: " << (k.default_value.empty() ? "none" : k.default_value)
              << ")\n    " << k.help << "\n";
  return 0;
}

/// Backs up the node of --dir into the new file --to (backup.hpp), while it runs or not.
int command_backup(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  if (!require(opts, {"dir", "to"}))
    return 2;
  auto done = joconde::backup::create(need(opts, "dir"), need(opts, "to"));
  if (!done) {
    std::cerr << "joconde-node: backup: " << done.err().describe() << "\n";
    return 1;
  }
  std::cout << "backed up " << done->files.size() << " files (" << done->bytes << " bytes, the store copied in one "
            << "read transaction) into " << need(opts, "to") << " (" << done->file_bytes
            << " bytes, encrypted under the node's pass phrase; the pass phrase, CT VM state and process logs "
               "are not in it)\n";
  return 0;
}

/// Restores a backup into the empty --dir with the pass phrase of --passphrase-file (backup.hpp).
int command_restore(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  if (!require(opts, {"dir", "from", "passphrase-file"}))
    return 2;
  auto done = joconde::backup::restore(need(opts, "from"), need(opts, "dir"), need(opts, "passphrase-file"));
  if (!done) {
    std::cerr << "joconde-node: restore: " << done.err().describe() << "\n";
    return 1;
  }
  std::cout << "restored " << done->files.size() << " files (" << done->bytes << " bytes) into " << need(opts, "dir")
            << "; the node key opens and the store reads: start it with joconde-node run --dir "
            << need(opts, "dir") << "\n";
  return 0;
}

/// Loads the configuration (INI file, then --section.key overrides) and runs the node.
int command_run(const std::map<std::string, std::string>& opts, const std::vector<std::string>& pos) {
  std::filesystem::path ini = need(opts, "config");
  if (ini.empty() && !need(opts, "dir").empty())
    ini = std::filesystem::path{need(opts, "dir")} / "joconde.ini";
  if (ini.empty()) {
    std::cerr << "usage: joconde-node run --dir DIR | --config FILE\n";
    return 2;
  }
  std::map<std::string, std::string> overrides;
  for (const auto& [k, v] : opts)
    if (k.find('.') != std::string::npos)
      overrides[k] = v;
  auto cfg = joconde::load_node_config(ini, overrides);
  if (!cfg) {
    std::cerr << "joconde-node: " << cfg.err().describe() << "\n";
    return 1;
  }
  return joconde::run_node(*cfg);
}

/// A sub-command: its options and its positional arguments in, its exit status out.
using command_fn = int (*)(const std::map<std::string, std::string>& opts,
                           const std::vector<std::string>& pos);

/// The sub-commands by name.
const std::map<std::string, command_fn> commands = {
  {"init", &command_init},
  {"enrol", &command_enrol},
  {"install", &command_install},
  {"trust", &command_trust},
  {"rotate", &command_rotate},
  {"revoke", &command_revoke},
  {"fingerprint", &command_fingerprint},
  {"audit", &command_audit},
  {"user", &command_user},
  {"config-keys", &command_config_keys},
  {"run", &command_run},
  {"backup", &command_backup},
  {"restore", &command_restore},
};

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args{argv, argv + argc};
  if (args.size() < 2 || args[1] == "--help" || args[1] == "-h" || args[1] == "help") {
    std::cout << usage;
    return args.size() < 2 ? 2 : 0;
  }
  const auto& cmd = args[1];
  std::vector<std::string> pos;
  auto opts = parse_options(args, 2, pos, {"root", "root-mark", "json"});
  if (!opts || !known_options(cmd, *opts))
    return 2;
  if (auto i = commands.find(cmd); i != commands.end())
    return i->second(*opts, pos);
  std::cerr << "joconde-node: unknown command '" << cmd << "'\n" << usage;
  return 2;
}
