#pragma once

// `joconde-node run`: brings a Service Node up and keeps it running until a signal.

#include "node_config.hpp"

namespace joconde {

/// Runs the node described by `cfg`; returns the process exit code.
int run_node(const node_config& cfg);

} // namespace joconde
