#include "artefact_signatures.hpp"

#include "cta_records.hpp"
#include "ctsc_rules.hpp"
#include "personal_data.hpp"

#include "../mplane/rotation.hpp"

#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/clock.hpp"

#include <chrono>

namespace joconde {

namespace {

std::string as_string(const crypto::bytes& b) {
  return {b.begin(), b.end()};
}

/// True if `fqdn` is a peer or a Computing Party of the CTSC.
bool names(const v1::Ctsc& ctsc, const std::string& fqdn) {
  for (const auto& cp : ctsc.computing_parties())
    if (cp.fqdn() == fqdn)
      return true;
  return is_peer(ctsc, fqdn);
}

} // namespace

std::string ctsc_hash_hex(const v1::Ctsc& ctsc) {
  auto h = canonical_hash(ctsc);
  return h ? crypto::hex(*h) : std::string{};
}

result<crypto::certificate> leaf_of(const v1::Ctsc& ctsc, const std::string& fqdn) {
  for (const auto& p : ctsc.peers())
    if (p.fqdn() == fqdn && p.chain().certificates_size() > 0)
      return crypto::certificate::from_der(crypto::to_bytes(p.chain().certificates(0)));
  return fail(errc::unknown_peer, fqdn + " is not a peer of CTA " + ctsc.uuid());
}

result<v1::NodeSignature> make_node_signature(const node_signer& signer, const trust_view& trust,
                                              v1::ArtefactKind kind, const crypto::bytes& artefact_hash,
                                              const std::vector<std::string>& rotations) {
  v1::NodeSignature ns;
  ns.set_signer(trust.self());
  ns.set_signer_fingerprint(trust.own_chain().front().fingerprint());
  ns.set_kind(kind);
  ns.set_artefact_sha256(as_string(artefact_hash));
  ns.set_signed_at_ms(now_ms());
  for (const auto& notice : rotations)
    ns.add_rotations(notice);
  auto digest = canonical_hash(ns);
  if (!digest)
    return digest.err();
  auto sig = signer.sign(*digest);
  if (!sig)
    return sig.err();
  ns.set_signature(as_string(*sig));
  return ns;
}

result<void> verify_node_signature(const v1::NodeSignature& ns, const crypto::certificate& leaf,
                                   const crypto::bytes& artefact_hash) {
  if (ns.signer_fingerprint() != leaf.fingerprint())
    return fail(errc::bad_signature, "the signature names certificate " + ns.signer_fingerprint()
                                       + ", not " + leaf.fingerprint());
  if (ns.artefact_sha256() != as_string(artefact_hash))
    return fail(errc::bad_signature, "the node signature is over another artefact");
  auto unsigned_ns = ns;
  unsigned_ns.clear_signature();
  auto digest = canonical_hash(unsigned_ns);
  if (!digest)
    return digest.err();
  return leaf.public_key().verify(*digest, crypto::to_bytes(ns.signature()));
}

result<void> verify_member_signature(trust_view& trust, const v1::NodeSignature& ns,
                                     const crypto::certificate& named, const crypto::bytes& artefact_hash) {
  if (ns.rotations().empty())
    return verify_node_signature(ns, named, artefact_hash);
  std::vector<std::string> notices{ns.rotations().begin(), ns.rotations().end()};
  auto leaf = follow_rotations(trust, named, ns.signer(), notices, std::chrono::system_clock::now());
  if (!leaf)
    return fail(errc::bad_signature, "the signer's certificate does not succeed the one the CTSC names: "
                                       + leaf.err().message);
  return verify_node_signature(ns, *leaf, artefact_hash);
}

result<void> verify_chains(trust_view& trust, const v1::Ctsc& ctsc) {
  auto check = [&](const std::string& fqdn, const v1::CertificateChain& chain) -> result<void> {
    std::vector<std::string> der{chain.certificates().begin(), chain.certificates().end()};
    auto node = trust.verify_chain(der, std::chrono::system_clock::now());
    if (!node)
      return fail(node.err().code, "the chain of " + fqdn + ": " + node.err().message);
    if (node->fqdn != fqdn)
      return fail(errc::untrusted_chain, "the chain given for " + fqdn + " is " + node->fqdn + "'s");
    return ok();
  };
  for (const auto& p : ctsc.peers())
    if (auto r = check(p.fqdn(), p.chain()); !r)
      return r;
  for (const auto& cp : ctsc.computing_parties())
    if (auto r = check(cp.fqdn(), cp.chain()); !r)
      return r;
  return ok();
}

result<v1::FinalCta> make_final(const node_signer& signer, const trust_view& trust,
                                const v1::CtaRecord& record) {
  v1::FinalCta fin;
  *fin.mutable_cta() = assemble_cta(record);
  auto hash = cta_hash(fin.cta());
  if (!hash)
    return hash.err();
  auto ns = make_node_signature(signer, trust, v1::ARTEFACT_KIND_CTA, *hash);
  if (!ns)
    return ns.err();
  *fin.mutable_root_signature() = std::move(*ns);
  return fin;
}

namespace {

/// The CTSA of peer `i` in a final CTA: for this CTSC, valid, signed by that peer's node and
/// approved as it stands.
result<void> check_final_ctsa(trust_view& trust, const v1::Cta& cta, int i, const crypto::bytes& ctsc_hash) {
  const auto& ctsc = cta.ctsc();
  const auto& peer = ctsc.peers(i).fqdn();
  const auto& ctsa = cta.ctsas(i);
  if (ctsa.peer() != peer || ctsa.ctsc_uuid() != ctsc.uuid() || ctsa.ctsc_sha256() != as_string(ctsc_hash))
    return fail(errc::malformed_input, "the CTSA of " + peer + " is not for this CTSC");
  if (auto r = check_ctsa(ctsa, ctsc); !r)
    return r;
  auto h = ctsa_hash(ctsa);
  if (!h)
    return h.err();
  auto leaf = leaf_of(ctsc, peer);
  if (!leaf)
    return leaf.err();
  if (cta.node_signatures(i).signer() != peer)
    return fail(errc::bad_signature, "the CTSA of " + peer + " is signed by another node");
  if (auto r = verify_member_signature(trust, cta.node_signatures(i), *leaf, *h); !r)
    return fail(errc::bad_signature, "the node signature of " + peer + ": " + r.err().message);
  const auto& d = cta.so_decisions(i);
  if (!d.approved() || d.peer() != peer || d.ctsa_sha256() != as_string(*h))
    return fail(errc::malformed_input, "the CTSA of " + peer + " is not approved as it stands");
  return ok();
}

} // namespace

result<void> check_final(trust_view& trust, const std::string& root, const v1::FinalCta& fin) {
  const auto& cta = fin.cta();
  const auto& ctsc = cta.ctsc();
  // Signed by the root: the root node's certificate is the last of this node's own chain.
  auto own = trust.own_chain(); // a copy: the view may rotate meanwhile
  const auto& root_cert = trust.self() == root ? own.front() : own.back();
  auto signed_hash = cta_hash(cta);
  if (!signed_hash)
    return signed_hash.err();
  if (fin.root_signature().kind() != v1::ARTEFACT_KIND_CTA || fin.root_signature().signer() != root)
    return fail(errc::bad_signature, "the CTA is not signed by the root");
  if (auto r = verify_node_signature(fin.root_signature(), root_cert, *signed_hash); !r)
    return fail(errc::bad_signature, "the root's signature over the CTA: " + r.err().message);
  if (auto r = check_ctsc(ctsc, now_ms(), true); !r)
    return r;
  if (auto r = verify_chains(trust, ctsc); !r)
    return r;
  auto ctsc_hash = canonical_hash(ctsc);
  if (!ctsc_hash)
    return ctsc_hash.err();
  if (cta.ctsas_size() != ctsc.peers_size() || cta.node_signatures_size() != ctsc.peers_size()
      || cta.so_decisions_size() != ctsc.peers_size())
    return fail(errc::malformed_input, "a final CTA has one CTSA, node signature and approval per peer");
  for (int i = 0; i < ctsc.peers_size(); ++i)
    if (auto r = check_final_ctsa(trust, cta, i, *ctsc_hash); !r)
      return r;
  if (!names(ctsc, trust.self()))
    return fail(errc::forbidden, "this node is not named in CTA " + ctsc.uuid());
  return ok();
}

} // namespace joconde
