#define BOOST_TEST_MODULE handshake
#include <boost/test/unit_test.hpp>

// The attested key exchange between CT VMs (DESIGN.md §8, docs/tee.md): one positive exchange and its
// negative twins, each refused with its own error code, plus malformed and out-of-order messages.

#include "joconde/enclave/handshake.hpp"
#include "joconde/enclave/simulated.hpp"

#include "enclave_test_support.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <utility>

using namespace joconde;
using namespace joconde::enclave;

using joconde::test::must;
using joconde::test::cta_hash;
using joconde::test::text;

namespace {


/// Checks that `r` failed with `code` and a message containing `words`.
template <class T>
void refused(const result<T>& r, errc code, std::string_view words) {
  BOOST_REQUIRE_MESSAGE(!r, "accepted, expected " << to_string(code));
  BOOST_TEST(to_string(r.err().code) == to_string(code), r.err().describe());
  BOOST_TEST(r.err().message.find(words) != std::string::npos, r.err().describe());
}

/// The four messages of one exchange between sides a and b.
struct exchange {
  bytes hello_a, hello_b, proof_a, proof_b;
};

/// Three CT VMs (CP 0, 1, 2) launched for the same CTA on one simulated platform, and the
/// reference values every CP checks its peers against.
struct fixture {
  simulated_platform platform = must(simulated_platform::create());
  measurement approved = measure(text("joconde-vm 0.1.0"), text("engine = rss3\n"));
  host_data cta = cta_hash("cta-2026-042");
  simulated_attester vm0 = platform.launch(approved, cta, false);
  simulated_attester vm1 = platform.launch(approved, cta, false);
  simulated_attester vm2 = platform.launch(approved, cta, false);
  simulated_verifier verifier{{platform.root_certificate()}};
  reference_values ref = accepting();

  reference_values accepting() const {
    reference_values r;
    r.measurements = {approved};
    r.cta_hash = cta;
    r.min_tcb_version = simulated_tcb_version;
    r.allow_simulated = true;
    return r;
  }

  handshake side(std::uint32_t own, std::uint32_t peer, const attester& a,
                 std::string ct = "ct-7") const {
    return must(handshake::create({std::move(ct), own, peer, &a, &verifier, ref}));
  }

  /// Runs hellos and proofs between `a` and `b`, returning the messages and both results.
  std::pair<result<established>, result<established>> run(handshake& a, handshake& b,
                                                          exchange* seen = nullptr) const {
    exchange x;
    x.hello_a = must(a.start());
    x.hello_b = must(b.start());
    x.proof_a = must(a.on_hello(x.hello_b));
    x.proof_b = must(b.on_hello(x.hello_a));
    auto ra = a.on_proof(x.proof_b);
    auto rb = b.on_proof(x.proof_a);
    if (seen != nullptr)
      *seen = std::move(x);
    return {std::move(ra), std::move(rb)};
  }

  /// CP 0 talking to a CP 1 VM launched with `m`, `h` and `debug`: what CP 0 concludes.
  result<established> with_peer_vm(const measurement& m, const host_data& h, bool debug) const {
    auto peer_vm = platform.launch(m, h, debug);
    auto a = side(0, 1, vm0);
    auto b = side(1, 0, peer_vm);
    return run(a, b).first;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(channel_handshake, fixture)

BOOST_AUTO_TEST_CASE(both_sides_get_the_same_key_and_simulated_claims) {
  auto a = side(0, 1, vm0);
  auto b = side(1, 0, vm1);
  auto [ra, rb] = run(a, b);
  auto ea = must(std::move(ra));
  auto eb = must(std::move(rb));
  BOOST_TEST(ea.key == eb.key);
  BOOST_TEST(ea.key.size() == 32u);
  BOOST_TEST(std::ranges::any_of(ea.key, [](std::uint8_t x) { return x != 0; }));
  for (const auto* e : {&ea, &eb}) {
    BOOST_TEST(e->peer.simulated);
    BOOST_TEST(e->peer.platform == "joconde-simulated");
    BOOST_TEST(e->peer.launch_measurement == approved);
    BOOST_TEST(e->peer.host == cta);
  }
  // The handshake is over: nothing more is accepted.
  refused(a.on_proof(bytes{}), errc::invalid_state, "ended");
  refused(a.start(), errc::invalid_state, "already sent");
}

BOOST_AUTO_TEST_CASE(separate_handshakes_give_different_keys) {
  std::set<channel_key> keys;
  for (int i = 0; i < 3; ++i) {
    auto a = side(0, 1, vm0);
    auto b = side(1, 0, vm1);
    auto [ra, rb] = run(a, b);
    auto key = must(std::move(ra)).key;
    BOOST_TEST((key == must(std::move(rb)).key));
    keys.insert(key);
  }
  BOOST_TEST(keys.size() == 3u);
}

BOOST_AUTO_TEST_CASE(messages_round_trip) {
  hello h{2, {}, {}};
  h.nonce.fill(0x11);
  h.kx_public_key.fill(0x22);
  auto back = must(hello::decode(h.encode()));
  BOOST_TEST(back.cp_index == 2u);
  BOOST_TEST(back.nonce == h.nonce);
  BOOST_TEST(back.kx_public_key == h.kx_public_key);
  BOOST_TEST(h.encode().size() == 72u);
  proof p{must(vm0.get_evidence(report_data{}))};
  auto pb = must(proof::decode(p.encode()));
  BOOST_TEST(pb.evidence.report == p.evidence.report);
  BOOST_TEST(pb.evidence.chain == p.evidence.chain);
  BOOST_TEST(cp_id_of(2) == "cp-2");
}

BOOST_AUTO_TEST_CASE(peer_with_another_measurement_is_refused) {
  refused(with_peer_vm(measure(text("joconde-vm 0.1.0 patched"), text("engine = rss3\n")), cta, false),
          errc::measurement_mismatch, "not among the 1 accepted");
}

BOOST_AUTO_TEST_CASE(peer_launched_for_another_cta_is_refused) {
  refused(with_peer_vm(approved, cta_hash("cta-2026-043"), false), errc::host_data_mismatch,
          "another CTA");
}

BOOST_AUTO_TEST_CASE(peer_with_debugging_is_refused) {
  refused(with_peer_vm(approved, cta, true), errc::debug_enabled, "debugging enabled");
}

BOOST_AUTO_TEST_CASE(evidence_relayed_from_a_third_party_is_refused) {
  // CP 2 answers CP 0's hello; an attacker passes its hello and proof on as if they came from CP 1.
  auto a = side(0, 1, vm0);
  auto c = side(2, 0, vm2);
  auto hello_a = must(a.start());
  auto relayed = must(hello::decode(must(c.start())));
  auto proof_c = must(c.on_hello(hello_a));
  relayed.cp_index = 1;
  must(a.on_hello(relayed.encode()));
  refused(a.on_proof(proof_c), errc::replayed, "relayed");
}

BOOST_AUTO_TEST_CASE(evidence_made_for_another_ct_is_refused) {
  auto a = side(0, 1, vm0);
  auto b = side(1, 0, vm1, "ct-8");
  auto [ra, rb] = run(a, b);
  refused(ra, errc::replayed, "Computing Task");
  refused(rb, errc::replayed, "Computing Task");
}

BOOST_AUTO_TEST_CASE(proof_from_an_earlier_handshake_is_refused) {
  exchange old;
  {
    auto a = side(0, 1, vm0);
    auto b = side(1, 0, vm1);
    BOOST_TEST(run(a, b, &old).first.ok());
  }
  // CP 0's next handshake gets CP 1's old hello and old proof: the proof binds CP 0's old nonce.
  auto a = side(0, 1, vm0);
  must(a.start());
  must(a.on_hello(old.hello_b));
  refused(a.on_proof(old.proof_b), errc::replayed, "old nonce");
  // Nor does a fresh hello from CP 1 make its old proof acceptable.
  auto a2 = side(0, 1, vm0);
  auto b2 = side(1, 0, vm1);
  must(a2.start());
  must(a2.on_hello(must(b2.start())));
  refused(a2.on_proof(old.proof_b), errc::replayed, "replayed");
}

BOOST_AUTO_TEST_CASE(swapped_key_exchange_key_is_refused) {
  // A man in the middle replaces each hello's X25519 key by one of its own.
  auto a = side(0, 1, vm0);
  auto b = side(1, 0, vm1);
  auto mallory = side(1, 0, vm2);
  auto mitm_key = must(hello::decode(must(mallory.start()))).kx_public_key;
  auto hello_a = must(hello::decode(must(a.start())));
  auto hello_b = must(hello::decode(must(b.start())));
  hello_a.kx_public_key = mitm_key;
  hello_b.kx_public_key = mitm_key;
  auto proof_a = must(a.on_hello(hello_b.encode()));
  auto proof_b = must(b.on_hello(hello_a.encode()));
  refused(a.on_proof(proof_b), errc::replayed, "channel key");
  refused(b.on_proof(proof_a), errc::replayed, "channel key");
}

BOOST_AUTO_TEST_CASE(unexpected_peers_are_refused) {
  auto a = side(0, 1, vm0);
  auto hello_a = must(a.start());
  refused(a.on_hello(hello_a), errc::unknown_peer, "reflected");
  auto a2 = side(0, 1, vm0);
  auto c = side(2, 0, vm2);
  must(a2.start());
  refused(a2.on_hello(must(c.start())), errc::unknown_peer, "comes from CP 2, expected CP 1");
  refused(a2.on_hello(must(side(1, 0, vm1).start())), errc::invalid_state, "ended");
}

BOOST_AUTO_TEST_CASE(messages_out_of_order_are_refused) {
  auto b = side(1, 0, vm1);
  auto hello_b = must(b.start());
  {
    // A hello before this side's own start() leaves the handshake usable.
    auto a = side(0, 1, vm0);
    refused(a.on_hello(hello_b), errc::invalid_state, "call start()");
    must(a.start());
    BOOST_TEST(a.on_hello(hello_b).ok());
    // A second hello ends it.
    refused(a.on_hello(hello_b), errc::protocol_error, "a second hello");
    refused(a.on_proof(bytes{}), errc::invalid_state, "ended");
  }
  {
    auto a = side(0, 1, vm0);
    auto hello_a = must(a.start());
    auto proof_b = must(b.on_hello(hello_a));
    refused(a.on_proof(proof_b), errc::protocol_error, "a proof before its hello");
    refused(a.on_hello(hello_b), errc::invalid_state, "ended");
  }
  {
    // A proof where a hello belongs, and a hello where a proof belongs: malformed, never confused.
    auto a = side(0, 1, vm0);
    auto c = side(1, 0, vm1);
    auto hello_a = must(a.start());
    auto hello_c = must(c.start());
    auto proof_c = must(c.on_hello(hello_a));
    refused(a.on_hello(proof_c), errc::malformed_input, "hello is malformed");
    auto a2 = side(0, 1, vm0);
    must(a2.start());
    must(a2.on_hello(hello_c));
    refused(a2.on_proof(hello_c), errc::malformed_input, "does not start with \"JPF1\"");
  }
}

BOOST_AUTO_TEST_CASE(bad_settings_are_refused) {
  refused(handshake::create({"ct-7", 1, 1, &vm0, &verifier, ref}), errc::invalid_config,
          "equals this side's");
  refused(handshake::create({"", 0, 1, &vm0, &verifier, ref}), errc::invalid_config,
          "Computing Task id");
  refused(handshake::create({std::string(256, 'x'), 0, 1, &vm0, &verifier, ref}),
          errc::invalid_config, "over 255 bytes");
  refused(handshake::create({"ct-7", 0, 1, nullptr, &verifier, ref}), errc::invalid_config,
          "attester");
}

BOOST_AUTO_TEST_CASE(truncated_messages_are_malformed) {
  auto b = side(1, 0, vm1);
  auto hello_b = must(b.start());
  for (std::size_t n = 0; n < hello_b.size(); ++n) {
    auto a = side(0, 1, vm0);
    must(a.start());
    auto res = a.on_hello(std::span{hello_b}.first(n));
    BOOST_REQUIRE_MESSAGE(!res && res.err().code == errc::malformed_input, n << "-byte hello");
  }
  auto longer = hello_b;
  longer.push_back(0);
  BOOST_TEST(to_string(hello::decode(longer).err().code) == "malformed_input");

  auto a = side(0, 1, vm0);
  auto proof_b = must(b.on_hello(must(a.start())));
  for (std::size_t n = 0; n < proof_b.size(); ++n) {
    auto res = proof::decode(std::span{proof_b}.first(n));
    BOOST_REQUIRE_MESSAGE(!res && res.err().code == errc::malformed_input, n << "-byte proof");
  }
  proof_b.push_back(0);
  BOOST_TEST(to_string(proof::decode(proof_b).err().code) == "malformed_input");
  BOOST_TEST(to_string(proof::decode(bytes(max_proof_size + 1, 0)).err().code) == "malformed_input");
}

BOOST_AUTO_TEST_CASE(random_garbage_is_refused_never_a_crash) {
  std::mt19937_64 rng{20261126};
  auto mutate = [&](bytes input, int round) {
    if (round % 3 == 0) {
      input.resize(rng() % (input.size() * 2));
      for (auto& x : input)
        x = static_cast<std::uint8_t>(rng());
      return input;
    }
    for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n; ++k)
      input[rng() % input.size()] = static_cast<std::uint8_t>(rng());
    if (round % 3 == 2)
      input.resize(rng() % input.size());
    return input;
  };
  static const std::set<errc> hello_errors{errc::malformed_input, errc::unknown_peer};
  static const std::set<errc> proof_errors{errc::malformed_input, errc::bad_signature,
                                           errc::untrusted_chain, errc::replayed};
  int accepted = 0;
  for (int round = 0; round < 600; ++round) {
    auto a = side(0, 1, vm0);
    auto b = side(1, 0, vm1);
    auto hello_a = must(a.start());
    auto hello_b = must(b.start());
    auto bad_hello = mutate(hello_b, round);
    auto got = a.on_hello(bad_hello);
    if (!got) {
      BOOST_REQUIRE_MESSAGE(hello_errors.count(got.err().code) == 1, got.err().describe());
      continue;
    }
    // A hello still from CP 1 is accepted; its nonce or key change makes the real proof fail.
    auto proof_b = must(b.on_hello(hello_a));
    auto bad_proof = mutate(proof_b, round);
    auto res = a.on_proof(bad_proof);
    if (res) {
      // Only a hello with CP 1's own key and a proof with intact report and chip certificate pass
      // (a changed nonce of CP 1 makes CP 1 refuse CP 0's proof instead).
      BOOST_REQUIRE(must(hello::decode(bad_hello)).kx_public_key
                    == must(hello::decode(hello_b)).kx_public_key);
      auto original = must(proof::decode(proof_b));
      auto decoded = must(proof::decode(bad_proof));
      BOOST_REQUIRE(decoded.evidence.report == original.evidence.report);
      BOOST_REQUIRE(decoded.evidence.chain.at(0) == original.evidence.chain.at(0));
      ++accepted;
      continue;
    }
    BOOST_REQUIRE_MESSAGE(proof_errors.count(res.err().code) == 1, res.err().describe());
  }
  BOOST_TEST_MESSAGE(accepted << " of 600 mutated exchanges still verified");
}

BOOST_AUTO_TEST_SUITE_END()
