// libFuzzer target: the artefacts peers send each other to agree a CTA (the artefact manager's
// handlers in actors/cplane/): the bounded Protobuf parse (proto::parse), the CTSC and CTSA
// rules (ctsc_rules.cpp, which compile the task language) and the canonical hash every signature
// covers (runtime canonical_hash).
//
// The first byte picks what the rest is:
//   0  a CtscRegistration (draft or registered CTSC): check_ctsc, canonical hash
//   1  patches over a registration of config/examples/task.json, which passes check_ctsc
//   2  a CtsaSubmission: check_ctsa against the example CTSC, canonical hash
//   3  one of the other artefact messages (second byte: FinalCta, CancelRequest, StatusUpdate,
//      VmEndpoint, TelemetryEvent, ArtefactRefusal, ArtefactAccepted, SignatorySubmission,
//      Revocation, RotationNotice, TreePolicy, NodeSignature): the parse and the canonical form;
//      for a TreePolicy also patches over one the root signed, checked as a node checks it
//      (tree_policy.cpp); for a NodeSignature its rotation notices followed from cp1's certificate
//      (rotation.cpp follow_rotations)

#include "fuzz_input.hpp"

#include "cplane/ctsc_rules.hpp"
#include "fuzz_pki.hpp"
#include "mplane/rotation.hpp"
#include "mplane/tree_policy.hpp"
#include "joconde/agreement.pb.h"
#include "joconde/messages/canonical.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/node.pb.h"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/vm.pb.h"

#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace {

using namespace joconde;

/// As the artefact manager's limits.
constexpr size_t max_artefact = 4 * 1024 * 1024;
constexpr size_t max_small = 64 * 1024;
/// A fixed "now" before the example's deadlines (ms since the epoch).
constexpr int64_t now_ms = 1'800'000'000'000;

v1::CtscRegistration example() {
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
  std::stringstream buf;
  buf << in.rdbuf();
  v1::CtscRegistration reg;
  if (!google::protobuf::util::JsonStringToMessage(buf.str(), reg.mutable_ctsc()).ok())
    fuzz::violated("config/examples/task.json is not a CTSC");
  reg.mutable_ctsc()->mutable_organiser()->set_peer("client-a.joconde.test");
  reg.mutable_ctsc()->mutable_organiser()->set_name("task_organiser");
  reg.set_request_id(std::string(32, 'a'));
  fuzz::require(check_ctsc(reg.ctsc(), now_ms, false).ok(), "the example CTSC passes check_ctsc");
  return reg;
}

struct fixture {
  bool quiet = fuzz::quiet_protobuf();
  v1::CtscRegistration reg = example();
  std::string reg_bytes = proto::serialize(reg);
};

fixture& fx() {
  static fixture f;
  return f;
}

void registration(std::string_view bytes) {
  auto reg = proto::parse<v1::CtscRegistration>(bytes, max_artefact);
  if (!reg)
    return;
  auto draft = check_ctsc(reg->ctsc(), now_ms, false);
  auto registered = check_ctsc(reg->ctsc(), now_ms, true);
  fuzz::require(!draft.ok() || registered.ok(), "a valid draft is valid once registered");
  (void) is_uuid(reg->ctsc().uuid());
  auto hash = canonical_hash(reg->ctsc());
  if (draft.ok())
    fuzz::require(hash.ok() && hash->size() == 32, "an accepted CTSC has a canonical hash");
}

void submission(std::string_view bytes) {
  auto sub = proto::parse<v1::CtsaSubmission>(bytes, max_artefact);
  if (!sub)
    return;
  (void) check_ctsa(sub->ctsa(), fx().reg.ctsc(), true);
  (void) check_ctsa(sub->ctsa(), fx().reg.ctsc(), false);
  (void) canonical_hash(sub->ctsa());
}

template <class M>
void other(std::string_view bytes, size_t limit) {
  auto msg = proto::parse<M>(bytes, limit);
  if (!msg)
    return;
  auto canonical = proto::canonical_bytes(*msg);
  if (!canonical)
    return;
  // The canonical form is a valid encoding of the same message.
  auto again = proto::parse<M>(*canonical, limit + 1024);
  fuzz::require(again.ok(), "canonical bytes parse");
  auto twice = proto::canonical_bytes(*again);
  fuzz::require(twice.ok() && *twice == *canonical, "the canonical form is a fixed point");
}

/// The root's rules as patches over a policy the root signed: a node takes only what verifies, and
/// what it takes keeps the bounds.
void policy(fuzz::input& in) {
  auto& p = fuzz::fuzz_pki::get();
  static const std::string signed_policy =
    make_tree_policy(tree_policy{std::chrono::seconds{60}, std::chrono::seconds{600}, 0}, p.root_trust,
                     p.root_signer, fuzz::fuzz_now())
      .value();
  auto msg = signed_policy;
  fuzz::apply_patches(in, msg);
  other<v1::TreePolicy>(msg, max_small);
  auto rules = verify_tree_policy(p.client_trust, msg);
  if (rules)
    fuzz::require(check_tree_policy(rules->rotation_period, rules->certificate_lifetime).ok(),
                  "an accepted tree policy keeps its bounds");
}

/// A node signature's rotation notices, followed from cp1's certificate as the CTSC names it: no
/// garbage leads anywhere.
void succession(std::string_view bytes) {
  other<v1::NodeSignature>(bytes, max_artefact);
  auto ns = proto::parse<v1::NodeSignature>(bytes, max_artefact);
  if (!ns)
    return;
  auto& p = fuzz::fuzz_pki::get();
  std::vector<std::string> notices{ns->rotations().begin(), ns->rotations().end()};
  auto leaf = follow_rotations(p.client_trust, p.cp1.chain.front(), "cp1.joconde.test", notices,
                               fuzz::fuzz_now());
  fuzz::require(!leaf.ok() || !notices.empty() || leaf->fingerprint() == p.cp1.chain.front().fingerprint(),
                "no notices lead to the certificate named");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::input in{data, size};
  switch (in.byte() % 4) {
    case 0:
      registration(in.rest());
      break;
    case 1: {
      auto msg = fx().reg_bytes;
      fuzz::apply_patches(in, msg);
      registration(msg);
      break;
    }
    case 2:
      submission(in.rest());
      break;
    default:
      switch (in.byte() % 12) {
        case 0: other<v1::FinalCta>(in.rest(), max_artefact); break;
        case 1: other<v1::CancelRequest>(in.rest(), max_small); break;
        case 2: other<v1::StatusUpdate>(in.rest(), max_small); break;
        case 3: other<v1::VmEndpoint>(in.rest(), max_small); break;
        case 4: other<v1::TelemetryEvent>(in.rest(), max_small); break;
        case 5: other<v1::ArtefactRefusal>(in.rest(), max_small); break;
        case 6: other<v1::ArtefactAccepted>(in.rest(), max_small); break;
        case 7: other<v1::SignatorySubmission>(in.rest(), max_artefact); break;
        case 8: other<v1::Revocation>(in.rest(), max_small); break;
        case 9: other<v1::RotationNotice>(in.rest(), max_small); break;
        case 10: policy(in); break;
        default: succession(in.rest()); break;
      }
  }
  return 0;
}
