#pragma once

// CTSA and signature intake, a workflow of the artefact manager (artefact_manager.hpp; spec
// §4.4.1.3): at a peer, the people's PAKs are registered for a CTA, an IT administrator may accept
// an unconfirmed member (SYS-2.1), the Task Organiser submits the peer's CTSA (signed by the node)
// and its Signatories sign it; each goes to the root, which checks and keeps it and answers
// (cta.accepted) or refuses (cta.refused).

#include "artefact_manager_state.hpp"

#include "joconde/agreement.pb.h"

#include <caf/result.hpp>

#include <string>

namespace joconde {

// The HTTP API's requests come with the record of the CTA they are about, loaded by the behaviour
// once it checked they came from this node.

/// At a peer (HTTP API): the Task Organiser's CTSA for the CTA of `record` (signatories, data
/// custodians, data analysts); signed by the node and sent to the root, answered once the root
/// accepted or refused it.
caf::result<cta_receipt> submit_ctsa(artefact_manager_pointer self, v1::CtaRecord record,
                                     const proto_bytes<v1::Ctsa>& given, const std::string& user);

/// At a peer (HTTP API): a Signatory's signature (signatory index and document) of the peer's
/// current CTSA; sent to the root, answered once the root accepted or refused it.
caf::result<cta_receipt> countersign(artefact_manager_pointer self, const v1::CtaRecord& record,
                                     const proto_bytes<v1::SignatorySignature>& given,
                                     const std::string& user);

/// At a peer (HTTP API): registers a data custodian's (input keys) or analyst's (output keys) PAK
/// (name, pak, keys, custodian) for the CTA of `record` at this node.
caf::result<proto_bytes<v1::PakRecord>> register_pak(artefact_manager_pointer self, const v1::CtaRecord& record,
                                      const proto_bytes<v1::PakRecord>& given, const std::string& user);

/// At a peer (HTTP API): an IT administrator lets this node commit to the CTA of `record` although
/// `member` was not confirmed out of band here (SYS-2.1); stored and audited.
caf::result<proto_bytes<v1::TrustOverride>> override_member(artefact_manager_pointer self, const v1::CtaRecord& record,
                                         const std::string& member, const std::string& reason,
                                         const std::string& user);

/// At the root: a peer's CTSA (cta.ctsa).
void on_ctsa(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At the root: a Signatory of `origin` signed its current CTSA (cta.signature).
void on_signature(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

/// At a peer: the root accepted something this node sent (cta.accepted).
void on_accepted(artefact_manager_pointer self, const std::string& origin, const std::string& payload);

} // namespace joconde
