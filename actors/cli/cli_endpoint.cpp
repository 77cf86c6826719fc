// Where the `joconde` client talks to (resolve_endpoint: options, environment or a local cluster's
// cluster.json) and how the outcome of a request is told: its exit code and the node's error.

#include "cli/cli_client.hpp"
#include "cli/cli_command.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <string>

namespace joconde::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// True if `token` can go into an Authorization header.
bool valid_token(std::string_view token) {
  return !token.empty() && std::none_of(token.begin(), token.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

/// The endpoint of NODE[:ROLE] in DIR/cluster.json.
result<endpoint> from_cluster(const std::string& dir, const std::string& as) {
  const auto file = fs::path{dir} / "cluster.json";
  auto text = slurp(file);
  if (!text)
    return fail(errc::io_error, "cannot read " + file.string()
                                  + "; is it the directory of a cluster made by ops/cluster up?");
  auto doc = json::parse(*text, nullptr, false);
  if (!doc.is_object() || !doc.contains("nodes") || !doc["nodes"].is_array())
    return fail(errc::malformed_input, file.string() + " is not JSON with a \"nodes\" array");
  const auto colon = as.find(':');
  const auto node = as.substr(0, colon);
  const auto role = colon == std::string::npos ? std::string{} : as.substr(colon + 1);
  if (node.empty() || (colon != std::string::npos && role.empty()))
    return fail(errc::invalid_config, "--as wants NODE or NODE:ROLE, e.g. client-a:task_organiser");
  std::string known;
  for (const auto& n : doc["nodes"]) {
    if (!n.is_object() || !n.contains("name") || !n["name"].is_string())
      continue;
    const auto& name = n["name"].get_ref<const std::string&>();
    known += (known.empty() ? "" : ", ") + name;
    if (name != node)
      continue;
    if (!n.contains("http_url") || !n["http_url"].is_string())
      return fail(errc::malformed_input, "node " + node + " in " + file.string() + " has no http_url");
    endpoint ep{n["http_url"].get<std::string>(), {}, {}, "--cluster " + dir + " --as " + as};
    // The node's HTTPS certificate chains to the cluster's root CA (or pin what the node serves).
    if (n.contains("root_ca") && n["root_ca"].is_string()) {
      fs::path ca = n["root_ca"].get<std::string>();
      ep.ca_file = (ca.is_relative() ? fs::path{dir} / ca : ca).string();
    }
    if (role.empty()) {
      if (!n.contains("admin_token_file") || !n["admin_token_file"].is_string())
        return fail(errc::malformed_input,
                    "node " + node + " in " + file.string() + " has no admin_token_file");
      fs::path token_file = n["admin_token_file"].get<std::string>();
      if (token_file.is_relative())
        token_file = fs::path{dir} / token_file;
      auto token = slurp(token_file);
      if (!token)
        return fail(errc::io_error, "cannot read the admin token file " + token_file.string()
                                      + " of node " + node);
      std::string_view line{*token};
      line = line.substr(0, line.find('\n'));
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
        line.remove_suffix(1);
      ep.token = std::string{line};
      return ep;
    }
    if (n.contains("users") && n["users"].is_object() && n["users"].contains(role)) {
      const auto& user = n["users"][role];
      if (user.is_object() && user.contains("token") && user["token"].is_string()) {
        ep.token = user["token"].get<std::string>();
        return ep;
      }
    }
    std::string roles;
    if (n.contains("users") && n["users"].is_object())
      for (const auto& [r, user] : n["users"].items())
        roles += (roles.empty() ? "" : ", ") + r;
    return fail(errc::not_found, "node " + node + " has no user with role '" + role + "' in "
                                   + file.string() + " (roles there: "
                                   + (roles.empty() ? "none" : roles) + ")");
  }
  return fail(errc::not_found, "node '" + node + "' is not in " + file.string() + " (nodes there: "
                                 + (known.empty() ? "none" : known) + ")");
}

} // namespace

int exit_code_for_send_error(errc code) {
  switch (code) {
    case errc::invalid_config:
    case errc::forbidden:  // a token for plain HTTP to another host: nothing was sent
      return exit_usage;
    case errc::io_error:
    case errc::timeout:
    case errc::untrusted_chain:  // no trusted connection: the server's certificate does not verify
    case errc::certificate_expired:
    case errc::protocol_error:
    case errc::crypto_failure:
      return exit_unreachable;
    default:
      return exit_server;
  }
}

http::client_options client_options_of(const endpoint& ep, std::chrono::milliseconds timeout) {
  http::client_options o;
  o.ca_file = ep.ca_file;
  o.timeout = timeout;
  return o;
}

std::string describe_http_error(const http::response& res) {
  auto doc = json::parse(res.body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const auto& e = doc["error"];
    if (e.contains("code") && e["code"].is_string() && e.contains("message")
        && e["message"].is_string())
      return printable(e["code"].get_ref<const std::string&>()) + ": "
             + printable(e["message"].get_ref<const std::string&>());
  }
  return "http_" + std::to_string(res.status) + ": the node answered HTTP "
         + std::to_string(res.status) + " without a JSON error";
}

result<endpoint> resolve_endpoint(const options& opts, const environment& env) {
  endpoint ep;
  if (!opts.cluster_dir.empty() || !opts.as.empty()) {
    if (!opts.url.empty() || !opts.token.empty() || !opts.ca_file.empty())
      return fail(errc::invalid_config,
                  "--cluster/--as and --url/--token/--ca-file are alternatives; give one of them");
    if (opts.cluster_dir.empty() || opts.as.empty())
      return fail(errc::invalid_config, "--cluster DIR and --as NODE[:ROLE] go together");
    auto res = from_cluster(opts.cluster_dir, opts.as);
    if (!res)
      return res;
    ep = std::move(*res);
  } else {
    ep.url = opts.url.empty() ? env("JOCONDE_URL") : opts.url;
    ep.token = opts.token.empty() ? env("JOCONDE_TOKEN") : opts.token;
    if (ep.url.empty() || ep.token.empty())
      return fail(errc::invalid_config,
                  std::string{"no "} + (ep.url.empty() ? "node" : "token")
                    + " given: use --url URL and --token TOKEN, set JOCONDE_URL and "
                      "JOCONDE_TOKEN, or use --cluster DIR --as NODE[:ROLE]");
    ep.ca_file = opts.ca_file.empty() ? env("JOCONDE_CA_FILE") : opts.ca_file;
    ep.source = std::string{"URL from "} + (opts.url.empty() ? "JOCONDE_URL" : "--url")
                + ", token from " + (opts.token.empty() ? "JOCONDE_TOKEN" : "--token");
    if (!ep.ca_file.empty())
      ep.source += ", CA file " + ep.ca_file + " from " + (opts.ca_file.empty() ? "JOCONDE_CA_FILE" : "--ca-file");
  }
  if (!valid_token(ep.token))
    return fail(errc::invalid_config, "the token (" + ep.source
                                        + ") is empty or contains spaces or control characters");
  return ep;
}

} // namespace joconde::cli
