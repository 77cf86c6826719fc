#pragma once

// The canonical hash of an artefact: SHA-256 over a domain-separation label, the message's full type
// name, a 0x00 byte and its canonical bytes (docs/canonical-hashing.md; DESIGN.md §5). It is what
// CTSAs pin of the CTSC, what node and signatory signatures cover and what CT VMs agree on.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/crypto.hpp"

#include <google/protobuf/message.h>

namespace joconde {

/// SHA-256("joconde/v1/" || full type name || 0x00 || canonical bytes) of `msg` (32 bytes);
/// malformed_input when `msg` has no canonical form (see joconde::proto::canonical_bytes).
result<crypto::bytes> canonical_hash(const google::protobuf::Message& msg);

} // namespace joconde
