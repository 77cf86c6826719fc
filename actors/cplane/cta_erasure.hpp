#pragma once

// What a node erases of a CTA at the end of its retention (spec §4.4.3, BUS-4.9): every payload it
// holds for it — the broker's inbox copies of the CTA's envelopes, the people's public keys (PAK
// records), the trust overrides, and in the CTA record everything but its tombstone (uuid, title,
// final status and reason, the CTSC hash) — then asks the store for a scrub, so that the bytes
// are gone from the file too (lmdb::environment::scrub_if_wanted, run by the node's loop).

#include "../mplane/node_store.hpp"

#include "joconde/messages/result.hpp"

#include <set>
#include <string>

namespace joconde {

/// What erase_cta_payloads removed.
struct cta_erasure {
  size_t inbox = 0;      ///< inbox records of the CTA's envelopes
  size_t paks = 0;       ///< PAK records
  size_t overrides = 0;  ///< trust overrides
};

/// Removes, in one commit, what `store` holds for the CTAs `uuids` besides their records, and asks
/// for a scrub. The records themselves are stripped to their tombstones by the caller
/// (strip_to_fact).
result<cta_erasure> erase_cta_payloads(const node_store& store, const std::set<std::string>& uuids);

} // namespace joconde
