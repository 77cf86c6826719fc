#pragma once

// The pieces of joconde-inject that its single attacks and its campaigns share: identities read
// from a node directory, the outcome of one step, and one mutual-TLS connection to a node's
// connection manager with the link handshake steps on it. Everything is built from the project's own
// code: the harness does not reimplement the protocol, it only misuses it.

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

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace joconde::inject {

namespace fs = std::filesystem;

/// Something the harness itself could not do: exit 1 with the reason.
struct harness_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
inline T must(result<T> r, const std::string& what) {
  if (!r)
    throw harness_failure(what + ": " + r.err().describe());
  return std::move(*r);
}

inline std::string str(const crypto::bytes& b) {
  return {b.begin(), b.end()};
}

inline crypto::bytes_view view(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

/// One line, no control characters (the outcome must stay on one line).
inline std::string one_line(std::string s) {
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

inline identity load_identity(const fs::path& dir) {
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
inline crypto::private_key copy_key(const crypto::private_key& key) {
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

inline outcome refusal_of(const caf::error& err) {
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
inline v1::SignedEnvelope parse_signed(const std::string& bytes) {
  return must(proto::parse<v1::SignedEnvelope>(bytes, 64 * 1024 * 1024), "parsing our own envelope");
}


} // namespace joconde::inject
