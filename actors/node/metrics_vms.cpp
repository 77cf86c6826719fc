#include "metrics_vms.hpp"

#include "joconde/runtime/http_client.hpp"

#include <nlohmann/json.hpp>

#include <openssl/crypto.h>

#include <cctype>

namespace joconde {

namespace {

using nlohmann::json;

/// How long a VM's admin endpoint may take to answer a scrape.
constexpr std::chrono::seconds vm_scrape_timeout{5};

/// A Host header as a target address: host[:port] of letters, digits, '.', '-', ':', '[' and ']'.
bool plain_host(const std::string& host) {
  if (host.empty() || host.size() > 255)
    return false;
  for (unsigned char c : host)
    if (!std::isalnum(c) && c != '.' && c != '-' && c != ':' && c != '[' && c != ']')
      return false;
  return true;
}

} // namespace

void serve_vm_metrics(http::server& server, std::shared_ptr<const vm_directory> vms, std::string node_name) {
  server.route("GET", "/metrics/targets", [vms, node_name](const http::request& req) {
    if (!plain_host(req.host))
      return http::response::error(400, "malformed_input", "the request names no usable Host");
    json groups = json::array();
    for (const auto& uuid : vms->uuids())
      groups.push_back({{"targets", {req.host}},
                        {"labels", {{"__metrics_path__", "/metrics/vm/" + uuid}, {"ct", uuid}, {"node", node_name}}}});
    return http::response::json(200, groups);
  });
  server.route("GET", "/metrics/vm/{uuid}", [vms](const http::request& req) {
    const auto& uuid = req.params.at("uuid");
    auto vm = vms->find(uuid);
    if (!vm)
      return http::response::error(404, "not_found", "no CT VM of " + uuid + " runs at this node");
    auto token = vm->token;
    auto answer = http::client::send("http://" + vm->admin, "GET", "/metrics", {}, std::move(token),
                                     vm_scrape_timeout);
    OPENSSL_cleanse(vm->token.data(), vm->token.size());
    if (!answer || answer->status != 200)
      return http::response::error(502, "unavailable", "the CT VM of " + uuid + " did not give its metrics");
    http::response res;
    res.content_type = "text/plain; version=0.0.4";
    res.body = std::move(answer->body);
    return res;
  });
}

} // namespace joconde
