#pragma once

// The CTA records a node holds (node_store::ctas), read the same way by every actor that needs one.

#include "../mplane/node_store.hpp"

#include "joconde/agreement.pb.h"

#include <cstddef>
#include <optional>
#include <string>

namespace joconde {

/// The CtaRecord this node holds for `uuid`, or none; a record over `max_bytes` is refused.
result<std::optional<v1::CtaRecord>> load_cta_record(const node_store& store, const std::string& uuid,
                                                      std::size_t max_bytes);

} // namespace joconde
