// libFuzzer target: SignedEnvelopes handed over by a neighbour (actors/mplane/envelope_codec.cpp,
// admit_envelope: size, shape, origin chain, signature or batch proof, subtree rule, freshness).
//
// The first byte picks what the rest is:
//   0  a SignedEnvelope as it arrives (the pre-authentication parse);
//   1  XOR patches over a valid single envelope of client-a (apply_patches);
//   2  XOR patches over envelope 2 of a valid signed batch of three;
//   3  topic, recipients, CT id and payload for an envelope client-a signs here: whatever
//      make_envelope builds, the root and cp1 must admit unchanged (the post-authentication path).

#include "fuzz_input.hpp"
#include "fuzz_pki.hpp"

#include "mplane/envelope_codec.hpp"

namespace {

using namespace joconde;

struct fixture {
  bool quiet = fuzz::quiet_protobuf();
  fuzz::fuzz_pki& p = fuzz::fuzz_pki::get();
  std::string single;
  std::string batch_member;
  batch_signature_cache cache{64};

  fixture() {
    single = make_envelope(p.client_trust, p.client_signer, "test.echo", {"cp1.joconde.test"}, "",
                           "hello", fuzz::fuzz_now())
               .value()
               .bytes;
    batch_member = make_envelopes(p.client_trust, p.client_signer, "test.batch",
                                  {"cp1.joconde.test", "joconde.test"}, "ct-1", "abc", 3,
                                  fuzz::fuzz_now())
                     .value()
                     .at(2)
                     .bytes;
  }

  void admit_everywhere(std::string_view bytes) {
    auto now = fuzz::fuzz_now();
    (void) admit_envelope(p.root_trust, bytes, "client-a.joconde.test", neighbour_kind::child, now,
                          {}, &cache);
    (void) admit_envelope(p.cp1_trust, bytes, "joconde.test", neighbour_kind::parent, now, {}, &cache);
    (void) admit_envelope(p.client_trust, bytes, "client-a.joconde.test", neighbour_kind::self, now);
  }
};

fixture& fx() {
  static fixture f;
  return f;
}

void signed_here(fuzz::input& in) {
  auto& p = fx().p;
  auto topic = in.small_string(200);
  std::vector<std::string> recipients;
  for (auto n = in.byte() % 4; n > 0; --n)
    recipients.push_back(in.small_string());
  auto ct_id = in.small_string(64);
  auto payload = std::string{in.rest()};
  auto env = make_envelope(p.client_trust, p.client_signer, topic, recipients, ct_id, payload,
                           fuzz::fuzz_now());
  if (!env)
    return;
  auto at_root = admit_envelope(p.root_trust, env->bytes, "client-a.joconde.test",
                                neighbour_kind::child, fuzz::fuzz_now());
  fuzz::require(at_root.ok(), "the root admits what make_envelope built");
  fuzz::require(at_root->payload == payload && at_root->topic == topic && at_root->recipients == recipients
                  && at_root->ct_id == ct_id && at_root->origin == "client-a.joconde.test",
                "admission returns the envelope as signed");
  auto at_cp1 = admit_envelope(p.cp1_trust, env->bytes, "joconde.test", neighbour_kind::parent,
                               fuzz::fuzz_now());
  fuzz::require(at_cp1.ok(), "cp1 admits what make_envelope built, relayed by its parent");
  auto at_child = admit_envelope(p.root_trust, env->bytes, "cp1.joconde.test", neighbour_kind::child,
                                 fuzz::fuzz_now());
  fuzz::require(!at_child.ok(), "a child cannot relay an envelope from outside its subtree");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::input in{data, size};
  auto& f = fx();
  switch (in.byte() % 4) {
    case 0:
      f.admit_everywhere(in.rest());
      break;
    case 1: {
      auto msg = f.single;
      fuzz::apply_patches(in, msg);
      f.admit_everywhere(msg);
      break;
    }
    case 2: {
      auto msg = f.batch_member;
      fuzz::apply_patches(in, msg);
      f.admit_everywhere(msg);
      break;
    }
    default:
      signed_here(in);
  }
  return 0;
}
