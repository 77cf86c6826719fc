#include "task_policy.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/runtime/crypto.hpp"

#include <joconde/artefacts.pb.h>
#include <joconde/vm.pb.h>

#include <algorithm>
#include <map>

namespace joconde::vm {

namespace {

// What the CTSAs give one PAK: per slot, the Peers whose CTSA lists it there (peer -> how the VM
// names the person: pak_label).
struct grant {
  std::map<std::string, std::map<std::string, std::string>> slots;    // granted
  std::map<std::string, std::map<std::string, std::string>> ignored;  // listed by a CTSA that may not

  /// `peer`'s CTSA lists the person (`name`) for `slot`; `allowed` when that peer may grant it.
  void add(const std::string& slot, const std::string& peer, const std::string& name, bool allowed) {
    (allowed ? slots : ignored)[slot].emplace(peer, name);
  }
};


/// "a, b and c".
std::string listing(const std::set<std::string>& names) {
  std::string out;
  std::size_t i = 0;
  for (const auto& n : names) {
    out += i == 0 ? "" : i + 1 == names.size() ? " and " : ", ";
    out += n;
    ++i;
  }
  return out;
}

} // namespace

std::string pak_label(std::string_view pak) {
  return "PAK " + crypto::hex(crypto::sha256(crypto::to_bytes(pak))).substr(0, 16);
}

struct task_policy::impl {
  std::string uuid;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::map<std::string, std::uint64_t> max_rows;  // input key -> row limit
  std::map<std::string, std::set<std::string>> output_peers;  // output key -> the peers it goes to
  // DER PAK -> the person and the slots they may use, by direction.
  std::map<std::string, grant> writers;
  std::map<std::string, grant> readers;
  std::set<std::string> used;  // request ids (hex)
};

task_policy::task_policy(const v1::Cta& cta) : impl_{std::make_unique<impl>()} {
  const auto& ctsc = cta.ctsc();
  impl_->uuid = ctsc.uuid();
  std::map<std::string, std::string> input_peer;  // input key -> peer
  for (const auto& in : ctsc.inputs()) {
    impl_->inputs.push_back(in.key());
    impl_->max_rows[in.key()] = in.max_rows() == 0 ? 1'000'000 : in.max_rows();
    input_peer[in.key()] = in.peer();
  }
  auto& output_peers = impl_->output_peers;
  for (const auto& out : ctsc.outputs()) {
    impl_->outputs.push_back(out.key());
    output_peers[out.key()] = {out.peers().begin(), out.peers().end()};
  }
  // A CTSA grants only what its own Peer may: inputs that Peer provides, outputs granted to it.
  for (const auto& ctsa : cta.ctsas()) {
    for (const auto& dc : ctsa.data_custodians())
      for (const auto& k : dc.input_keys()) {
        auto it = input_peer.find(k);
        impl_->writers[dc.pak()].add(k, ctsa.peer(), pak_label(dc.pak()),
                                     it != input_peer.end() && it->second == ctsa.peer());
      }
    for (const auto& da : ctsa.data_analysts())
      for (const auto& k : da.output_keys()) {
        auto it = output_peers.find(k);
        impl_->readers[da.pak()].add(k, ctsa.peer(), pak_label(da.pak()),
                                     it != output_peers.end() && it->second.count(ctsa.peer()) > 0);
      }
  }
}

task_policy::~task_policy() = default;
task_policy::task_policy(task_policy&&) noexcept = default;
task_policy& task_policy::operator=(task_policy&&) noexcept = default;

const std::vector<std::string>& task_policy::inputs() const { return impl_->inputs; }
const std::vector<std::string>& task_policy::outputs() const { return impl_->outputs; }

result<authorized> task_policy::check(const v1::SignedAuthorization& signed_auth, bool upload,
                                      std::int64_t now_ms) {
  v1::SlotAuthorization auth;
  if (!proto::parse_into(auth, signed_auth.authorization(), 4096))
    return fail(errc::malformed_input, "the authorization is not a SlotAuthorization");
  auto key = crypto::public_key::from_der(crypto::to_bytes(signed_auth.pak()));
  if (!key)
    return fail(errc::malformed_input, "the PAK is not a DER public key: " + key.err().message);
  std::string signed_bytes{authorization_label};
  signed_bytes += signed_auth.authorization();
  if (auto r = key->verify(crypto::to_bytes(signed_bytes), crypto::to_bytes(signed_auth.signature())); !r)
    return fail(errc::bad_signature, "the authorization's signature does not verify with its PAK");
  if (auth.ct_uuid() != impl_->uuid)
    return fail(errc::forbidden, "the authorization is for CT " + auth.ct_uuid().substr(0, 64)
                                   + ", this VM serves " + impl_->uuid);
  if (auth.upload() != upload)
    return fail(errc::forbidden, std::string{"the authorization is for a "}
                                   + (auth.upload() ? "upload" : "download") + ", not a "
                                   + (upload ? "upload" : "download"));
  if (auth.request_id().size() != 16)
    return fail(errc::malformed_input, "the request id is not 16 bytes");
  const auto& keys = upload ? impl_->inputs : impl_->outputs;
  if (std::find(keys.begin(), keys.end(), auth.slot()) == keys.end())
    return fail(errc::not_found, std::string{"the CT has no "} + (upload ? "input " : "output ")
                                   + auth.slot().substr(0, 64));
  const auto& grants = upload ? impl_->writers : impl_->readers;
  const std::map<std::string, std::string>* listed = nullptr;  // peer -> name, for this slot
  if (auto g = grants.find(signed_auth.pak()); g != grants.end()) {
    if (auto it = g->second.slots.find(auth.slot()); it != g->second.slots.end())
      listed = &it->second;
    else if (auto ig = g->second.ignored.find(auth.slot()); !upload && ig != g->second.ignored.end())
      return fail(errc::forbidden, "output " + auth.slot() + " is not granted to peer "
                                     + ig->second.begin()->first + ": its CTSA lists "
                                     + ig->second.begin()->second + " for it, but the CTSC names it for "
                                     + listing(impl_->output_peers.at(auth.slot())) + " only");
  }
  if (listed == nullptr)
    return fail(errc::forbidden, std::string{"the CTA does not allow this PAK to "}
                                   + (upload ? "write input " : "read output ") + auth.slot());
  // A retrieval counts for one Peer (spec §4.4.1.1 "Output Phase"): a PAK two Peers list for the
  // same slot cannot say for which of them it acts.
  if (listed->size() > 1) {
    std::set<std::string> peers;
    for (const auto& [peer, name] : *listed)
      peers.insert(peer);
    return fail(errc::forbidden, "the CTSAs of " + listing(peers) + " all list this PAK for "
                                   + (upload ? "input " : "output ") + auth.slot()
                                   + ": the VM cannot tell for which peer it acts; each peer's "
                                     "people need PAKs of their own");
  }
  const auto& [peer, name] = *listed->begin();
  if (auth.issued_at_ms() < now_ms - authorization_max_age_ms)
    return fail(errc::timeout, "the authorization was issued more than 10 minutes ago");
  if (auth.issued_at_ms() > now_ms + authorization_max_skew_ms)
    return fail(errc::invalid_state, "the authorization was issued in the future");
  std::uint64_t limit = upload ? impl_->max_rows.at(auth.slot()) : 0;
  auto id = crypto::hex(crypto::to_bytes(auth.request_id()));
  if (!impl_->used.insert(id).second)
    return fail(errc::replayed, "request " + id + " was used before at this VM");
  return authorized{auth.slot(), upload, peer, key->fingerprint(), name, id, limit};
}

} // namespace joconde::vm
