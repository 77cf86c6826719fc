#pragma once

// The gauges the node's store answers (docs/operations.md, monitoring): how full the LMDB map is,
// the CTAs held by status, and how soon the live CTs' current deadlines come. Sampled by the node
// every few seconds; plain code, no CAF.

#include "../mplane/node_store.hpp"

#include "joconde/runtime/metrics.hpp"

#include <cstdint>

namespace joconde {

/// Sets joconde_lmdb_map_size_bytes, joconde_lmdb_used_bytes, joconde_lmdb_free_pages,
/// joconde_ctas{status} and joconde_ct_deadline_seconds{deadline} in `meters` from `store` at
/// `now_ms`. The deadline of a CT is the one of its current step: approval while it is emerging; once instantiated, the first of
/// input, execution and output still ahead. A record that does not parse is left out.
void sample_store(const node_store& store, metrics::registry& meters, std::int64_t now_ms);

} // namespace joconde
