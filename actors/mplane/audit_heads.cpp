#include "audit_heads.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/audit.pb.h"

namespace joconde {

namespace {

audit_head from_proto(const v1::AuditHead& p) {
  audit_head h;
  h.node = p.node();
  h.seq = p.seq();
  h.hash = p.hash();
  h.time = p.time();
  h.key = p.key();
  h.signature = crypto::to_bytes(p.signature());
  return h;
}

v1::AuditHead to_proto(const audit_head& h) {
  v1::AuditHead p;
  p.set_node(h.node);
  p.set_seq(h.seq);
  p.set_hash(h.hash);
  p.set_time(h.time);
  p.set_key(h.key);
  p.set_signature(std::string{h.signature.begin(), h.signature.end()});
  return p;
}

bool is_hex_hash(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

} // namespace

std::string serialize_audit_head(const audit_head& head) {
  return proto::serialize(to_proto(head));
}

result<head_kept> keep_audit_head(const node_store& store, std::string_view peer,
                                  const crypto::certificate& peer_leaf, std::string_view bytes,
                                  std::chrono::system_clock::time_point now) {
  auto msg = proto::parse<v1::AuditHead>(bytes, max_audit_head_bytes);
  if (!msg)
    return fail(errc::malformed_input, "the audit head is not an AuditHead: " + msg.err().message);
  auto head = from_proto(*msg);
  if (head.node != peer)
    return fail(errc::unknown_peer, "a head of the audit log of '" + head.node.substr(0, 256)
                                      + "' sent by " + std::string{peer} + ": a node sends its own only");
  if (head.seq == 0 || !is_hex_hash(head.hash))
    return fail(errc::malformed_input, "the audit head needs a sequence above 0 and a hex SHA-256");
  if (auto r = head.verify(peer_leaf.public_key()); !r)
    return fail(errc::bad_signature, "the audit head of " + head.node
                                       + " is not signed by the key of its link: " + r.err().message);
  auto txn = store.env->begin_write();
  if (!txn)
    return txn.err();
  auto old = txn->get(store.audit_heads, head.node);
  if (!old)
    return old.err();
  if (*old) {
    auto kept = proto::parse<v1::KeptAuditHead>(**old);
    if (!kept)
      return fail(errc::storage_error, "the kept audit head of " + head.node + " is unreadable: "
                                         + kept.err().message);
    const auto& k = kept->head();
    if (head.seq < k.seq())
      return fail(errc::replayed, "rolled back: the audit head of " + head.node + " at record "
                                    + std::to_string(head.seq) + " is older than the kept one at "
                                    + std::to_string(k.seq()));
    if (head.seq == k.seq() && head.hash != k.hash())
      return fail(errc::forbidden, "forked: a different audit head of " + head.node + " for record "
                                     + std::to_string(head.seq) + " than the one kept");
    if (head.seq == k.seq())
      return head_kept{head_outcome::unchanged, head.seq};
  }
  v1::KeptAuditHead kept;
  *kept.mutable_head() = *msg;
  kept.set_received_at(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  kept.set_certificate(peer_leaf.fingerprint());
  if (auto r = txn->put(store.audit_heads, head.node, proto::serialize(kept)); !r)
    return r.err();
  if (auto r = txn->commit(); !r)
    return r.err();
  return head_kept{head_outcome::kept, head.seq};
}

result<std::vector<kept_audit_head>> kept_audit_heads(const node_store& store) {
  auto txn = store.env->begin_read();
  if (!txn)
    return txn.err();
  std::vector<kept_audit_head> out;
  std::string bad;
  auto r = txn->for_each(store.audit_heads, "", [&](std::string_view key, std::string_view value) {
    auto kept = proto::parse<v1::KeptAuditHead>(value);
    if (!kept) {
      bad = std::string{key};
      return false;
    }
    out.push_back({from_proto(kept->head()), kept->received_at(), kept->certificate()});
    return true;
  });
  if (!r)
    return r.err();
  if (!bad.empty())
    return fail(errc::storage_error, "the kept audit head of " + bad + " is unreadable");
  return out;
}

} // namespace joconde
