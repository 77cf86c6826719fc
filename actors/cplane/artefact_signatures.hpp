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
result<v1::NodeSignature> make_node_signature(const node_signer& signer, const trust_view& trust,
                                              v1::ArtefactKind kind, const crypto::bytes& artefact_hash);

/// Checks a node signature over `artefact_hash` made with `leaf`'s key.
result<void> verify_node_signature(const v1::NodeSignature& ns, const crypto::certificate& leaf,
                                   const crypto::bytes& artefact_hash);

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
