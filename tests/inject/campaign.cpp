// joconde-inject's campaign mode (see campaign.hpp).

#include "campaign.hpp"
#include "campaign_io.hpp"

#include "joconde/runtime/http_client.hpp"

#include <nlohmann/json.hpp>

#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>

namespace joconde::inject {

namespace {

using namespace campaign_io;

// -- mutations --------------------------------------------------------------------------------------

/// Mutates valid messages: bit flips, overwritten, inserted, erased and duplicated bytes, truncation,
/// boundary values and appended garbage, one to four at a time; a mutant always differs.
class mutator {
public:
  explicit mutator(std::uint64_t seed) : rng_(seed) {}

  std::string operator()(const std::string& original) {
    std::string s = original;
    auto n = 1 + below(4);
    for (std::uint64_t i = 0; i < n; ++i)
      mutate_once(s);
    if (s == original)
      s.push_back(static_cast<char>(byte()));
    return s;
  }

  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  std::uint8_t byte() { return static_cast<std::uint8_t>(rng_()); }

  std::string random(std::size_t n) {
    std::string out(n, '\0');
    for (auto& c : out)
      c = static_cast<char>(byte());
    return out;
  }

private:
  void mutate_once(std::string& s) {
    auto pos = [&] { return s.empty() ? 0 : below(s.size()); };
    switch (below(8)) {
    case 0:
      if (!s.empty())
        s[pos()] ^= static_cast<char>(1u << below(8));
      break;
    case 1:
      if (!s.empty())
        s[pos()] = static_cast<char>(byte());
      break;
    case 2:
      s.insert(pos(), random(1 + below(16)));
      break;
    case 3:
      if (!s.empty()) {
        auto p = pos();
        s.erase(p, 1 + below(std::min<std::size_t>(32, s.size() - p)));
      }
      break;
    case 4:
      s.resize(pos());
      break;
    case 5:
      if (!s.empty()) {
        auto p = pos();
        auto chunk = s.substr(p, 1 + below(32));
        s.insert(pos(), chunk);
      }
      break;
    case 6:
      if (!s.empty()) {
        static constexpr std::uint8_t boundary[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
        s[pos()] = static_cast<char>(boundary[below(sizeof boundary)]);
      }
      break;
    default:
      s += random(1 + below(64));
    }
  }

  std::mt19937_64 rng_;
};

// -- the types ------------------------------------------------------------------------------------

struct run_state {
  run_state(const campaign_options& opts, caf::actor_system& system, std::uint64_t seed)
    : o(opts), sys(system), mutate(seed) {}

  const campaign_options& o;
  caf::actor_system& sys;
  mutator mutate;
  std::uint64_t sent = 0;
  tally outcomes;
};

/// The link types: an identity that is a direct child of the target (enrolled, not running).
struct link_kit {
  identity me;
  trust_view trust;
  memory_signer signer;

  explicit link_kit(const options& o)
    : me(load_identity(o.identity_dir)), trust(me.root, me.chain), signer(copy_key(me.key)) {}
};

void run_link_hello(run_state& rs, link_kit& kit) {
  session_runner link{rs.sys, rs.o.link};
  link.connect();
  auto base = must(make_hello(kit.trust), "making a hello").hello;
  for (std::uint64_t i = 0; i < rs.o.count; ++i) {
    outcome out;
    auto challenge = link.hello(rs.mutate(base), out);
    ++rs.sent;
    ++rs.outcomes[challenge ? "challenge" : "refused:" + out.code];
  }
}

void run_link_proof(run_state& rs, link_kit& kit) {
  session_runner link{rs.sys, rs.o.link};
  link.connect();
  for (std::uint64_t i = 0; i < rs.o.count; ++i) {
    auto half = link.hello_and_challenge(kit.trust, kit.signer);
    if (half.out.refused)
      throw harness_failure("the honest hello was refused: " + half.out.line());
    auto out = link.proof(rs.mutate(half.proof));
    ++rs.sent;
    ++rs.outcomes[out.refused ? "refused:" + out.code : "accepted"];
  }
}

/// Sends frames made by `make` over an honest link, checking every 200 that the link still carries
/// a valid frame (its ack); the verdicts are in the target's counters.
void run_frames(run_state& rs, link_kit& kit, const std::function<std::vector<std::string>(link_session&)>& make) {
  session_runner link{rs.sys, rs.o.link};
  link.connect();
  auto established = link.establish(kit.trust, kit.signer);
  auto& session = established.first;
  // Acks of earlier frames (valid ones) may come first: wait for this one's, at most 20 s.
  auto flush = [&] {
    std::uint64_t seq = 0;
    link.send_frame(session.seal_frame({}, seq));
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now()) {
      auto acks = link.wait_acks(session, std::chrono::duration_cast<std::chrono::milliseconds>(until - now), true);
      if (std::find(acks.begin(), acks.end(), seq) != acks.end())
        return;
    }
    ++rs.outcomes["link-lost"];
  };
  for (std::uint64_t i = 0; i < rs.o.count;) {
    for (auto& frame : make(session)) {
      link.send_frame(frame);
      ++rs.sent;
      ++i;
    }
    if (i % 200 == 0)
      flush();
  }
  flush();
}

void run_link_frame(run_state& rs, link_kit& kit) {
  run_frames(rs, kit, [&](link_session& session) {
    std::uint64_t seq = 0;
    return std::vector<std::string>{rs.mutate(session.seal_frame({}, seq))};
  });
}

void run_envelope(run_state& rs, link_kit& kit, const std::string& valid) {
  run_frames(rs, kit, [&](link_session& session) {
    std::uint64_t seq = 0;
    if (!rs.o.control)
      return std::vector<std::string>{session.seal_frame({rs.mutate(valid)}, seq)};
    auto fresh = must(make_envelope(kit.trust, kit.signer, "inject.campaign", {session.peer().fqdn}, "",
                                    "joconde-inject control", std::chrono::system_clock::now()),
                      "making an envelope");
    return std::vector<std::string>{session.seal_frame({fresh.bytes}, seq)};
  });
}

void run_replay(run_state& rs, link_kit& kit) {
  // Frames of the session sent twice, and out of order: only a strictly increasing sequence counts.
  run_frames(rs, kit, [&](link_session& session) {
    std::uint64_t seq = 0;
    auto a = session.seal_frame({}, seq);
    auto b = session.seal_frame({}, seq);
    return std::vector<std::string>{b, a, b};
  });
}

/// Valid HTTP requests an outsider could send (no token, or one that is not a user's).
std::vector<std::string> http_templates() {
  const std::string fake = "jct_" + std::string(64, '0');
  const std::string uuid = "00000000-0000-4000-8000-000000000000";
  std::string envelope = R"({"topic":"inject.campaign","recipients":["cp1"],"payload":"x"})";
  return {
    "GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n",
    "GET /v1/status HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer " + fake + "\r\n\r\n",
    "POST /v1/envelopes HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: "
      + std::to_string(envelope.size()) + "\r\n\r\n" + envelope,
    "POST /v1/ctas/" + uuid + "/inputs/persons?authorization=00 HTTP/1.1\r\nHost: node\r\n"
      "Content-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\n0123456789",
    "GET /v1/ctas/" + uuid + "?x=%41%42 HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer " + fake + "\r\n\r\n",
    "POST /v1/users HTTP/1.1\r\nHost: node\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{}  \r\n0\r\n\r\n",
  };
}

void run_http(run_state& rs) {
  auto [host, port] = host_port(rs.o.api_url);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{SSL_CTX_new(TLS_client_method()), SSL_CTX_free};
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  if (SSL_CTX_load_verify_locations(ctx.get(), rs.o.ca_file.c_str(), nullptr) != 1)
    throw harness_failure("cannot read the CA file " + rs.o.ca_file);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  auto templates = http_templates();
  for (std::uint64_t i = 0; i < rs.o.count; ++i) {
    auto request = rs.mutate(templates[i % templates.size()]);
    ++rs.sent;
    ++rs.outcomes[exchange_tls(ctx.get(), host, port, request)];
  }
}

/// The loopback source of message `i`: clients are spread over many addresses so that per-source
/// budgets (evidence, connections) are met without waiting; each address sends 32 messages.
std::string spread_source(std::uint64_t i) {
  auto n = i / 32;
  return "127.2." + std::to_string((n / 250) % 250) + "." + std::to_string(1 + n % 250);
}

void run_vm(run_state& rs, const json& endpoints, const std::string& type) {
  auto endpoint = type.substr(3); // peer, mpc, client, admin
  if (!endpoints.contains(endpoint) || !endpoints[endpoint].is_string())
    throw harness_failure("the VM's endpoints.json has no " + endpoint + " endpoint");
  auto [host, port] = host_port(endpoints[endpoint].get<std::string>());
  // The first flight of a counterpart, announcing cp-1 or cp-2 by turns (what a VM of a lower index
  // accepts), or of a client.
  std::vector<std::string> bases;
  auto be32 = [](std::uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  for (std::uint32_t cp : {1u, 2u}) {
    if (endpoint == "peer") // its CP index; its hello blob (JHL1, index, nonce, X25519 key); a proof blob
      bases.push_back(be32(cp) + be32(72) + "JHL1" + be32(cp) + rs.mutate.random(64) + be32(68) + "JPF1"
                      + rs.mutate.random(64));
    else if (endpoint == "mpc") // rss3: its party index and nonce, then its key proof (HMAC-SHA256)
      bases.push_back(std::string(1, static_cast<char>(cp)) + rs.mutate.random(16) + rs.mutate.random(32));
  }
  if (endpoint == "client")
    bases = {be32(68) + "JCH1" + rs.mutate.random(64)}; // the client hello blob
  auto admin_templates = std::vector<std::string>{
    "GET /status HTTP/1.1\r\nHost: vm\r\n\r\n",
    "POST /cancel HTTP/1.1\r\nHost: vm\r\nAuthorization: Bearer not-the-token-0123\r\nContent-Length: 2\r\n\r\n{}",
    "POST /peers HTTP/1.1\r\nHost: vm\r\nContent-Length: 11\r\n\r\n{\"peers\":1}",
  };
  std::uint64_t unreachable = 0; // connections in a row that could not be made
  // The peer port is served only while the VM waits for its counterparts, the MPC port only while
  // the calculation connects its parties: otherwise connections wait in the backlog and are taken
  // (and refused, counted) then, or never. Each answer is waited for (the VM reads the whole message
  // and closes) until one is not: from then on nobody serves the endpoint and none is waited for.
  bool served = true;
  for (std::uint64_t i = 0; i < rs.o.count; ++i) {
    if (unreachable >= 20) {
      // Nobody accepts there now (the MPC port before the calculation: its backlog is full).
      rs.outcomes["stopped: the endpoint accepts no more connections"] = rs.o.count - i;
      break;
    }
    ++rs.sent;
    if (endpoint == "admin") {
      std::string answer;
      auto how = exchange_raw(host, port, rs.mutate(admin_templates[i % admin_templates.size()]), {}, &answer);
      ++rs.outcomes[http_outcome(how, answer)];
      continue;
    }
    auto source = endpoint == "client" ? spread_source(i) : std::string{};
    // A served port answers at once; 5 s leave room for a loaded machine.
    auto how = exchange_raw(host, port, rs.mutate(bases[i % bases.size()]), source, nullptr,
                            endpoint == "client" || served,
                            std::chrono::seconds{endpoint == "client" ? 2 : 5});
    unreachable = how == "no-connection" ? unreachable + 1 : 0;
    if (how == "timed-out" && endpoint != "client")
      served = false;
    ++rs.outcomes[how];
    if (i % 1000 == 999 && !alive(rs.o.pid))
      break;
  }
}

} // namespace

const std::vector<std::string>& campaign_types() {
  static const std::vector<std::string> types{"link-hello", "link-proof", "link-frame", "envelope", "replay",
                                              "http",       "vm-peer",    "vm-mpc",     "vm-client", "vm-admin"};
  return types;
}

int run_campaign(caf::actor_system& sys, const campaign_options& o) {
  target_view target{o};
  json endpoints;
  if (!o.vm_endpoints.empty()) {
    std::ifstream in{o.vm_endpoints};
    endpoints = json::parse(in, nullptr, false);
    if (!endpoints.is_object())
      throw harness_failure("cannot read the VM's endpoints.json " + o.vm_endpoints);
    if (endpoints.contains("admin") && endpoints["admin"].is_string())
      target.set_vm_admin(endpoints["admin"].get<std::string>());
  }
  std::vector<std::string> types = o.types;
  if (types.empty())
    for (const auto& t : campaign_types()) {
      bool link_type = t.rfind("vm-", 0) != 0 && t != "http";
      if ((link_type && !o.link.host.empty()) || (t == "http" && !o.api_url.empty())
          || (t.rfind("vm-", 0) == 0 && !o.vm_endpoints.empty()))
        types.push_back(t);
    }
  std::optional<link_kit> kit;
  std::string valid_envelope;
  for (const auto& t : types) {
    if (std::find(campaign_types().begin(), campaign_types().end(), t) == campaign_types().end())
      throw harness_failure("unknown campaign type " + t);
    bool link_type = t.rfind("vm-", 0) != 0 && t != "http";
    if (link_type && !kit) {
      if (o.link.host.empty() || o.link.identity_dir.empty())
        throw harness_failure("type " + t + " needs --identity and --target");
      kit.emplace(o.link);
    }
    if (t == "http" && (o.api_url.empty() || o.ca_file.empty()))
      throw harness_failure("type http needs --api-url and --ca-file");
    if (t.rfind("vm-", 0) == 0 && o.vm_endpoints.empty())
      throw harness_failure("type " + t + " needs --vm-endpoints");
  }
  if (kit && std::find(types.begin(), types.end(), "envelope") != types.end()) {
    // The valid envelope the mutants come from is delivered once, before the first snapshot.
    session_runner link{sys, o.link};
    link.connect();
    auto established = link.establish(kit->trust, kit->signer);
    auto target_fqdn = established.first.peer().fqdn;
    valid_envelope = must(make_envelope(kit->trust, kit->signer, "inject.campaign", {target_fqdn}, "",
                                        "joconde-inject campaign", std::chrono::system_clock::now()),
                          "making an envelope")
                       .bytes;
    std::uint64_t seq = 0;
    link.send_frame(established.first.seal_frame({valid_envelope}, seq));
    auto acks = link.wait_acks(established.first, std::chrono::seconds{20}, true);
    if (std::find(acks.begin(), acks.end(), seq) == acks.end())
      throw harness_failure("the target did not acknowledge the campaign's valid envelope");
  }
  std::uint64_t crashes = 0, changes = 0, failures = 0;
  json summary = json::array();
  for (std::size_t k = 0; k < types.size(); ++k) {
    const auto& t = types[k];
    run_state rs{o, sys, o.seed * 1000 + k};
    auto state_before = target.state();
    auto metrics_before = target.metrics();
    auto started = std::chrono::steady_clock::now();
    std::string failure;
    try {
      if (t == "link-hello")
        run_link_hello(rs, *kit);
      else if (t == "link-proof")
        run_link_proof(rs, *kit);
      else if (t == "link-frame")
        run_link_frame(rs, *kit);
      else if (t == "envelope")
        run_envelope(rs, *kit, valid_envelope);
      else if (t == "replay")
        run_replay(rs, *kit);
      else if (t == "http")
        run_http(rs);
      else
        run_vm(rs, endpoints, t);
    } catch (const harness_failure& e) {
      failure = e.what();
    }
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    bool up = alive(o.pid);
    auto state_after = up ? target.state() : std::string{};
    bool changed = up && state_after != state_before;
    crashes += up ? 0 : 1;
    changes += changed ? 1 : 0;
    json line{{"type", t},
              {"sent", rs.sent},
              {"seconds", std::round(seconds * 10) / 10},
              {"answers", rs.outcomes},
              {"counted_by_target", grown(metrics_before, up ? target.metrics() : metrics_before)},
              {"crashed", !up},
              {"state_changed", changed}};
    if (!failure.empty()) {
      line["harness_failure"] = failure;
      ++failures;
    }
    if (changed)
      line["state"] = {{"before", state_before}, {"after", state_after}};
    std::cout << line.dump() << std::endl;
    summary.push_back({{"type", t}, {"sent", rs.sent}, {"crashed", !up}, {"state_changed", changed}});
    if (!up)
      break;
  }
  std::cout << json{{"summary", summary}, {"crashes", crashes}, {"state_changes", changes},
                    {"harness_failures", failures}}
                 .dump()
            << std::endl;
  if (crashes > 0 || changes > 0)
    return 3;
  return failures > 0 ? 1 : 0;
}

} // namespace joconde::inject
