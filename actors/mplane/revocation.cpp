#include "revocation.hpp"

#include "joconde/messages/proto.hpp"

#include <algorithm>

namespace joconde {

namespace {

crypto::bytes digest_of(v1::Revocation rev) {
  rev.clear_signature();
  auto body = proto::serialize(rev);
  crypto::sha256_hasher h;
  h.update(crypto::to_bytes("joconde revocation v1"));
  h.update(crypto::to_bytes(body));
  return h.finish();
}

int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

} // namespace

result<std::string> make_revocation(const std::string& fqdn, const std::string& fingerprint,
                                    const std::string& reason, bool root_mark,
                                    const std::vector<std::string>& signer_chain,
                                    const node_signer& signer,
                                    std::chrono::system_clock::time_point now) {
  v1::Revocation rev;
  rev.set_fqdn(fqdn);
  rev.set_fingerprint(fingerprint);
  rev.set_kind(root_mark ? v1::Revocation::KIND_ROOT : v1::Revocation::KIND_SELF);
  rev.set_reason(reason);
  rev.set_revoked_at_ms(to_ms(now));
  for (const auto& der : signer_chain)
    rev.mutable_signer_chain()->add_certificates(der);
  auto sig = signer.sign(digest_of(rev));
  if (!sig)
    return sig.err();
  rev.set_signature(std::string{sig->begin(), sig->end()});
  return proto::serialize(rev);
}

result<v1::Revocation> verify_revocation(trust_view& trust, std::string_view bytes,
                                         std::chrono::system_clock::time_point now) {
  auto rev = proto::parse<v1::Revocation>(bytes, 64 * 1024);
  if (!rev)
    return rev.err();
  if (rev->reason().size() > 1024 || rev->fqdn().empty() || rev->fingerprint().empty())
    return fail(errc::malformed_input, "a revocation needs a node, a fingerprint and a short reason");
  std::vector<std::string> chain{rev->signer_chain().certificates().begin(),
                                 rev->signer_chain().certificates().end()};
  if (chain.empty())
    return fail(errc::untrusted_chain, "the revocation carries no signer chain");
  // Parse and check the signer's chain without the revocation list: a self revocation is signed
  // by the very certificate it revokes.
  std::vector<crypto::certificate> certs;
  for (const auto& der : chain) {
    auto c = crypto::certificate::from_der(crypto::to_bytes(der));
    if (!c)
      return c.err();
    certs.push_back(std::move(*c));
  }
  std::vector<crypto::certificate> intermediates{certs.begin() + 1, certs.end()};
  if (auto ok = crypto::verify_chain(certs.front(), intermediates, trust.root_ca(), now); !ok)
    return ok.err();
  auto names = certs.front().dns_names();
  auto signer = names.empty() ? std::string{} : names.front();
  switch (rev->kind()) {
    case v1::Revocation::KIND_SELF:
      if (certs.front().fingerprint() != rev->fingerprint() || signer != rev->fqdn())
        return fail(errc::forbidden, "a self revocation must be signed by the revoked certificate");
      break;
    case v1::Revocation::KIND_ROOT: {
      const auto& own = trust.own_chain();
      auto root_names = own.empty() ? std::vector<std::string>{} : own.back().dns_names();
      if (certs.size() != 1 || root_names.empty() || signer != root_names.front())
        return fail(errc::forbidden, "only the root node may mark a key as lost");
      break;
    }
    default:
      return fail(errc::malformed_input, "unknown revocation kind");
  }
  if (auto ok = certs.front().public_key().verify(digest_of(*rev),
                                                  crypto::to_bytes(rev->signature()));
      !ok)
    return fail(errc::bad_signature, "the revocation's signature does not verify");
  return rev;
}

std::string key_sha256(const crypto::public_key& key) {
  return crypto::hex(crypto::sha256(key.to_der()));
}

std::vector<std::string> revoked_key_hashes(const v1::Revocation& rev, const lmdb::txn_base& txn,
                                            const node_store& store) {
  std::vector<std::string> out;
  auto add = [&](const std::string& der) {
    auto cert = crypto::certificate::from_der(crypto::to_bytes(der));
    if (cert && cert->fingerprint() == rev.fingerprint())
      out.push_back(key_sha256(cert->public_key()));
  };
  if (rev.kind() == v1::Revocation::KIND_SELF && rev.signer_chain().certificates_size() > 0)
    add(rev.signer_chain().certificates(0));
  if (auto child = txn.get(store.children, rev.fqdn()); child && child->has_value()) {
    v1::NodeIdentity id;
    if (proto::parse_into(id, **child, 64 * 1024) && id.chain().certificates_size() > 0)
      add(id.chain().certificates(0));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

result<void> refuse_revoked_key(const lmdb::txn_base& txn, const node_store& store,
                                const crypto::public_key& key) {
  auto hash = key_sha256(key);
  auto revoked = txn.get(store.revoked_keys, hash);
  if (!revoked)
    return revoked.err();
  if (revoked->has_value())
    return fail(errc::forbidden, "the key of this request belongs to certificate " + **revoked
                                   + ", which was revoked: a revoked key is never registered again; "
                                     "make a new key");
  return ok();
}

} // namespace joconde
