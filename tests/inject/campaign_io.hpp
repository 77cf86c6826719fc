#pragma once

// What joconde-inject's campaign mode (campaign.cpp) reads of its target and how it reaches it
// (campaign_io.cpp): whether the target's process is alive, its counters and the state that must
// not change, and raw TCP and TLS exchanges with one of its endpoints.

#include "campaign.hpp"

#include "joconde/runtime/http_client.hpp"

#include <nlohmann/json.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include <sys/types.h>

namespace joconde::inject::campaign_io {

using nlohmann::json;
using tally = std::map<std::string, std::uint64_t>;

// -- the target: alive, its metrics, its state --------------------------------------------------------

/// True while process `pid` runs (not a zombie); true when no pid was given.
bool alive(pid_t pid);

/// The counters (`*_total` series) of a Prometheus text page.
std::map<std::string, double> counters(const std::string& text);

/// What grew between two counter snapshots.
tally grown(const std::map<std::string, double>& before, const std::map<std::string, double>& after);

/// What a campaign reads of its target: counters and the state that must not change.
class target_view {
public:
  explicit target_view(const campaign_options& o) : o_(o) {
    client_.ca_file = o.ca_file;
    client_.timeout = std::chrono::seconds{20};
  }

  /// The counters the target exposes (node metrics, else the VM's through its admin endpoint).
  std::map<std::string, double> metrics() const {
    if (!o_.metrics_url.empty()) {
      auto r = http::client::send(o_.metrics_url, "GET", "/metrics");
      return r && r->status == 200 ? counters(r->body) : std::map<std::string, double>{};
    }
    if (!vm_admin_.empty()) {
      auto r = http::client::send("http://" + vm_admin_, "GET", "/metrics", {}, o_.vm_token);
      return r && r->status == 200 ? counters(r->body) : std::map<std::string, double>{};
    }
    return {};
  }

  /// What must not change: the node's CTAs, users, trust and the campaign's inbox; the VM's phase
  /// and slots. Empty when nothing can be read.
  std::string state() const {
    std::string out;
    if (!o_.api_url.empty())
      for (auto path : {"/v1/ctas", "/v1/users", "/v1/trust", "/v1/inbox?topic=inject.campaign"}) {
        auto r = http::client::send(o_.api_url, "GET", path, {}, o_.token, client_);
        out += std::string{path} + " " + (r ? std::to_string(r->status) + " " + r->body : r.err().describe()) + "\n";
      }
    if (!vm_admin_.empty()) {
      auto r = http::client::send("http://" + vm_admin_, "GET", "/status", {}, o_.vm_token);
      auto doc = r && r->status == 200 ? json::parse(r->body, nullptr, false) : json{};
      out += "vm phase " + (doc.is_object() ? doc.value("phase", json{}).dump() : std::string{"?"});
      out += " slots " + (doc.is_object() && doc.contains("slots") ? doc["slots"].dump() : std::string{"?"}) + "\n";
    }
    return out;
  }

  void set_vm_admin(std::string address) { vm_admin_ = std::move(address); }

private:
  const campaign_options& o_;
  http::client_options client_;
  std::string vm_admin_;
};

// -- raw connections ------------------------------------------------------------------------------

/// host:port of an "http(s)://host:port" URL or a "host:port".
std::pair<std::string, std::uint16_t> host_port(std::string url);

/// A TCP connection to an IPv4 `host`:`port` from `source` (empty: any), with 2 s timeouts and an
/// abortive close (no TIME_WAIT: a campaign opens a hundred thousand); -1 if it cannot be made.
int dial(const std::string& host, std::uint16_t port, const std::string& source);

/// Sends `bytes` and reads what comes back until the far end closes, 64 KiB or `patience` passes
/// without a byte: "answered" with something, "closed" with nothing (both: the far end closed, or
/// sent 64 KiB), "timed-out" when it did neither (nobody serves the endpoint, or it waits for more),
/// "no-connection" when the connection failed; "sent" without `wait`.
std::string exchange_raw(const std::string& host, std::uint16_t port, const std::string& bytes,
                         const std::string& source, std::string* answer = nullptr, bool wait = true,
                         std::chrono::seconds patience = std::chrono::seconds{2});

/// The status of an HTTP answer ("http-401"), or what happened instead.
std::string http_outcome(const std::string& how, const std::string& answer);

/// One request over TLS 1.3 to the node's API; the HTTP outcome.
std::string exchange_tls(SSL_CTX* ctx, const std::string& host, std::uint16_t port, const std::string& bytes);

} // namespace joconde::inject::campaign_io
