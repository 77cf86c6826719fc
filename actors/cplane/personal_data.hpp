#pragma once

// Minimisation of the people an agreement names (spec §4.4.3: "the name of the owner is sensitive
// data which is not required for the operation of the System"; §4.4.1.1: a peer needs to know the
// other organisations, not their people; docs/artefact-fields.md). A signatory's name and
// identification, a data custodian's or analyst's name and a signature document travel in full
// only to the root and to the peer they belong to; every other node (the other peers, the
// Computing Parties and their CT VMs) gets a salted commitment in their place. Every hash of a CTSA
// or a CTA is taken over the committed form, so both copies carry the same hashes and signatures
// (docs/canonical-hashing.md §6). Plain code.

#include "joconde/artefacts.pb.h"
#include "joconde/messages/result.hpp"
#include "joconde/runtime/crypto.hpp"

#include <string>

namespace joconde {

/// Length of the salt of a person's commitment.
constexpr size_t personal_salt_bytes = 16;

/// The commitment to `personal` (a message holding only a person's personal fields) under `salt`:
/// SHA-256("joconde/v1/commitment" || 0x00 || salt || canonical_bytes(personal)).
result<crypto::bytes> commitment_of(const google::protobuf::Message& personal, std::string_view salt);

/// Draws a salt for every person of `ctsa` in full form that has none (the peer's node, before it
/// signs).
void salt_personal(v1::Ctsa& ctsa);

/// Draws the salt of a signature document in full form that has none.
void salt_personal(v1::SignatorySignature& sig);

/// Replaces every personal field of `ctsa` by its commitment (entries committed already stay).
/// malformed_input for an entry with both values and a commitment, or a salt that is not 16 bytes.
result<void> commit_personal(v1::Ctsa& ctsa);

/// The same for a signatory signature's document.
result<void> commit_personal(v1::SignatorySignature& sig);

/// The same for every CTSA and signature document of `cta` but those of peer `keep` (its own).
result<void> commit_personal(v1::Cta& cta, const std::string& keep = {});

/// The hash that node signatures, signatory signatures and SO decisions cover: the canonical hash
/// of the CTSA's committed form.
result<crypto::bytes> ctsa_hash(const v1::Ctsa& ctsa);

/// The hash the root signs and the CT VMs are launched with: the canonical hash of the CTA's
/// committed form.
result<crypto::bytes> cta_hash(const v1::Cta& cta);

} // namespace joconde
