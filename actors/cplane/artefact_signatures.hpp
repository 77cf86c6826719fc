#pragma once

// The signatures and certificate chains that hold a CTA together (DESIGN.md §5, spec §4.4.1.4): a
// peer's node signs its CTSA, the root's node signs the final CTA, and every chain a CTSC carries
// leads to the root. Plain functions over the node's signer and trusted view: testable without
// actors.

#include "../mplane/node_signer.hpp"
#include "../mplane/trust_view.hpp"

#include "joconde/agreement.pb.h"
#include "joconde/messages/result.hpp"
#include "joconde/runtime/crypto.hpp"

#include <string>

namespace joconde {

/// The canonical hash of a CTSC in hex; empty if it has none.
std::string ctsc_hash_hex(const v1::Ctsc& ctsc);

/// The leaf certificate the CTSC gives for peer `fqdn`; unknown_peer if it names no such peer.
result<crypto::certificate> leaf_of(const v1::Ctsc& ctsc, const std::string& fqdn);

/// This node's signature of `kind` over an artefact's canonical hash, made with the node key.
/// `rotations`: when this node's certificate is a rotation successor of the one the artefact's CTSC
/// names, the notices that lead there (confirmations.hpp rotation_path), carried in the signature.
result<v1::NodeSignature> make_node_signature(const node_signer& signer, const trust_view& trust,
                                              v1::ArtefactKind kind, const crypto::bytes& artefact_hash,
                                              const std::vector<std::string>& rotations = {});

/// Checks a node signature over `artefact_hash` made with `leaf`'s key.
result<void> verify_node_signature(const v1::NodeSignature& ns, const crypto::certificate& leaf,
                                   const crypto::bytes& artefact_hash);

/// Checks the signature of a CTA member whose certificate in the CTSC is `named`: made with that
/// certificate's key, or with the key of a successor the signature's rotation notices lead to from
/// it (a node that rotated its key during the agreement, spec §4.4.2.3; rotation.hpp
/// follow_rotations).
result<void> verify_member_signature(trust_view& trust, const v1::NodeSignature& ns,
                                     const crypto::certificate& named, const crypto::bytes& artefact_hash);

/// Every chain in a registered CTSC leads to the root, names the node it is for, and is not
/// revoked.
result<void> verify_chains(trust_view& trust, const v1::Ctsc& ctsc);

/// At the root, when every CTSA is approved: the CTA as `record` makes it, signed by the root's node.
result<v1::FinalCta> make_final(const node_signer& signer, const trust_view& trust,
                                const v1::CtaRecord& record);

/// Every check a node (`trust.self()`, under root `root`) makes on a final CTA before it keeps it:
/// signed by the root, its CTSC valid with good chains, one CTSA per peer for this CTSC, valid,
/// signed by that peer's node and approved as it stands, and this node named in it.
result<void> check_final(trust_view& trust, const std::string& root, const v1::FinalCta& fin);

} // namespace joconde
