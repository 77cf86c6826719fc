#pragma once

// The nodes this node knows (spec §4.4.3.3, ADR-5: each Service Node keeps a trusted view of the
// Service Nodes it works with, built by earlier computations): itself, the children it enrolled,
// and every peer and Computing Party of the agreements it holds, each with what its certificate
// says and whether its fingerprint was confirmed out of band here. A Task Organiser drafts a task
// from this list (GET /v1/nodes). Plain code, read from the store.

#include "../mplane/node_store.hpp"

#include "joconde/runtime/crypto.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace joconde {

/// One node as this node knows it.
struct known_node {
  std::string fqdn;
  std::string role;          ///< "peer", "computing_party" or "root"
  std::string organisation;  ///< O of its leaf certificate ("" when none is known here)
  std::string department;    ///< OU
  std::string contact;       ///< emailAddress: the node's non-personal contact
  std::string fingerprint;   ///< SHA-256 of its leaf certificate (the newest one seen)
  std::string trust;         ///< "self", "confirmed" or "unconfirmed"
  std::uint32_t ctas = 0;    ///< agreements held here that name it
  std::int64_t last_seen_ms = 0; ///< when the newest of them was drafted, or it was enrolled
};

/// Every node that node `self` (its FQDN, its role "computing", "client" or "root", its leaf
/// certificate) knows from `store`: itself first, then by FQDN. Records that do not parse are left
/// out, never guessed at.
result<std::vector<known_node>> known_nodes(const node_store& store, const std::string& self,
                                            const std::string& self_role, const crypto::certificate& self_leaf);

} // namespace joconde
