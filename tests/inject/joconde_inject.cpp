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
#include "joconde/runtime/crypto.hpp"
#include "mplane/envelope_codec.hpp"
#include "mplane/link_handshake.hpp"
#include "mplane/node_signer.hpp"
#include "mplane/trust_view.hpp"
#include "node/pki_commands.hpp"
#include "support/test_pki.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/scoped_actor.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace joconde;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* usage = R"(usage: joconde-inject --identity DIR --target HOST:PORT --attack NAME [options]

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
)";

/// Something the harness itself could not do: exit 1 with the reason.
struct harness_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
T must(result<T> r, const std::string& what) {
  if (!r)
    throw harness_failure(what + ": " + r.err().describe());
  return std::move(*r);
}

std::string str(const crypto::bytes& b) {
  return {b.begin(), b.end()};
}

crypto::bytes_view view(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

/// One line, no control characters (the outcome must stay on one line).
std::string one_line(std::string s) {
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < 0x20)
      c = ' ';
  return s;
}

// -- identities -------------------------------------------------------------------------------------

/// A node's key, chain and root CA as read from its directory.
struct identity {
  fs::path dir;
  crypto::private_key key;
  std::vector<crypto::certificate> chain; ///< leaf first, without the root CA
  crypto::certificate root;

  std::string fqdn() const {
    auto names = chain.front().dns_names();
    return names.empty() ? std::string{} : names.front();
  }
};

identity load_identity(const fs::path& dir) {
  auto passphrase = must(pki::read_secret(dir / "passphrase"), "pass phrase of " + dir.string());
  auto key_pem = must(pki::read_file(dir / "node.key"), "key of " + dir.string());
  auto key = must(crypto::private_key::from_pem(key_pem, passphrase), "key of " + dir.string());
  auto chain_pem = must(pki::read_file(dir / "node-chain.pem"), "chain of " + dir.string());
  auto chain = must(crypto::certificate::chain_from_pem(chain_pem), "chain of " + dir.string());
  auto root_pem = must(pki::read_file(dir / "root-ca.pem"), "root CA of " + dir.string());
  auto root = must(crypto::certificate::from_pem(root_pem), "root CA of " + dir.string());
  if (!(chain.front().public_key() == key.public_key()))
    throw harness_failure("the key in " + dir.string() + " does not belong to its certificate");
  return identity{dir, std::move(key), std::move(chain), std::move(root)};
}

/// A copy of a private key (memory_signer takes one by value; private_key is move-only).
crypto::private_key copy_key(const crypto::private_key& key) {
  auto pem = must(key.to_encrypted_pem("joconde-inject copy"), "copying a key");
  return must(crypto::private_key::from_pem(pem, "joconde-inject copy"), "copying a key");
}

// -- outcomes ---------------------------------------------------------------------------------------

/// What the node answered to one step of the exchange.
struct outcome {
  bool refused = false;
  std::string code;   ///< errc name or caf:<error>
  std::string detail;

  std::string line() const {
    if (!refused)
      return "outcome: accepted";
    return one_line("outcome: refused " + code + " " + detail);
  }
};

outcome refusal_of(const caf::error& err) {
  outcome out;
  out.refused = true;
  if (err.category() == errc_category) {
    out.code = std::string{to_string(static_cast<errc>(err.code()))};
    if (err.context().match_elements<std::string>())
      out.detail = err.context().get_as<std::string>(0);
    return out;
  }
  auto text = describe(err); // "caf: request_timeout", "exit: ..."
  auto colon = text.find(": ");
  out.code = colon == std::string::npos ? text : text.substr(0, colon) + ":" + text.substr(colon + 2);
  out.detail = "(not an answer of joconde's code)";
  return out;
}

// -- the exchange -----------------------------------------------------------------------------------

struct options {
  fs::path identity_dir;
  fs::path other_dir;
  std::string host;
  uint16_t port = 0;
  std::string attack;
  std::vector<std::string> recipients;
  std::string topic;
  std::chrono::milliseconds ack_wait{1000};
  std::chrono::milliseconds timeout{10000};
};

/// One connection to the target and the handshake steps on it.
class session_runner {
public:
  session_runner(caf::actor_system& sys, const options& opts) : self_(sys), opts_(opts) {
    // nop
  }

  /// Connects over mutual TLS to the target and gets its connection manager.
  void connect() {
    auto mm = self_->system().openssl_manager().actor_handle();
    std::string failure;
    self_->request(mm, opts_.timeout, caf::connect_atom::value, opts_.host, opts_.port)
      .receive(
        [&](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
          if (!ptr)
            failure = "nothing is published at " + opts_.host + ":" + std::to_string(opts_.port);
          else
            handle_ = caf::actor_cast<connection_manager_actor>(ptr);
        },
        [&](caf::error& err) { failure = describe(err); });
    if (!failure.empty())
      throw harness_failure("cannot connect to " + opts_.host + ":" + std::to_string(opts_.port) + ": "
                            + failure);
  }

  /// Sends a LinkHello; the challenge, or the node's refusal.
  std::optional<std::string> hello(const std::string& hello_bytes, outcome& out) {
    std::optional<std::string> challenge;
    self_->request(handle_, opts_.timeout, hello_atom::value, hello_bytes)
      .receive([&](std::string& c) { challenge = std::move(c); },
               [&](caf::error& err) { out = refusal_of(err); });
    return challenge;
  }

  /// Sends a LinkProof; the node's verdict.
  outcome proof(const std::string& proof_bytes) {
    outcome out;
    self_->request(handle_, opts_.timeout, proof_atom::value, proof_bytes)
      .receive(
        [&](bool accepted) {
          if (!accepted)
            out = outcome{true, "false", "the node answered the proof with false"};
        },
        [&](caf::error& err) { out = refusal_of(err); });
    return out;
  }

  /// Runs hello and challenge with `trust` (the claimed identity); returns the proof signed with
  /// `signer` and the child's session, or the refusal of the hello.
  struct half_done {
    outcome out;
    std::optional<link_session> session;
    std::string proof;
  };

  half_done hello_and_challenge(trust_view& trust, const node_signer& signer) {
    half_done res;
    auto state = must(make_hello(trust), "making the hello");
    auto challenge = hello(state.hello, res.out);
    if (!challenge)
      return res;
    auto done = on_challenge(trust, signer, state, *challenge, std::chrono::system_clock::now());
    if (!done)
      throw harness_failure("the target's challenge does not verify: " + done.err().describe());
    res.session.emplace(std::move(done->first));
    res.proof = std::move(done->second);
    return res;
  }

  /// An honest handshake that must be accepted; returns the established session.
  std::pair<link_session, std::string> establish(trust_view& trust, const node_signer& signer) {
    auto half = hello_and_challenge(trust, signer);
    if (half.out.refused)
      throw harness_failure("the honest hello was refused: " + half.out.line());
    auto out = proof(half.proof);
    if (out.refused)
      throw harness_failure("the honest proof was refused: " + out.line());
    return {std::move(*half.session), half.proof};
  }

  /// Sends a sealed LinkFrame on the link (from this actor, the one the link was made with).
  void send_frame(const std::string& frame) {
    self_->send(handle_, frame_atom::value, frame);
  }

  /// Waits up to `wait` for a LinkAck of this session; returns the acknowledged sequence numbers.
  std::vector<uint64_t> wait_acks(const link_session& session, std::chrono::milliseconds wait,
                                  bool stop_at_first) {
    std::vector<uint64_t> acked;
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (int round = 0; round < 1000; ++round) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        break;
      bool timed_out = false;
      self_->receive(
        [&](ack_atom, std::string& bytes) {
          auto seq = session.open_ack(bytes);
          if (seq)
            acked.push_back(*seq);
          else
            std::cerr << "joconde-inject: an ack that does not verify: " << seq.err().describe() << "\n";
        },
        [&](frame_atom, std::string&) {
          std::cerr << "joconde-inject: ignoring a frame from the target\n";
        },
        caf::after(left) >> [&] { timed_out = true; });
      if (timed_out || (stop_at_first && !acked.empty()))
        break;
    }
    return acked;
  }

private:
  caf::scoped_actor self_;
  const options& opts_;
  connection_manager_actor handle_;
};

/// A SignedEnvelope whose bytes are edited after signing.
v1::SignedEnvelope parse_signed(const std::string& bytes) {
  return must(proto::parse<v1::SignedEnvelope>(bytes, 64 * 1024 * 1024), "parsing our own envelope");
}

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

std::optional<options> parse_args(int argc, char** argv) {
  options opts;
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
  static const std::set<std::string> known{"identity", "target",      "attack",    "other",
                                           "recipients", "topic",     "ack-wait-ms", "timeout-ms"};
  for (const auto& [k, v] : kv)
    if (known.count(k) == 0) {
      std::cerr << "joconde-inject: unknown option --" << k << "\n" << usage;
      return std::nullopt;
    }
  for (const auto* k : {"identity", "target", "attack"})
    if (kv[k].empty()) {
      std::cerr << "joconde-inject: --" << k << " is required\n" << usage;
      return std::nullopt;
    }
  opts.identity_dir = kv["identity"];
  opts.other_dir = kv["other"];
  opts.attack = kv["attack"];
  opts.topic = kv["topic"];
  auto target = kv["target"];
  auto colon = target.rfind(':');
  try {
    if (colon == std::string::npos)
      throw std::invalid_argument("no port");
    opts.host = target.substr(0, colon);
    auto port = std::stoul(target.substr(colon + 1));
    if (port == 0 || port > 65535 || opts.host.empty())
      throw std::out_of_range("port");
    opts.port = static_cast<uint16_t>(port);
    if (!kv["ack-wait-ms"].empty())
      opts.ack_wait = std::chrono::milliseconds{std::stoul(kv["ack-wait-ms"])};
    if (!kv["timeout-ms"].empty())
      opts.timeout = std::chrono::milliseconds{std::stoul(kv["timeout-ms"])};
  } catch (const std::exception&) {
    std::cerr << "joconde-inject: --target must be HOST:PORT and the durations numbers\n";
    return std::nullopt;
  }
  std::string list = kv["recipients"];
  for (size_t start = 0; start < list.size();) {
    auto comma = list.find(',', start);
    auto item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty())
      opts.recipients.push_back(item);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return opts;
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse_args(argc, argv);
  if (!opts)
    return 2;
  try {
    auto passphrase = must(pki::read_secret(opts->identity_dir / "passphrase"),
                           "pass phrase of " + opts->identity_dir.string());
    caf::actor_system_config cfg;
    cfg.load<caf::io::middleman>();
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = (opts->identity_dir / "node-chain.pem").string();
    cfg.openssl_key = (opts->identity_dir / "node.key").string();
    cfg.openssl_passphrase = passphrase;
    cfg.openssl_cafile = (opts->identity_dir / "root-ca.pem").string();
    cfg.set("middleman.app-identifiers", std::vector<std::string>{"joconde-link-v1"});
    cfg.set("scheduler.policy", caf::atom("sharing"));
    cfg.set("middleman.workers", size_t{0});
    caf::actor_system sys{cfg};
    auto line = run(sys, *opts);
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
