#pragma once

// What makes a CTSC acceptable (issue 3; spec §4.4.1.2): checked by the origin before it sends a
// draft, by the root before it registers one, and by every peer that receives one. Plain code.

#include "joconde/artefacts.pb.h"
#include "joconde/messages/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace joconde {

/// Checks everything a CTSC must satisfy on its own: title, engine known and the right number of
/// distinct CPs, peers distinct and each with a role, the organiser a peer, inputs and outputs with
/// unique keys owned by or sent to named peers and in line with the peer roles, well-formed schemas,
/// deadlines in order, (unless `registered`) the approval deadline in the future, and an algorithm
/// that compiles for the engine with its disclosures stated (engines::check_algorithm).
result<void> check_ctsc(const v1::Ctsc& ctsc, int64_t now_ms, bool registered);

/// Checks a peer's CTSA against its CTSC: it names at least one signatory; every data custodian and
/// analyst has a name, a PAK that is an EC P-256 public key (DER SubjectPublicKeyInfo) and only keys
/// of inputs this peer owns / outputs it receives; every such input and output is covered by
/// someone (unless `require_coverage` is false, as for checking single people before a CTSA exists).
result<void> check_ctsa(const v1::Ctsa& ctsa, const v1::Ctsc& ctsc, bool require_coverage = true);

/// A fresh UUIDv4 in canonical lowercase form.
std::string new_uuid();

/// True if `s` is a canonical lowercase UUID.
bool is_uuid(std::string_view s);

} // namespace joconde
