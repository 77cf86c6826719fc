#include "rotation.hpp"

#include "joconde/messages/proto.hpp"

#include <algorithm>

namespace joconde {

namespace {

crypto::bytes rotation_digest(std::string_view csr_der) {
  crypto::sha256_hasher h;
  h.update(crypto::to_bytes("joconde rotation v1"));
  h.update(crypto::to_bytes(csr_der));
  return h.finish();
}

std::string str(const crypto::bytes& b) {
  return {b.begin(), b.end()};
}

int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string first_dns(const crypto::certificate& cert) {
  auto names = cert.dns_names();
  return names.empty() ? std::string{} : names.front();
}

constexpr size_t max_notice_bytes = 64 * 1024;

} // namespace

crypto::issue_profile child_issue_profile(const crypto::certificate& parent, const std::string& fqdn,
                                          std::chrono::seconds validity) {
  crypto::issue_profile profile;
  int parent_len = parent.path_length();
  profile.is_ca = parent_len != 0;
  profile.path_length = parent_len > 0 ? parent_len - 1 : -1;
  if (profile.is_ca)
    profile.permitted_dns = {fqdn};
  profile.validity = validity;
  return profile;
}

result<std::string> make_rotation_request(const trust_view& trust, const crypto::private_key& new_key,
                                          const node_signer& old_signer,
                                          std::chrono::system_clock::time_point now) {
  auto own = trust.own_chain();
  if (own.size() < 2)
    return fail(errc::invalid_state, "the root node's certificate is renewed with the offline root CA");
  auto subject = own.front().subject();
  auto csr = crypto::certificate_request::create(new_key, subject, trust.self());
  if (!csr)
    return csr.err();
  auto der = str(csr->to_der());
  auto sig = old_signer.sign(rotation_digest(der));
  if (!sig)
    return sig.err();
  v1::Rotation req;
  req.set_fqdn(trust.self());
  req.set_old_fingerprint(own.front().fingerprint());
  req.set_old_key_signature(str(*sig));
  req.set_rotated_at_ms(to_ms(now));
  req.set_csr(der);
  return proto::serialize(req);
}

result<std::pair<std::string, v1::NodeIdentity>>
answer_rotation_request(trust_view& trust, const node_signer& signer, const std::string& origin,
                        const v1::NodeIdentity& enrolled, std::string_view request,
                        std::chrono::system_clock::time_point now, std::chrono::seconds validity) {
  auto req = proto::parse<v1::Rotation>(request, 64 * 1024);
  if (!req)
    return req.err();
  if (req->fqdn() != origin || enrolled.fqdn() != origin)
    return fail(errc::forbidden, "a node may only rotate its own certificate");
  if (req->old_fingerprint() != enrolled.fingerprint())
    return fail(errc::replayed, "the request names certificate " + req->old_fingerprint()
                                  + ", the current one of " + origin + " is " + enrolled.fingerprint());
  if (enrolled.chain().certificates().empty())
    return fail(errc::invalid_state, "no certificate is on record for " + origin);
  auto old_leaf = crypto::certificate::from_der(crypto::to_bytes(enrolled.chain().certificates(0)));
  if (!old_leaf)
    return old_leaf.err();
  if (auto ok = old_leaf->public_key().verify(rotation_digest(req->csr()),
                                              crypto::to_bytes(req->old_key_signature()));
      !ok)
    return fail(errc::bad_signature, "the new key is not vouched for by the current key of " + origin);
  auto csr = crypto::certificate_request::from_der(crypto::to_bytes(req->csr()));
  if (!csr)
    return csr.err();
  if (auto ok = csr->verify_signature(); !ok)
    return ok.err();
  auto own = trust.own_chain();
  auto subject = old_leaf->subject(); // the subject stays what was enrolled
  auto cert = signer.issue(subject, {origin}, csr->public_key(), own.front(),
                           child_issue_profile(own.front(), origin, validity));
  if (!cert)
    return cert.err();
  v1::Rotation answer;
  answer.set_fqdn(origin);
  answer.set_old_fingerprint(req->old_fingerprint());
  answer.set_rotated_at_ms(to_ms(now));
  auto add = [&](const crypto::certificate& c) {
    answer.mutable_new_chain()->add_certificates(str(c.to_der()));
  };
  add(*cert);
  for (const auto& c : own)
    add(c);
  auto record = enrolled;
  record.mutable_chain()->CopyFrom(answer.new_chain());
  record.set_fingerprint(cert->fingerprint());
  return std::make_pair(proto::serialize(answer), std::move(record));
}

result<std::vector<crypto::certificate>>
accept_rotation_answer(trust_view& trust, const crypto::private_key& new_key, std::string_view answer,
                       std::chrono::system_clock::time_point now) {
  auto ans = proto::parse<v1::Rotation>(answer, 64 * 1024);
  if (!ans)
    return ans.err();
  std::vector<std::string> der{ans->new_chain().certificates().begin(),
                               ans->new_chain().certificates().end()};
  auto node = trust.verify_chain(der, now);
  if (!node)
    return node.err();
  if (node->fqdn != trust.self())
    return fail(errc::forbidden, "the new certificate is for " + node->fqdn + ", not this node");
  if (node->leaf.public_key().to_der() != new_key.public_key().to_der())
    return fail(errc::unknown_peer, "the new certificate is not for the pending key");
  return node->chain;
}

std::string make_rotation_notice(std::string_view request, const v1::CertificateChain& old_chain,
                                 const v1::CertificateChain& new_chain,
                                 std::chrono::system_clock::time_point now) {
  v1::RotationNotice notice;
  notice.set_request(std::string{request});
  *notice.mutable_old_chain() = old_chain;
  *notice.mutable_new_chain() = new_chain;
  notice.set_issued_at_ms(to_ms(now));
  return proto::serialize(notice);
}

result<rotation_continuity> verify_rotation_notice(trust_view& trust, std::string_view bytes,
                                                   std::chrono::system_clock::time_point now) {
  auto notice = proto::parse<v1::RotationNotice>(bytes, max_notice_bytes);
  if (!notice)
    return notice.err();
  auto req = proto::parse<v1::Rotation>(notice->request(), max_notice_bytes);
  if (!req)
    return fail(req.err().code, "the notice's rotation request: " + req.err().message);
  if (notice->old_chain().certificates().empty() || notice->new_chain().certificates().empty())
    return fail(errc::malformed_input, "a rotation notice carries the old and the new chain");
  // The old leaf is the one whose fingerprint an operator may have confirmed: its key, not the
  // root, is what vouches for the new key.
  auto old_leaf = crypto::certificate::from_der(crypto::to_bytes(notice->old_chain().certificates(0)));
  if (!old_leaf)
    return old_leaf.err();
  auto old_fp = old_leaf->fingerprint();
  if (req->old_fingerprint() != old_fp)
    return fail(errc::forbidden, "the request names certificate " + req->old_fingerprint()
                                   + ", the notice's old certificate is " + old_fp);
  if (first_dns(*old_leaf) != req->fqdn())
    return fail(errc::forbidden, "the old certificate is " + first_dns(*old_leaf) + "'s, the request "
                                   + "is for " + req->fqdn());
  if (trust.is_revoked(old_fp))
    return fail(errc::certificate_revoked, "the old certificate " + old_fp + " of " + req->fqdn()
                                             + " is revoked: a revoked key vouches for nothing");
  if (auto ok = old_leaf->public_key().verify(rotation_digest(req->csr()),
                                              crypto::to_bytes(req->old_key_signature()));
      !ok)
    return fail(errc::bad_signature, "the new key of " + req->fqdn()
                                       + " is not vouched for by the key of " + old_fp);
  auto csr = crypto::certificate_request::from_der(crypto::to_bytes(req->csr()));
  if (!csr)
    return csr.err();
  std::vector<std::string> der{notice->new_chain().certificates().begin(),
                               notice->new_chain().certificates().end()};
  auto new_leaf = crypto::certificate::from_der(crypto::to_bytes(der.front()));
  if (!new_leaf)
    return new_leaf.err();
  // A certificate starts at the second it is issued, and a refused notice is not sent again: a node
  // whose clock lags the issuer's checks the new chain as of its start, not as not yet valid.
  auto node = trust.verify_chain(der, std::max(now, new_leaf->not_before()));
  if (!node)
    return fail(node.err().code, "the new chain of " + req->fqdn() + ": " + node.err().message);
  if (node->fqdn != req->fqdn())
    return fail(errc::forbidden, "the new certificate is " + node->fqdn + "'s, the old one "
                                   + req->fqdn() + "'s");
  if (!(node->leaf.public_key() == csr->public_key()))
    return fail(errc::forbidden, "the new certificate of " + req->fqdn()
                                   + " is not for the key the old key vouched for");
  if (node->fingerprint == old_fp)
    return fail(errc::malformed_input, "the old and the new certificate are the same");
  return rotation_continuity{req->fqdn(), old_fp, node->fingerprint};
}

result<crypto::certificate> follow_rotations(trust_view& trust, const crypto::certificate& from,
                                             const std::string& fqdn,
                                             const std::vector<std::string>& notices,
                                             std::chrono::system_clock::time_point now) {
  if (notices.size() > max_rotation_path)
    return fail(errc::malformed_input, "more than " + std::to_string(max_rotation_path)
                                         + " rotations since the certificate named");
  auto at = from;
  for (size_t i = 0; i < notices.size(); ++i) {
    auto step = verify_rotation_notice(trust, notices[i], now);
    if (!step)
      return fail(step.err().code, "rotation " + std::to_string(i + 1) + ": " + step.err().message);
    if (step->fqdn != fqdn)
      return fail(errc::forbidden, "rotation " + std::to_string(i + 1) + " is " + step->fqdn + "'s, not "
                                     + fqdn + "'s");
    if (step->old_fingerprint != at.fingerprint())
      return fail(errc::forbidden, "rotation " + std::to_string(i + 1) + " starts from certificate "
                                     + step->old_fingerprint + ", not from " + at.fingerprint());
    auto notice = proto::parse<v1::RotationNotice>(notices[i], max_notice_bytes);
    if (!notice)
      return notice.err();
    auto next = crypto::certificate::from_der(crypto::to_bytes(notice->new_chain().certificates(0)));
    if (!next)
      return next.err();
    at = std::move(*next);
  }
  return at;
}

} // namespace joconde

