// `joconde cta watch`: follows a CT by asking the node for its CTA every watch_interval, printing
// what is new, until the CTA ends, reaches the awaited status or the time limit passes.

#include "cli/cli_command.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <ostream>
#include <set>
#include <thread>

namespace joconde::cli {

namespace {

using nlohmann::json;

/// "12:00:01.250" (UTC) of a time in milliseconds since the epoch.
std::string clock_time(std::int64_t ms) {
  auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

/// "cp1" of "cp1.joconde.test".
std::string short_node(const std::string& fqdn) {
  return printable(fqdn.substr(0, fqdn.find('.')));
}

std::string text_of(const json& doc, const char* key) {
  return doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>() : std::string{};
}

/// What a watch has printed so far, so that it prints each thing once.
struct watch_state {
  std::string status;
  std::string progress;  ///< the phase and what it waits for, as last printed
  std::set<std::string> vms_shown;
  std::set<std::string> events_shown;
};

/// Prints what is new in the CTA document `doc`: its status if it changed, the addresses of each
/// CT VM once and each new event of the CT VMs.
void print_news(std::ostream& out, const std::string& uuid, const json& doc, watch_state& seen) {
  if (auto status = text_of(doc, "status"); status != seen.status) {
    auto reason = text_of(doc, "reason");
    out << "CTA " << printable(uuid) << ": " << printable(status)
        << (reason.empty() ? "" : " (" + printable(reason) + ")") << "\n";
  }
  // The phase and who it waits for, when either changes (the node's "progress").
  if (doc.contains("progress") && doc["progress"].is_object()) {
    const auto& p = doc["progress"];
    std::string line = "phase " + printable(text_of(p, "phase"));
    if (p.contains("to_do") && p["to_do"].is_array()) {
      std::string steps;
      for (const auto& step : p["to_do"])
        if (step.is_object())
          steps += (steps.empty() ? "" : "; ") + printable(text_of(step, "who")) + ": " + printable(text_of(step, "what"));
      if (!steps.empty())
        line += ", waiting for " + steps;
    }
    if (line != seen.progress) {
      out << line << "\n";
      seen.progress = line;
    }
  }
  if (doc.contains("vms") && doc["vms"].is_array())
    for (const auto& vm : doc["vms"]) {
      if (!vm.is_object())
        continue;
      auto key = text_of(vm, "cp") + " " + text_of(vm, "client_address") + " "
                 + text_of(vm, "peer_address") + " " + text_of(vm, "mpc_address");
      if (!seen.vms_shown.insert(key).second)
        continue;
      out << "vm " << short_node(text_of(vm, "cp")) << ": client "
          << printable(text_of(vm, "client_address")) << ", peer "
          << printable(text_of(vm, "peer_address")) << ", mpc "
          << printable(text_of(vm, "mpc_address")) << " (" << printable(text_of(vm, "platform"))
          << ")\n";
    }
  if (doc.contains("telemetry") && doc["telemetry"].is_array())
    for (const auto& ev : doc["telemetry"]) {
      if (!ev.is_object() || !seen.events_shown.insert(ev.dump()).second)
        continue;
      std::string line = ev.contains("at_ms") && ev["at_ms"].is_number_integer()
                           ? clock_time(ev["at_ms"].get<std::int64_t>())
                           : std::string{"--:--:--.---"};
      line += " " + short_node(text_of(ev, "cp"));
      for (const auto* key : {"kind", "subject", "value"})
        if (auto v = text_of(ev, key); !v.empty())
          line += " " + printable(v);
      out << line << "\n";
    }
  out.flush();
}

/// Asks the node for the CTA at `path` within `limit` into `doc`; exit_ok, or the exit code of a
/// failure, said on stderr.
int fetch_cta(const invocation& in, const endpoint& ep, const std::string& path,
              std::chrono::milliseconds limit, json& doc) {
  auto res = http::client::send(ep.url, "GET", path, "", ep.token, client_options_of(ep, limit));
  if (!res) {
    in.err << "joconde: " << res.err().describe() << "\n";
    return exit_code_for_send_error(res.err().code);
  }
  if (res->status != 200) {
    in.err << "joconde: " << describe_http_error(*res) << "\n";
    return exit_code_for_status(res->status);
  }
  doc = json::parse(res->body, nullptr, false);
  if (!doc.is_object() || !doc.contains("status") || !doc["status"].is_string()) {
    in.err << "joconde: malformed_input: the node's answer to GET " << path << " is not a CTA\n";
    return exit_server;
  }
  return exit_ok;
}

/// Asks the node every watch_interval until the CTA ends (or has --until's status).
int watch(const invocation& in, const std::string& path, const endpoint& ep) {
  using clock = std::chrono::steady_clock;
  const auto& opts = in.opts;
  const auto& uuid = in.args[0];
  const auto deadline = clock::now() + opts.timeout;
  watch_state seen;
  for (;;) {
    auto limit = std::chrono::milliseconds{10'000};
    if (opts.timeout_given)
      limit = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()),
                         std::chrono::milliseconds{100}, limit);
    json doc;
    if (auto failed = fetch_cta(in, ep, path, limit, doc); failed != exit_ok)
      return failed;
    if (!opts.json)
      print_news(in.out, uuid, doc, seen);
    seen.status = doc["status"].get<std::string>();
    const auto& status = seen.status;
    const bool ended = status == "finished" || status == "cancelled" || status == "erased";
    const bool reached = opts.until.empty() ? ended : status == opts.until;
    // Waiting for "erased" goes on past finished and cancelled; anything else ends the watch.
    const bool other_end = !reached && ended && opts.until != "erased";
    if (reached || other_end) {
      if (opts.json)
        in.out << compact_json(doc) << "\n";
      if (other_end) {
        in.err << "joconde: CTA " << printable(uuid) << " is " << printable(status)
               << ", it will not be " << printable(opts.until) << "\n";
        return exit_watch_other_end;
      }
      return exit_ok;
    }
    if (opts.timeout_given && clock::now() + watch_interval > deadline) {
      if (opts.json)
        in.out << compact_json(doc) << "\n";
      in.err << "joconde: timeout: CTA " << printable(uuid) << " is still " << printable(status)
             << " after " << opts.timeout.count() / 1000.0 << " s (--timeout)\n";
      return exit_watch_timeout;
    }
    std::this_thread::sleep_for(watch_interval);
  }
}

} // namespace

int run_cta_watch(const invocation& in) {
  auto path = cta_path("cta watch", in.args[0]);
  if (!path)
    return refuse(in, path.err());
  const auto& until = in.opts.until;
  if (!until.empty() && until != "finished" && until != "cancelled" && until != "erased")
    return refuse(in, usage_error("cta watch", "--until wants finished, cancelled or erased, not '"
                                                 + printable(until) + "'"));
  auto ep = resolve_endpoint(in.opts, in.env);
  if (!ep)
    return refuse(in, ep.err());
  return watch(in, *path, *ep);
}

} // namespace joconde::cli
