#pragma once

// What every joconde process configures alike in its actor system: joconde's type ids (type_ids.hpp;
// both ends of a CAF connection must register the same names) and the link's wire version, so that
// nodes of builds whose interfaces differ refuse to talk instead of misreading each other. Include
// only from program mains and tests: this header pulls in CAF's configuration.

#include "joconde/messages/type_ids.hpp"

#include <caf/actor_system_config.hpp>

#include <string>
#include <vector>

namespace joconde {

/// The version of the messages nodes exchange over CAF; raise it when an interface there changes
/// (v2: status answers a caf::settings document).
inline constexpr const char* link_wire_version = "joconde-link-v2";

/// Registers joconde's type ids in `cfg`: all a process needs that talks to no other over CAF (a CT VM).
inline void register_messages(caf::actor_system_config& cfg) { cfg.add_message_types<caf::id_block::joconde>(); }

/// Registers joconde's type ids and pins the link's wire version in `cfg` (a node).
inline void configure_plane_messages(caf::actor_system_config& cfg) {
  register_messages(cfg);
  cfg.set("middleman.app-identifiers", std::vector<std::string>{link_wire_version});
}

} // namespace joconde
