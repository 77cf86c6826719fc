#include "rotation.hpp"

#include "joconde/messages/proto.hpp"

namespace joconde {

namespace {

constexpr auto node_validity = std::chrono::seconds{365LL * 24 * 3600};

crypto::bytes rotation_digest(std::string_view csr_der) {
  crypto::sha256_hasher h;
  h.update(crypto::to_bytes("joconde rotation v1"));
  h.update(crypto::to_bytes(csr_der));
  return h.finish();
}

std::string str(const crypto::bytes& b) {
  return {b.begin(), b.end()};
}

} // namespace

crypto::issue_profile child_issue_profile(const crypto::certificate& parent, const std::string& fqdn) {
  crypto::issue_profile profile;
  int parent_len = parent.path_length();
  profile.is_ca = parent_len != 0;
  profile.path_length = parent_len > 0 ? parent_len - 1 : -1;
  if (profile.is_ca)
    profile.permitted_dns = {fqdn};
  profile.validity = node_validity;
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
  req.set_rotated_at_ms(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  req.set_csr(der);
  return proto::serialize(req);
}

result<std::pair<std::string, v1::NodeIdentity>>
answer_rotation_request(trust_view& trust, const node_signer& signer, const std::string& origin,
                        const v1::NodeIdentity& enrolled, std::string_view request,
                        std::chrono::system_clock::time_point now) {
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
                           child_issue_profile(own.front(), origin));
  if (!cert)
    return cert.err();
  v1::Rotation answer;
  answer.set_fqdn(origin);
  answer.set_old_fingerprint(req->old_fingerprint());
  answer.set_rotated_at_ms(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
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

} // namespace joconde
