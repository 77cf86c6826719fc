#include "node_config.hpp"

#include "oidc_login.hpp"

#include "../mplane/tree_policy.hpp"

#include "joconde/messages/text.hpp"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

namespace joconde {

namespace fs = std::filesystem;

result<endpoint> parse_endpoint(std::string_view text) {
  return net::parse_host_port(text);
}

std::string node_config::api_url() const {
  std::string host = http_listen.host;
  std::uint16_t port = http_listen.port;
  if (!http_advertise.empty()) {
    auto first = http_advertise.front();
    if (auto hp = net::parse_host_port(first)) {
      host = hp->host;
      port = hp->port;
    } else {
      host = first;
    }
  } else if (net::is_wildcard(host)) {
    host = net::is_ipv6_literal(host) ? "::1" : "127.0.0.1";
  }
  return std::string{http_tls ? "https://" : "http://"} + net::bracketed(host) + ":" + std::to_string(port);
}

// Long because it is the table: every configuration key, its default and its help text.
const std::vector<config_key>& config_keys() {
  static const std::vector<config_key> keys{
    {"node.name", "", "short name of this node, the first label of its DNS name (cp1)"},
    {"node.role", "", "root, client or computing"},
    {"node.data-dir", ".", "directory of the LMDB store and the audit log"},
    {"node.listen", "", "host:port where child nodes connect over mutual TLS"},
    {"node.advertise", "", "host:port children reach node.listen at (configure it as their "
                           "node.parent); empty: node.listen"},
    {"node.parent", "", "host:port of the parent node; empty only at the root"},
    {"node.passphrase-file", "passphrase", "file holding the pass phrase of the node key"},
    {"tls.certificate", "node-chain.pem", "node certificate followed by its intermediates (PEM)"},
    {"tls.key", "node.key", "encrypted PKCS#8 node private key (PEM)"},
    {"tls.ca", "root-ca.pem", "root CA certificate, the only trust anchor (PEM)"},
    {"http.listen", "", "host:port of the health endpoint and JSON API (HTTPS)"},
    {"http.advertise", "", "comma-separated host names or addresses (host or host:port) people and "
                           "scripts reach the API at; the first makes the API URL; all are named in "
                           "the node-issued HTTPS certificate; empty: the host of http.listen"},
    {"http.tls", "on", "on: HTTPS with TLS 1.3 only; off: plain HTTP, allowed only when http.listen "
                       "is a loopback address"},
    {"http.certificate", "", "the API's HTTPS certificate chain (PEM, leaf first) from the operator's "
                             "CA; empty: the node issues one from its own key at every start"},
    {"http.key", "", "the private key of http.certificate (PEM, unencrypted, mode 0600); only with "
                     "http.certificate"},
    {"http.admin-token-file", "admin.token", "file holding the bearer token of the node admin"},
    {"portal.enabled", "auto", "on: serve the web portal (/portal/) and its log-in on the API's "
                               "listener (needs http.tls on); off: the API only; auto: on at root and "
                               "client nodes with HTTPS, off at computing nodes (they have no people)"},
    {"portal.session-idle-seconds", "900", "a portal session ends after this many seconds without a "
                                           "call"},
    {"portal.session-lifetime-seconds", "28800", "a portal session ends this many seconds after "
                                                 "log-in, used or not"},
    {"portal.max-sessions", "1000", "portal sessions live at once; one more ends the least recently "
                                    "used"},
    {"mail.relay", "", "host:port of the SMTP relay the node's e-mails go through (a step waits for "
                       "someone, an upload was refused, a CT was cancelled or finished); empty: none"},
    {"mail.tls", "starttls", "starttls: STARTTLS is required on the relay's port (587); implicit: TLS "
                             "from the first byte (465); there is no plain-text mode"},
    {"mail.ca", "", "PEM file of the CA certificates the relay's certificate is checked against; empty: "
                    "the system's"},
    {"mail.user", "", "user name at the relay; empty: no authentication"},
    {"mail.password-file", "", "file holding the relay password of mail.user (mode 0600)"},
    {"mail.from", "", "sender address of the node's e-mails; empty: joconde@ the node's FQDN"},
    {"mail.portal-url", "", "https://host:port people open the portal at, for the e-mails' links; "
                            "empty: the API URL"},
    {"oidc.issuer", "", "https URL of the organisation's OpenID Connect provider (its discovery document is "
                        "ISSUER/.well-known/openid-configuration; TLS 1.3); empty: no log-in through it"},
    {"oidc.client-id", "", "this node's client id at the provider"},
    {"oidc.client-secret-file", "", "file holding the client secret (mode 0600)"},
    {"oidc.ca", "", "PEM file of the CA certificates the provider's certificate is checked against; "
                    "empty: the system's (/etc/ssl/certs/ca-certificates.crt)"},
    {"oidc.redirect-url", "", "the node's callback as registered at the provider; empty: "
                              "mail.portal-url or the API URL, + /v1/oidc/callback"},
    {"oidc.scopes", "openid email profile", "the scopes asked for (openid among them)"},
    {"oidc.groups", "", "which provider groups give which roles: GROUP:role, GROUP:role (a group may "
                        "appear with several roles); a person with none of them is refused"},
    {"oidc.groups-claim", "groups", "the ID token claim listing the person's groups"},
    {"oidc.name-claim", "preferred_username", "the ID token claim naming the person (else sub); they "
                                              "appear as oidc:NAME"},
    {"oidc.label", "your organisation's identity provider", "the log-in button says Log in with LABEL"},
    {"metrics.listen", "", "host:port of the Prometheus endpoint (/metrics)"},
    {"metrics.tls", "off", "on: serve /metrics over HTTPS with the API's certificate; off: plain HTTP "
                           "(metrics carry no secrets and no token)"},
    {"storage.map-size", "1073741824", "LMDB map size in bytes (upper bound of the store)"},
    {"broker.window", "4096", "envelopes in flight per neighbour before waiting for acks"},
    {"broker.frame-envelopes", "256", "envelopes per link frame"},
    {"broker.retry-after-ms", "5000", "resend unacknowledged envelopes after this many ms"},
    {"broker.retry-max-ms", "300000", "longest wait between resends: the wait doubles after each "
                                      "resend that goes unacknowledged, up to this; an ack resets it"},
    {"broker.commit-delay-ms", "5", "longest wait of an envelope published here or passing through for its durable commit here (it is forwarded at once); 0: commit at once"},
    {"broker.max-envelope-bytes", "4259840", "largest signed envelope accepted"},
    {"link.reconnect-min-ms", "200", "first delay before reconnecting to the parent"},
    {"link.reconnect-max-ms", "5000", "largest delay between reconnection attempts"},
    {"link.request-timeout-ms", "5000", "timeout of every request to another node"},
    {"audit.checkpoint-seconds", "60", "seconds between signed checkpoints of the audit log (made only "
                                       "when records were added, and at a clean stop); each goes to "
                                       "the parent, which keeps the latest"},
    {"log.file", "", "operational log file (RFC 5424); empty: standard error"},
    {"log.level", "info", "debug, info, notice, warning or error"},
    {"pki.rotation-period-seconds", "", "root only: nodes of the tree rotate their key when their "
                                        "certificate is this old; empty: 15724800 (26 weeks). Other "
                                        "nodes take it from the root (pki.policy)"},
    {"pki.certificate-lifetime-days", "", "root only: how long node certificates are issued for in the "
                                          "tree, at least twice the rotation period; empty: 730. Other "
                                          "nodes take it from the root (pki.policy)"},
    {"tee.provisioner", "process", "how a computing node starts CT VMs: process (through joconde-sp, "
                                   "the simulated secure processor) or inproc (in a thread; tests)"},
    {"tee.sp-binary", "", "joconde-sp program; empty: joconde-sp next to the joconde-node program"},
    {"tee.vm-binary", "", "joconde-vm program, the CT VM image that is measured; empty: joconde-vm "
                          "next to the joconde-node program"},
    {"tee.platform-dir", "", "simulated TEE platform keys made by `joconde-sp init` (computing "
                             "nodes); empty: DATA_DIR/tee-platform"},
    {"tee.image-config", "", "image configuration of joconde-vm, measured with it (trusted platform "
                             "roots); empty: DATA_DIR/vm-image.conf"},
    {"tee.trusted-roots", "", "PEM bundle of the TEE platform root certificates this node trusts "
                              "when it attests CT VMs; empty: DATA_DIR/tee-roots.pem"},
    {"vm.bind", "127.0.0.1", "computing nodes: bind address of every CT VM's client, peer and MPC "
                             "endpoints (0.0.0.0 or :: for every interface)"},
    {"vm.advertise", "", "computing nodes: host name or address clients and the other CPs' VMs reach "
                         "those endpoints at; empty: vm.bind (required when vm.bind is a wildcard)"},
    {"vm.admin-bind", "127.0.0.1", "computing nodes: bind address of every CT VM's admin endpoint, "
                                   "which only this node uses"},
    {"vm.ports", "20000-20999", "computing nodes: FIRST-LAST, the TCP ports CT VMs listen on (4 per "
                                "VM; open them in the firewall for the other CPs and the clients); "
                                "any: ports the kernel chooses"},
  };
  return keys;
}

namespace {

/// An INI value or name: `s` without blanks (CR too) around it and one pair of double quotes.
std::string trim(std::string_view s) {
  auto out = std::string{text::trim(s, " \t\r")};
  if (out.size() >= 2 && out.front() == '"' && out.back() == '"')
    out = out.substr(1, out.size() - 2);
  return out;
}

result<std::map<std::string, std::string>> read_ini(const fs::path& file) {
  std::ifstream in{file};
  if (!in)
    return fail(errc::invalid_config, "cannot read configuration file " + file.string());
  std::map<std::string, std::string> out;
  std::string line;
  std::string section;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    auto t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';')
      continue;
    if (t.front() == '[') {
      if (t.back() != ']')
        return fail(errc::invalid_config, file.string() + ":" + std::to_string(lineno)
                                            + ": unterminated section header");
      section = trim(t.substr(1, t.size() - 2));
      continue;
    }
    auto eq = t.find('=');
    if (eq == std::string::npos || section.empty())
      return fail(errc::invalid_config, file.string() + ":" + std::to_string(lineno)
                                          + ": expected key = value inside a [section]");
    out[section + "." + trim(t.substr(0, eq))] = trim(t.substr(eq + 1));
  }
  return out;
}

/// JOCONDE_BROKER_RETRY_AFTER_MS -> broker.retry-after-ms
std::string env_name(const std::string& key) {
  std::string out = "JOCONDE_";
  for (char c : key)
    out.push_back(c == '.' || c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  return out;
}

template <class T>
result<T> parse_uint(const std::string& key, const std::string& text, T lo, T hi) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    return fail(errc::invalid_config, key + " must be a whole number, got '" + text + "'");
  unsigned long long v = 0;
  try {
    v = std::stoull(text);
  } catch (...) {
    return fail(errc::invalid_config, key + " is out of range");
  }
  if (v < lo || v > hi)
    return fail(errc::invalid_config, key + " must be between " + std::to_string(lo) + " and "
                                        + std::to_string(hi) + ", got " + text);
  return static_cast<T>(v);
}

result<bool> on_off(const std::string& key, const std::string& text) {
  if (text == "on")
    return true;
  if (text == "off")
    return false;
  return fail(errc::invalid_config, key + " must be on or off, got '" + text.substr(0, 64) + "'");
}

/// The comma-separated hosts (or host:port) of http.advertise, trimmed.
result<std::vector<std::string>> advertised_hosts(const std::string& text) {
  std::vector<std::string> out;
  std::string_view rest = text;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (item.empty())
      continue;
    auto host = item;
    if (auto hp = net::parse_host_port(item))
      host = hp->host;
    else if (!item.empty() && item.front() == '[' && item.back() == ']')
      host = item.substr(1, item.size() - 2);
    if (!net::is_valid_host(host) || net::is_wildcard(host))
      return fail(errc::invalid_config, "http.advertise: '" + item.substr(0, 100)
                                          + "' is not a host name, an address or host:port");
    if (out.size() == 16)
      return fail(errc::invalid_config, "http.advertise names more than 16 hosts");
    out.push_back(item);
  }
  return out;
}

/// [http]: TLS 1.3 unless the operator asked for plain HTTP on a loopback listener.
template <class Path>
result<void> load_http(std::map<std::string, std::string>& values, const Path& path, node_config& cfg) {
  auto adv = advertised_hosts(values["http.advertise"]);
  if (!adv)
    return adv.err();
  cfg.http_advertise = std::move(*adv);
  auto tls = on_off("http.tls", values["http.tls"]);
  if (!tls)
    return tls.err();
  cfg.http_tls = *tls;
  if (!cfg.http_tls && !net::is_loopback(cfg.http_listen.host))
    return fail(errc::invalid_config, "http.tls = off is allowed only on a loopback listener, and "
                                      "http.listen = " + cfg.http_listen.text()
                                        + " is not one: API tokens would cross the network in clear. "
                                          "Keep http.tls = on (the default)");
  cfg.http_certificate = path("http.certificate");
  cfg.http_key = path("http.key");
  if (cfg.http_certificate.empty() != cfg.http_key.empty())
    return fail(errc::invalid_config, "http.certificate and http.key go together: give both, or "
                                      "neither to let the node issue its HTTPS certificate");
  if (!cfg.http_tls && !cfg.http_certificate.empty())
    return fail(errc::invalid_config, "http.certificate is set but http.tls is off");
  return ok();
}

/// [vm]: where a Computing Party's CT VMs listen and how others reach them.
result<void> load_vm(std::map<std::string, std::string>& values, node_config& cfg) {
  auto host = [&](const char* key, bool required) -> result<std::string> {
    const auto& v = values[key];
    if (v.empty() && !required)
      return std::string{};
    auto h = v;
    if (h.size() > 2 && h.front() == '[' && h.back() == ']')
      h = h.substr(1, h.size() - 2);
    if (!net::is_valid_host(h))
      return fail(errc::invalid_config, std::string{key} + " must be an IP address or a host name "
                                          "(no port), got '" + v.substr(0, 100) + "'");
    return h;
  };
  auto bind = host("vm.bind", true);
  if (!bind)
    return bind.err();
  auto advertise = host("vm.advertise", false);
  if (!advertise)
    return advertise.err();
  auto admin = host("vm.admin-bind", true);
  if (!admin)
    return admin.err();
  cfg.vm_bind = *bind;
  cfg.vm_advertise = advertise->empty() ? *bind : *advertise;
  cfg.vm_admin_bind = *admin;
  if (net::is_wildcard(cfg.vm_advertise) && cfg.role == "computing")
    return fail(errc::invalid_config, "vm.bind is the wildcard " + cfg.vm_bind + ": set vm.advertise to "
                                      "the host name or address the clients and the other CPs reach "
                                      "this node's CT VMs at");
  if (values["vm.ports"] == "any") {
    cfg.vm_ports = {};
  } else {
    auto ports = net::parse_port_range(values["vm.ports"]);
    if (!ports)
      return fail(errc::invalid_config, "vm.ports: " + ports.err().message);
    if (ports->size() < 4)
      return fail(errc::invalid_config, "vm.ports = " + ports->text() + " holds " + std::to_string(ports->size())
                                          + " port(s); one CT VM needs 4 (client, peer, MPC, admin)");
    cfg.vm_ports = *ports;
  }
  return ok();
}

/// Resolves a path-valued key: empty stays empty, a relative path starts at the INI file's directory.
struct path_of {
  std::map<std::string, std::string>& values;
  fs::path base;

  /// The path `key` names, absolute unless it is empty.
  fs::path operator()(const std::string& key) const {
    const auto& v = values[key];
    if (v.empty())
      return {};
    fs::path p{v};
    return p.is_absolute() ? p : base / p;
  }
};

/// Every configuration key with its default: the lowest layer.
std::map<std::string, std::string> default_values() {
  std::map<std::string, std::string> values;
  for (const auto& k : config_keys())
    values[k.name] = k.default_value;
  return values;
}

/// The INI layer: `ini_file`'s keys over `values`; returns the directory relative paths start from.
result<fs::path> read_ini_layer(const fs::path& ini_file, std::map<std::string, std::string>& values) {
  fs::path base = fs::current_path();
  if (!ini_file.empty()) {
    auto ini = read_ini(ini_file);
    if (!ini)
      return ini.err();
    base = fs::absolute(ini_file).parent_path();
    for (auto& [k, v] : *ini)
      values[k] = v;
  }
  return base;
}

/// The environment layer: JOCONDE_BROKER_RETRY_AFTER_MS over the INI file's broker.retry-after-ms.
void read_environment_layer(std::map<std::string, std::string>& values) {
  for (const auto& k : config_keys())
    if (const char* env = std::getenv(env_name(k.name).c_str()))
      values[k.name] = env;
}

/// The overrides layer (the command line's --section.key=VALUE), over everything else.
void apply_overrides(std::map<std::string, std::string>& values,
                     const std::map<std::string, std::string>& overrides) {
  for (auto& [k, v] : overrides)
    values[k] = v;
}

/// Refuses a key no configuration option has (a mistyped key is never ignored).
result<void> check_known_keys(const std::map<std::string, std::string>& values) {
  for (const auto& [k, v] : values) {
    bool known = false;
    for (const auto& key : config_keys())
      known = known || key.name == k;
    if (!known)
      return fail(errc::invalid_config, "unknown configuration key '" + k
                                          + "' (joconde-node config-keys lists them)");
  }
  return ok();
}

/// [node] and [tls]: the name, role, data directory, endpoints, parent and key files.
result<void> load_node(std::map<std::string, std::string>& values, const path_of& path, node_config& cfg) {
  cfg.name = values["node.name"];
  if (cfg.name.empty() || cfg.name.size() > 63
      || cfg.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
    return fail(errc::invalid_config,
                "node.name must be a DNS label (lowercase letters, digits, '-'), got '" + cfg.name + "'");
  cfg.role = values["node.role"];
  if (cfg.role != "root" && cfg.role != "client" && cfg.role != "computing")
    return fail(errc::invalid_config, "node.role must be root, client or computing, got '" + cfg.role + "'");
  cfg.data_dir = path("node.data-dir");
  auto listen = parse_endpoint(values["node.listen"]);
  if (!listen)
    return fail(errc::invalid_config, "node.listen: " + listen.err().message);
  cfg.listen = *listen;
  cfg.advertise = cfg.listen;
  if (!values["node.advertise"].empty()) {
    auto adv = parse_endpoint(values["node.advertise"]);
    if (!adv)
      return fail(errc::invalid_config, "node.advertise: " + adv.err().message);
    if (net::is_wildcard(adv->host))
      return fail(errc::invalid_config, "node.advertise names the wildcard " + adv->host
                                          + ": give the host name or address children connect to");
    cfg.advertise = *adv;
  }
  cfg.parent = values["node.parent"];
  if (cfg.role == "root" && !cfg.parent.empty())
    return fail(errc::invalid_config, "the root node has no parent: leave node.parent empty");
  if (cfg.role != "root") {
    if (auto p = parse_endpoint(cfg.parent); !p)
      return fail(errc::invalid_config, "node.parent: " + p.err().message);
  }
  cfg.passphrase_file = path("node.passphrase-file");
  cfg.certificate = path("tls.certificate");
  cfg.key = path("tls.key");
  cfg.ca = path("tls.ca");
  return ok();
}

/// [http] and [metrics]: the API's and the metrics' listeners and their TLS.
result<void> load_listeners(std::map<std::string, std::string>& values, const path_of& path,
                            node_config& cfg) {
  auto http = parse_endpoint(values["http.listen"]);
  if (!http)
    return fail(errc::invalid_config, "http.listen: " + http.err().message);
  cfg.http_listen = *http;
  if (auto r = load_http(values, path, cfg); !r)
    return r.err();
  cfg.admin_token_file = path("http.admin-token-file");
  auto metrics = parse_endpoint(values["metrics.listen"]);
  if (!metrics)
    return fail(errc::invalid_config, "metrics.listen: " + metrics.err().message);
  cfg.metrics_listen = *metrics;
  auto metrics_tls = on_off("metrics.tls", values["metrics.tls"]);
  if (!metrics_tls)
    return metrics_tls.err();
  cfg.metrics_tls = *metrics_tls;
  if (cfg.metrics_tls && !cfg.http_tls)
    return fail(errc::invalid_config, "metrics.tls = on needs the API's certificate: http.tls is off");
  return ok();
}

/// [pki]: the root's rules for its tree (tree_policy.hpp); refused anywhere else, where they would
/// mislead: a node rotates as its root says.
result<void> load_tree_rules(std::map<std::string, std::string>& values, node_config& cfg) {
  const auto& period = values["pki.rotation-period-seconds"];
  const auto& lifetime = values["pki.certificate-lifetime-days"];
  if (cfg.role != "root") {
    if (!period.empty() || !lifetime.empty())
      return fail(errc::invalid_config, "pki.rotation-period-seconds and pki.certificate-lifetime-days are "
                                        "set at the root only: this node takes them from its root");
    return ok();
  }
  if (!period.empty()) {
    auto p = parse_uint<uint32_t>("pki.rotation-period-seconds", period, 10, 3650u * 86400u);
    if (!p)
      return p.err();
    cfg.rotation_period = std::chrono::seconds{*p};
  }
  if (!lifetime.empty()) {
    auto d = parse_uint<uint32_t>("pki.certificate-lifetime-days", lifetime, 1, 3650);
    if (!d)
      return d.err();
    cfg.certificate_lifetime = std::chrono::seconds{int64_t{*d} * 86400};
  }
  if (auto r = check_tree_policy(cfg.rotation_period, cfg.certificate_lifetime); !r)
    return fail(errc::invalid_config, "[pki]: " + r.err().message);
  return ok();
}

/// [storage], [broker], [link], [pki] and [audit]: sizes, windows, delays and periods.
result<void> load_limits(std::map<std::string, std::string>& values, node_config& cfg) {
  auto map_size = parse_uint<uint64_t>("storage.map-size", values["storage.map-size"], 1ull << 20,
                                       1ull << 40);
  if (!map_size)
    return map_size.err();
  cfg.map_size = *map_size;
  auto window = parse_uint<uint32_t>("broker.window", values["broker.window"], 1, 1u << 20);
  auto frame = parse_uint<uint32_t>("broker.frame-envelopes", values["broker.frame-envelopes"], 1, 4096);
  auto retry = parse_uint<uint32_t>("broker.retry-after-ms", values["broker.retry-after-ms"], 100, 3600000);
  auto retry_max = parse_uint<uint32_t>("broker.retry-max-ms", values["broker.retry-max-ms"], 100, 86400000);
  auto delay = parse_uint<uint32_t>("broker.commit-delay-ms", values["broker.commit-delay-ms"], 0, 1000);
  auto maxenv = parse_uint<uint64_t>("broker.max-envelope-bytes", values["broker.max-envelope-bytes"],
                                     1024, 64ull << 20);
  auto rmin = parse_uint<uint32_t>("link.reconnect-min-ms", values["link.reconnect-min-ms"], 10, 60000);
  auto rmax = parse_uint<uint32_t>("link.reconnect-max-ms", values["link.reconnect-max-ms"], 10, 600000);
  auto rto = parse_uint<uint32_t>("link.request-timeout-ms", values["link.request-timeout-ms"], 100, 600000);
  auto audit_every = parse_uint<uint32_t>("audit.checkpoint-seconds", values["audit.checkpoint-seconds"], 1, 86400);
  for (auto* r : {&window, &frame, &retry, &retry_max, &delay, &rmin, &rmax, &rto, &audit_every})
    if (!*r)
      return r->err();
  if (!maxenv)
    return maxenv.err();
  if (*rmin > *rmax)
    return fail(errc::invalid_config, "link.reconnect-min-ms exceeds link.reconnect-max-ms");
  if (*retry > *retry_max)
    return fail(errc::invalid_config, "broker.retry-after-ms exceeds broker.retry-max-ms");
  cfg.window = *window;
  cfg.frame_envelopes = *frame;
  cfg.retry_after = std::chrono::milliseconds{*retry};
  cfg.retry_max = std::chrono::milliseconds{*retry_max};
  cfg.commit_delay = std::chrono::milliseconds{*delay};
  cfg.max_envelope_bytes = *maxenv;
  cfg.reconnect_min = std::chrono::milliseconds{*rmin};
  cfg.reconnect_max = std::chrono::milliseconds{*rmax};
  cfg.request_timeout = std::chrono::milliseconds{*rto};
  cfg.audit_checkpoint = std::chrono::seconds{*audit_every};
  return load_tree_rules(values, cfg);
}

/// [mail]: the SMTP relay of the node's notifications.
result<void> load_mail(std::map<std::string, std::string>& values, const path_of& path, node_config& cfg) {
  cfg.mail_relay = values["mail.relay"];
  if (!cfg.mail_relay.empty())
    if (auto ep = parse_endpoint(cfg.mail_relay); !ep)
      return fail(errc::invalid_config, "mail.relay: " + ep.err().message);
  const auto& tls = values["mail.tls"];
  if (tls != "starttls" && tls != "implicit")
    return fail(errc::invalid_config, "mail.tls must be starttls or implicit (there is no plain-text mode)");
  cfg.mail_implicit_tls = tls == "implicit";
  cfg.mail_ca = path("mail.ca");
  cfg.mail_user = values["mail.user"];
  cfg.mail_password_file = path("mail.password-file");
  if (!cfg.mail_user.empty() && cfg.mail_password_file.empty())
    return fail(errc::invalid_config, "mail.user needs mail.password-file");
  cfg.mail_from = values["mail.from"];
  if (cfg.mail_from.find_first_of(" <>\r\n\t,;") != std::string::npos)
    return fail(errc::invalid_config, "mail.from must be one plain address");
  cfg.mail_portal_url = values["mail.portal-url"];
  if (!cfg.mail_portal_url.empty() && cfg.mail_portal_url.rfind("https://", 0) != 0)
    return fail(errc::invalid_config, "mail.portal-url must start with https://");
  while (!cfg.mail_portal_url.empty() && cfg.mail_portal_url.back() == '/')
    cfg.mail_portal_url.pop_back();
  return ok();
}

/// [portal]: whether the node serves the web portal, and how long its sessions live.
result<void> load_portal(std::map<std::string, std::string>& values, node_config& cfg) {
  const auto& enabled = values["portal.enabled"];
  if (enabled == "auto") {
    // Its cookies are Secure: a node without HTTPS serves the API only.
    cfg.portal = cfg.role != "computing" && cfg.http_tls;
  } else {
    auto on = on_off("portal.enabled", enabled);
    if (!on)
      return fail(errc::invalid_config, "portal.enabled must be on, off or auto, not \"" + enabled + "\"");
    cfg.portal = *on;
  }
  if (cfg.portal && !cfg.http_tls)
    return fail(errc::invalid_config, "portal.enabled: the portal's session cookies are Secure and "
                                      "need HTTPS, but http.tls is off (set portal.enabled = off)");
  auto idle = parse_uint<uint32_t>("portal.session-idle-seconds", values["portal.session-idle-seconds"], 10, 86400);
  auto life = parse_uint<uint32_t>("portal.session-lifetime-seconds", values["portal.session-lifetime-seconds"],
                                   60, 7 * 86400);
  auto most = parse_uint<uint32_t>("portal.max-sessions", values["portal.max-sessions"], 1, 1000000);
  for (auto* r : {&idle, &life, &most})
    if (!*r)
      return r->err();
  if (*idle > *life)
    return fail(errc::invalid_config, "portal.session-idle-seconds exceeds portal.session-lifetime-seconds");
  cfg.portal_idle = std::chrono::seconds{*idle};
  cfg.portal_lifetime = std::chrono::seconds{*life};
  cfg.portal_max_sessions = *most;
  return ok();
}

/// [oidc]: log-in through the organisation's OpenID Connect provider (oidc_login.hpp).
result<void> load_oidc(std::map<std::string, std::string>& values, const path_of& path, node_config& cfg) {
  cfg.oidc_issuer = values["oidc.issuer"];
  cfg.oidc_client_id = values["oidc.client-id"];
  cfg.oidc_client_secret_file = path("oidc.client-secret-file");
  cfg.oidc_ca = path("oidc.ca");
  cfg.oidc_redirect_url = values["oidc.redirect-url"];
  cfg.oidc_scopes = values["oidc.scopes"];
  cfg.oidc_groups = values["oidc.groups"];
  cfg.oidc_groups_claim = values["oidc.groups-claim"];
  cfg.oidc_name_claim = values["oidc.name-claim"];
  cfg.oidc_label = values["oidc.label"];
  if (cfg.oidc_issuer.empty())
    return ok();
  auto https = [](const std::string& url) {
    return url.rfind("https://", 0) == 0 && url.size() > 8 && url.find_first_of(" \t\r\n\"<>") == std::string::npos;
  };
  if (!https(cfg.oidc_issuer))
    return fail(errc::invalid_config, "oidc.issuer must be an https:// URL");
  if (!cfg.portal)
    return fail(errc::invalid_config, "oidc.issuer is set but the portal is off (portal.enabled)");
  if (cfg.oidc_client_id.empty() || cfg.oidc_client_secret_file.empty())
    return fail(errc::invalid_config, "oidc.issuer needs oidc.client-id and oidc.client-secret-file");
  if (!cfg.oidc_redirect_url.empty() && !https(cfg.oidc_redirect_url))
    return fail(errc::invalid_config, "oidc.redirect-url must be an https:// URL");
  if (cfg.oidc_scopes.find("openid") == std::string::npos)
    return fail(errc::invalid_config, "oidc.scopes must include openid");
  if (cfg.oidc_label.size() > 80)
    return fail(errc::invalid_config, "oidc.label is longer than 80 characters");
  auto groups = parse_oidc_groups(cfg.oidc_groups);
  if (!groups)
    return groups.err();
  if (groups->empty())
    return fail(errc::invalid_config, "oidc.groups must map at least one group to a role (GROUP:role)");
  return ok();
}

/// [tee] and [vm]: the simulated TEE's programs and files (by default next to joconde-node and in the
/// data directory) and where the CT VMs listen.
result<void> load_tee(std::map<std::string, std::string>& values, const path_of& path, node_config& cfg) {
  cfg.tee_provisioner = values["tee.provisioner"];
  if (cfg.tee_provisioner != "process" && cfg.tee_provisioner != "inproc")
    return fail(errc::invalid_config, "tee.provisioner must be process or inproc, got '"
                                        + cfg.tee_provisioner + "'");
  // Missing TEE files matter only at a computing node when a CTA arrives (a clear error per CT).
  std::error_code ec;
  auto exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  auto or_default = [&](const std::string& key, const fs::path& fallback) {
    auto p = path(key);
    return p.empty() ? fallback : p;
  };
  cfg.tee_sp_binary = or_default("tee.sp-binary", exe_dir / "joconde-sp");
  cfg.tee_vm_binary = or_default("tee.vm-binary", exe_dir / "joconde-vm");
  auto data_dir = cfg.data_dir.lexically_normal();
  cfg.tee_platform_dir = or_default("tee.platform-dir", data_dir / "tee-platform");
  cfg.tee_image_config = or_default("tee.image-config", data_dir / "vm-image.conf");
  cfg.tee_trusted_roots = or_default("tee.trusted-roots", data_dir / "tee-roots.pem");
  if (auto r = load_vm(values, cfg); !r)
    return r.err();
  return ok();
}

/// [log]: where the node logs and from which severity on.
result<void> load_log(std::map<std::string, std::string>& values, const path_of& path, node_config& cfg) {
  cfg.log_file = path("log.file");
  cfg.log_level = values["log.level"];
  if (cfg.log_level != "debug" && cfg.log_level != "info" && cfg.log_level != "notice"
      && cfg.log_level != "warning" && cfg.log_level != "error")
    return fail(errc::invalid_config, "log.level must be debug, info, notice, warning or error");
  return ok();
}

} // namespace

result<node_config> load_node_config(const fs::path& ini_file,
                                     const std::map<std::string, std::string>& overrides) {
  auto values = default_values();
  auto base = read_ini_layer(ini_file, values);
  if (!base)
    return base.err();
  read_environment_layer(values);
  apply_overrides(values, overrides);
  if (auto r = check_known_keys(values); !r)
    return r.err();
  path_of path{values, *base};
  node_config cfg;
  if (auto r = load_node(values, path, cfg); !r)
    return r.err();
  if (auto r = load_listeners(values, path, cfg); !r)
    return r.err();
  if (auto r = load_limits(values, cfg); !r)
    return r.err();
  if (auto r = load_portal(values, cfg); !r)
    return r.err();
  if (auto r = load_oidc(values, path, cfg); !r)
    return r.err();
  if (auto r = load_mail(values, path, cfg); !r)
    return r.err();
  if (auto r = load_tee(values, path, cfg); !r)
    return r.err();
  if (auto r = load_log(values, path, cfg); !r)
    return r.err();
  return cfg;
}

result<void> check_tls_files(const node_config& cfg) {
  auto check = [](const char* key, const fs::path& p) -> result<void> {
    if (p.empty())
      return fail(errc::invalid_config, std::string{key} + " is not set: TLS fails closed, the node "
                                                            "does not start without it");
    std::ifstream in{p};
    if (!in)
      return fail(errc::invalid_config, std::string{key} + " = " + p.string()
                                          + " cannot be read: TLS fails closed");
    return ok();
  };
  if (auto r = check("tls.certificate", cfg.certificate); !r)
    return r;
  if (auto r = check("tls.key", cfg.key); !r)
    return r;
  if (auto r = check("tls.ca", cfg.ca); !r)
    return r;
  return check("node.passphrase-file", cfg.passphrase_file);
}

result<void> write_ini(const fs::path& file, const std::map<std::string, std::string>& values) {
  std::map<std::string, std::map<std::string, std::string>> sections;
  for (const auto& [k, v] : values) {
    auto dot = k.find('.');
    sections[k.substr(0, dot)][k.substr(dot + 1)] = v;
  }
  std::ostringstream out;
  out << "# joconde-node configuration; `joconde-node config-keys` documents every key.\n";
  for (const auto& [s, kv] : sections) {
    out << "\n[" << s << "]\n";
    for (const auto& [k, v] : kv)
      out << k << " = " << v << "\n";
  }
  std::ofstream f{file, std::ios::trunc};
  if (!f || !(f << out.str()))
    return fail(errc::io_error, "cannot write " + file.string());
  return ok();
}

} // namespace joconde
