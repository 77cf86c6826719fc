#pragma once

// The CTA records a node holds (node_store::ctas), read the same way by every actor that needs one.

#include "../mplane/node_store.hpp"

#include "joconde/agreement.pb.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace joconde {

/// The most a CTA (CTSC, CTSAs, signatory signatures with their documents, node signatures and
/// approvals) may weigh, serialised: the final CTA travels to every holder in one envelope, whose
/// payload is at most 4 MiB. The root refuses a CTSA or a signature that would take a CTA past it.
constexpr std::size_t max_cta_bytes = 4 * 1024 * 1024 - 64 * 1024;

/// The most a node's record of a CTA may weigh: it holds the CTA about twice (as agreed and as
/// final) besides the VMs' addresses and events. A record over it is neither written nor read.
constexpr std::size_t max_cta_record_bytes = 16 * 1024 * 1024;

/// A stored CtaRecord read back (at most max_cta_record_bytes). A record written before its status
/// was an enum holds it by name (legacy_status): it is read into `status` here, the one place that
/// knows the old form; malformed_input for a name that is no status.
result<v1::CtaRecord> parse_cta_record(std::string_view bytes);

/// The CtaRecord this node holds for `uuid`, or none.
result<std::optional<v1::CtaRecord>> load_cta_record(const node_store& store, const std::string& uuid);

} // namespace joconde
