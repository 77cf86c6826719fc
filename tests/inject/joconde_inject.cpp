// joconde-inject: a malicious or broken node, for the negative multi-process tests.
//
// It connects to a node (normally the root) over mutual TLS with a node identity, like a node
// does, and runs one attack against the link protocol or the envelope admission of that node. It
// prints exactly one line on standard output:
//
//   outcome: accepted                       the node accepted the handshake
//   outcome: refused CODE DETAIL             the node refused it (CODE: errc name or caf:<error>)
//   outcome: acked | no-ack                  envelope and frame attacks: did the node acknowledge
//                                            the attack frame (the verdict is in its metrics)
//
// and exits 0 when the exchange completed, whatever the outcome; 1 on a harness failure (cannot
// read an identity, cannot connect, the honest part of an attack was refused ...) with the reason on
// standard error; 2 on a usage error.
//
// Everything is built from the project's own code (trust_view, memory_signer, make_hello,
// on_challenge, link_session, make_envelope, proto::serialize): the harness does not reimplement the
// protocol, it only misuses it.

#include "joconde/envelope.pb.h"
#include "joconde/link.pb.h"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/mplane.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/messages/wire.hpp"
#include "joconde/runtime/crypto.hpp"
#include "mplane/envelope_codec.hpp"
#include "mplane/link_handshake.hpp"
#include "mplane/node_signer.hpp"
#include "mplane/trust_view.hpp"
#include "campaign.hpp"
#include "inject_support.hpp"
#include "node/pki_commands.hpp"
#include "support/test_pki.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/scoped_actor.hpp>

#include <algorithm>
#include <charconv>
#include <limits>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::inject;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* usage = R"(usage: joconde-inject --identity DIR --target HOST:PORT --attack NAME [options]
       joconde-inject --campaign TYPES [--count N] [--seed N] [--pid PID] [targets]

  --identity DIR       node directory (node-chain.pem, node.key, passphrase, root-ca.pem) whose
                       identity is used for mutual TLS and, unless the attack says otherwise, for
                       the link handshake; for envelope and frame attacks it must be a direct child
                       of the target, enrolled there
  --target HOST:PORT   the listen address of the node under attack (normally the root)
  --attack NAME        one of the attacks below
  --other DIR          a second node directory (key and chain) for the attacks that need one
  --recipients LIST    comma-separated FQDNs for the envelopes (default: the target's FQDN)
  --topic TOPIC        topic of the envelopes (default: inject.<attack>)
  --ack-wait-ms N      how long to wait for a LinkAck (default 1000)
  --timeout-ms N       timeout of the connection and of every request (default 10000)

handshake attacks (outcome: accepted | refused CODE DETAIL):
  honest, forged-proof (needs --other), replayed-proof, impersonate (needs --other), foreign-hello
envelope and frame attacks over an honest link (outcome: acked | no-ack):
  env-malformed, env-truncated, env-oversized, env-unsigned, env-wrong-signature (needs --other),
  env-foreign-origin (needs --other), frame-bad-mac, frame-replayed, env-duplicate, env-policy,
  env-batch-tampered (two envelopes signed as one batch, the second's payload changed after signing)

campaign mode: --campaign all | TYPE,TYPE...  sends --count (default 1000) mutated messages of each
type (mutations of valid ones: bit flips, overwritten, inserted, erased and duplicated bytes,
truncation, boundary values, garbage; --seed makes it repeatable) and prints one JSON line per type:
sent, the answers it got, what the target counted (growth of its *_total counters), whether the
target process (--pid) crashed and whether its state changed; then a summary line. Exit 0: no crash,
no state change; 3: a crash or a state change; 1: a type could not run to its end.
  link-hello, link-proof, link-frame, envelope, replay   the link protocol of --target (with --identity,
                       a direct child of the target that is enrolled and not running; envelope sends
                       one valid envelope to the target first, then its mutants in valid frames;
                       replay sends frames twice and out of order)
  http                 the node's HTTPS API: --api-url URL --ca-file FILE (requests without a
                       user's token)
  vm-peer, vm-mpc, vm-client, vm-admin   a CT VM's endpoints: --vm-endpoints endpoints.json
                       (vm-peer and vm-mpc: mutants of a counterpart's first messages; each answer
                       is waited for, 5 s at most, until one times out: the endpoint is not served
                       then, and the rest are sent without waiting; 20 connections in a row that
                       fail stop the type)
  state and counters:  --api-url/--ca-file/--token-file FILE (a token that may read users and
                       trust) for the node's CTAs, users, trust and campaign inbox; --metrics-url URL
                       for its counters; --vm-token-file FILE for the VM's phase, slots and counters
  --control yes        the envelope type sends fresh valid envelopes instead of mutants: the state
                       must change (exit 3), which shows the campaign would see a change
)";

/// Runs the attack; returns the outcome line.
std::string run(caf::actor_system& sys, const options& opts) {
  auto me = load_identity(opts.identity_dir);
  std::optional<identity> other;
  if (!opts.other_dir.empty())
    other.emplace(load_identity(opts.other_dir));
  auto need_other = [&]() -> identity& {
    if (!other)
      throw harness_failure("attack " + opts.attack + " needs --other DIR");
    return *other;
  };
  trust_view trust{me.root, me.chain};
  memory_signer signer{copy_key(me.key)};
  const auto& a = opts.attack;
  session_runner link{sys, opts};

  // -- handshake attacks --
  if (a == "honest") {
    link.connect();
    auto half = link.hello_and_challenge(trust, signer);
    if (half.out.refused)
      return half.out.line();
    return link.proof(half.proof).line();
  }
  if (a == "forged-proof") {
    memory_signer forger{copy_key(need_other().key)};
    link.connect();
    auto half = link.hello_and_challenge(trust, forger);
    if (half.out.refused)
      return half.out.line();
    return link.proof(half.proof).line();
  }
  if (a == "replayed-proof") {
    link.connect();
    auto established = link.establish(trust, signer);
    return link.proof(established.second).line(); // the same proof again
  }
  if (a == "impersonate") {
    auto& victim = need_other();
    trust_view claimed{victim.root, victim.chain}; // certificates are public
    link.connect();
    auto half = link.hello_and_challenge(claimed, signer); // but only our own key
    if (half.out.refused)
      return half.out.line();
    return link.proof(half.proof).line();
  }
  if (a == "foreign-hello") {
    auto domain = me.chain.back().dns_names();
    if (domain.empty())
      throw harness_failure("the identity's root node certificate names no domain");
    // A throw-away PKI under a root CA of its own, same domain and same name as this identity:
    // a chain that leads to another root.
    auto dot = me.fqdn().find('.');
    if (dot == std::string::npos || me.fqdn().substr(dot + 1) != domain.front())
      throw harness_failure("foreign-hello needs an identity that is a direct child of the root");
    test::test_pki foreign{domain.front()};
    auto& node = foreign.add(me.fqdn().substr(0, dot), domain.front());
    trust_view claimed{foreign.root_ca(), node.chain};
    memory_signer foreign_signer{test::key_of(node)};
    link.connect();
    auto half = link.hello_and_challenge(claimed, foreign_signer);
    if (half.out.refused)
      return half.out.line();
    return link.proof(half.proof).line();
  }

  // -- envelope and frame attacks over an honest link --
  static const std::set<std::string> link_attacks{
    "env-malformed",      "env-truncated",  "env-oversized",  "env-unsigned", "env-wrong-signature",
    "env-foreign-origin", "frame-bad-mac",  "frame-replayed", "env-duplicate", "env-policy",
    "env-batch-tampered"};
  if (link_attacks.count(a) == 0)
    throw harness_failure("unknown attack " + a);
  if ((a == "env-wrong-signature" || a == "env-foreign-origin"))
    need_other();
  link.connect();
  auto established = link.establish(trust, signer);
  auto& session = established.first;
  auto recipients = opts.recipients;
  if (recipients.empty())
    recipients.push_back(session.peer().fqdn);
  // env-policy: a valid, signed envelope the access policy forbids (a rotation request that is
  // not addressed to the origin's parent alone).
  auto topic = !opts.topic.empty() ? opts.topic : a == "env-policy" ? "pki.rotation.request" : "inject." + a;
  auto now = std::chrono::system_clock::now();
  auto valid_envelope = [&](const trust_view& t, const node_signer& s) {
    return must(make_envelope(t, s, topic, recipients, "", "joconde-inject " + a, now),
                "making an envelope")
      .bytes;
  };
  auto acked_line = [](bool acked) {
    return std::string{acked ? "outcome: acked" : "outcome: no-ack"};
  };
  // Sends one frame and waits for its ack.
  auto frame_outcome = [&](const std::vector<std::string>& envelopes) {
    uint64_t seq = 0;
    link.send_frame(session.seal_frame(envelopes, seq));
    auto acks = link.wait_acks(session, opts.ack_wait, true);
    return acked_line(std::find(acks.begin(), acks.end(), seq) != acks.end());
  };
  // Sends a frame that must be acknowledged (the honest first half of a replay or duplicate).
  auto must_ack = [&](const std::string& frame, uint64_t seq, const char* what) {
    link.send_frame(frame);
    auto acks = link.wait_acks(session, std::max(opts.ack_wait, std::chrono::milliseconds{5000}), true);
    if (std::find(acks.begin(), acks.end(), seq) == acks.end())
      throw harness_failure(std::string{"the target did not acknowledge "} + what);
  };

  if (a == "env-policy")
    return frame_outcome({valid_envelope(trust, signer)});
  if (a == "env-malformed") {
    // Random bytes, drawn again (a bounded number of times) in the unlikely case they parse.
    std::string junk;
    for (int i = 0; i < 100; ++i) {
      junk = str(crypto::random_bytes(512));
      if (!proto::parse<v1::SignedEnvelope>(junk))
        break;
    }
    return frame_outcome({junk});
  }
  if (a == "env-truncated") {
    auto bytes = valid_envelope(trust, signer);
    return frame_outcome({bytes.substr(0, bytes.size() / 2)});
  }
  if (a == "env-oversized") {
    // make_envelope refuses a payload over the limit: build and sign it by hand.
    v1::Envelope env;
    env.set_id(str(crypto::random_bytes(16)));
    env.set_topic(topic);
    env.set_origin(trust.self());
    for (const auto& r : recipients)
      env.add_recipients(r);
    env.set_created_at_us(
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count());
    env.set_payload(std::string(5 * 1024 * 1024, 'x'));
    v1::SignedEnvelope signed_env;
    signed_env.set_body(proto::serialize(env));
    signed_env.set_signature(str(must(signer.sign(view(signed_env.body())), "signing")));
    for (const auto& der : trust.own_chain_der())
      signed_env.mutable_origin_chain()->add_certificates(der);
    return frame_outcome({proto::serialize(signed_env)});
  }
  if (a == "env-batch-tampered") {
    // The intact first envelope is admitted and its batch signature remembered; the second carries
    // the same signature and a proof for a body it no longer has.
    auto batch = must(make_envelopes(trust, signer, topic, recipients, "", "joconde-inject " + a, 2, now),
                      "making a batch");
    auto tampered = parse_signed(batch[1].bytes);
    auto body = proto::parse<v1::Envelope>(tampered.body());
    if (!body)
      throw harness_failure("cannot parse the envelope just made");
    body->set_payload("changed after signing");
    tampered.set_body(proto::serialize(*body));
    return frame_outcome({batch[0].bytes, proto::serialize(tampered)});
  }
  if (a == "env-unsigned") {
    auto signed_env = parse_signed(valid_envelope(trust, signer));
    signed_env.clear_signature();
    return frame_outcome({proto::serialize(signed_env)});
  }
  if (a == "env-wrong-signature") {
    memory_signer forger{copy_key(other->key)};
    return frame_outcome({valid_envelope(trust, forger)}); // our chain, their signature
  }
  if (a == "env-foreign-origin") {
    trust_view their_trust{other->root, other->chain};
    memory_signer their_signer{copy_key(other->key)};
    return frame_outcome({valid_envelope(their_trust, their_signer)});
  }
  if (a == "frame-bad-mac") {
    uint64_t seq = 0;
    auto frame = must(proto::parse<v1::LinkFrame>(
                        session.seal_frame({valid_envelope(trust, signer)}, seq), 64 * 1024 * 1024),
                      "parsing our own frame");
    auto mac = frame.mac();
    mac[0] = static_cast<char>(mac[0] ^ 0x01);
    frame.set_mac(mac);
    link.send_frame(proto::serialize(frame));
    auto acks = link.wait_acks(session, opts.ack_wait, true);
    return acked_line(!acks.empty());
  }
  if (a == "frame-replayed") {
    uint64_t seq = 0;
    auto frame = session.seal_frame({}, seq); // empty: the replay is refused whatever it carries
    must_ack(frame, seq, "the original frame");
    link.send_frame(frame);
    auto acks = link.wait_acks(session, opts.ack_wait, true);
    return acked_line(!acks.empty());
  }
  // env-duplicate: one valid envelope in two different frames.
  auto env = valid_envelope(trust, signer);
  uint64_t seq = 0;
  auto first = session.seal_frame({env}, seq);
  must_ack(first, seq, "the frame with the original envelope");
  return frame_outcome({env});
}

/// Comma-separated items, empty ones dropped.
std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  for (size_t start = 0; start < list.size();) {
    auto comma = list.find(',', start);
    auto item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty())
      out.push_back(item);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return out;
}

/// What the command line asks for: one attack, or a campaign.
struct invocation {
  options opts;
  std::optional<campaign_options> campaign;
};

/// The first line of a file (a token), or a harness failure.
std::string first_line_of(const std::string& file) {
  std::ifstream in{file};
  std::string line;
  if (!in || !std::getline(in, line) || line.empty())
    throw harness_failure("cannot read a token from " + file);
  return line;
}

/// A command line that cannot be run (exit 2).
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items)
    out += (out.empty() ? "" : ", ") + item;
  return out;
}

/// The whole number of option `--key` (or `text` when given) in [lo, hi]; usage_error otherwise.
std::uint64_t number(std::map<std::string, std::string>& kv, const std::string& key, std::uint64_t lo,
                     std::uint64_t hi, std::optional<std::string> text = std::nullopt) {
  const auto value = text ? *text : kv[key];
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || n < lo || n > hi)
    throw usage_error("--" + key + " needs a whole number from " + std::to_string(lo) + " to "
                      + std::to_string(hi) + ", got '" + value + "'");
  return n;
}

std::optional<invocation> parse_args(int argc, char** argv) {
  invocation inv;
  auto& opts = inv.opts;
  std::map<std::string, std::string> kv;
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    if (key == "--help" || key == "-h") {
      std::cout << usage;
      std::exit(0);
    }
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) {
      std::cerr << "joconde-inject: unexpected argument " << key << "\n" << usage;
      return std::nullopt;
    }
    kv[key.substr(2)] = argv[++i];
  }
  static const std::set<std::string> known{
    "identity", "target", "attack", "other",    "recipients", "topic",      "ack-wait-ms",
    "timeout-ms", "campaign", "count", "seed",  "pid",        "api-url",    "ca-file",
    "token-file", "metrics-url", "vm-endpoints", "vm-token-file", "control"};
  for (const auto& [k, v] : kv)
    if (known.count(k) == 0) {
      std::cerr << "joconde-inject: unknown option --" << k << "\n" << usage;
      return std::nullopt;
    }
  bool campaign = !kv["campaign"].empty();
  if (campaign && !kv["attack"].empty()) {
    std::cerr << "joconde-inject: --attack and --campaign exclude each other\n";
    return std::nullopt;
  }
  std::vector<const char*> required{"identity", "target", "attack"};
  if (campaign)
    required.clear();
  for (const auto* k : required)
    if (kv[k].empty()) {
      std::cerr << "joconde-inject: --" << k << " is required\n" << usage;
      return std::nullopt;
    }
  if (campaign && kv["target"].empty() && kv["api-url"].empty() && kv["vm-endpoints"].empty()) {
    std::cerr << "joconde-inject: a campaign needs a target: --target, --api-url or --vm-endpoints\n";
    return std::nullopt;
  }
  opts.identity_dir = kv["identity"];
  opts.other_dir = kv["other"];
  opts.attack = kv["attack"];
  opts.topic = kv["topic"];
  try {
    if (auto target = kv["target"]; !target.empty()) {
      auto colon = target.rfind(':');
      if (colon == std::string::npos || colon == 0)
        throw usage_error("--target must be HOST:PORT, got '" + target + "'");
      opts.host = target.substr(0, colon);
      opts.port = static_cast<uint16_t>(number(kv, "target", 1, 65535, target.substr(colon + 1)));
    }
    if (!kv["ack-wait-ms"].empty())
      opts.ack_wait = std::chrono::milliseconds{number(kv, "ack-wait-ms", 0, 600'000)};
    if (!kv["timeout-ms"].empty())
      opts.timeout = std::chrono::milliseconds{number(kv, "timeout-ms", 1, 3'600'000)};
    if (campaign) {
      campaign_options c;
      if (kv["campaign"] != "all") {
        c.types = split_list(kv["campaign"]);
        if (c.types.empty())
          throw usage_error("--campaign takes all or a comma-separated list of types");
        for (const auto& t : c.types)
          if (std::find(campaign_types().begin(), campaign_types().end(), t) == campaign_types().end())
            throw usage_error("unknown campaign type '" + t + "'; the types are all or any of: "
                              + join(campaign_types()));
      }
      for (const auto& t : c.types) {
        const bool vm = t.rfind("vm-", 0) == 0;
        if (vm && kv["vm-endpoints"].empty())
          throw usage_error("campaign type " + t + " needs --vm-endpoints");
        if (t == "http" && (kv["api-url"].empty() || kv["ca-file"].empty()))
          throw usage_error("campaign type http needs --api-url and --ca-file");
        if (!vm && t != "http" && (kv["identity"].empty() || kv["target"].empty()))
          throw usage_error("campaign type " + t + " needs --identity and --target");
      }
      if (!kv["count"].empty())
        c.count = number(kv, "count", 1, 10'000'000);
      if (!kv["seed"].empty())
        c.seed = number(kv, "seed", 0, std::numeric_limits<std::uint64_t>::max());
      if (!kv["pid"].empty())
        c.pid = static_cast<pid_t>(number(kv, "pid", 1, std::numeric_limits<pid_t>::max()));
      if (auto control = kv["control"]; !control.empty() && control != "yes" && control != "no")
        throw usage_error("--control takes yes or no, got '" + control + "'");
      c.api_url = kv["api-url"];
      c.ca_file = kv["ca-file"];
      c.metrics_url = kv["metrics-url"];
      c.vm_endpoints = kv["vm-endpoints"];
      if (!kv["token-file"].empty())
        c.token = first_line_of(kv["token-file"]);
      if (!kv["vm-token-file"].empty())
        c.vm_token = first_line_of(kv["vm-token-file"]);
      c.control = kv["control"] == "yes";
      inv.campaign = std::move(c);
    }
  } catch (const usage_error& e) {
    std::cerr << "joconde-inject: " << e.what() << "\n";
    return std::nullopt;
  } catch (const harness_failure& e) {
    std::cerr << "joconde-inject: " << e.what() << "\n";
    return std::nullopt;
  }
  opts.recipients = split_list(kv["recipients"]);
  if (inv.campaign)
    inv.campaign->link = opts;
  return inv;
}

} // namespace

int main(int argc, char** argv) {
  auto inv = parse_args(argc, argv);
  if (!inv)
    return 2;
  const auto& opts = inv->opts;
  try {
    caf::actor_system_config cfg;
    cfg.load<caf::io::middleman>();
    if (!opts.identity_dir.empty()) {
      auto passphrase = must(pki::read_secret(opts.identity_dir / "passphrase"),
                             "pass phrase of " + opts.identity_dir.string());
      cfg.load<caf::openssl::manager>();
      cfg.openssl_certificate = (opts.identity_dir / "node-chain.pem").string();
      cfg.openssl_key = (opts.identity_dir / "node.key").string();
      cfg.openssl_passphrase = passphrase;
      cfg.openssl_cafile = (opts.identity_dir / "root-ca.pem").string();
    }
    configure_plane_messages(cfg);
    cfg.set("scheduler.policy", caf::atom("sharing"));
    cfg.set("middleman.workers", size_t{0});
    caf::actor_system sys{cfg};
    if (inv->campaign)
      return run_campaign(sys, *inv->campaign);
    auto line = run(sys, opts);
    std::cout << line << std::endl; // before the actor system shuts down
  } catch (const harness_failure& e) {
    std::cerr << "joconde-inject: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "joconde-inject: unexpected failure: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
