#pragma once

// The io_service actor of a client node (DESIGN.md §4; messages/cplane.hpp io_service_actor): the
// node's HTTP API hands it a Data Custodian's upload or a Data Analyst's download; it loads the CT
// (final CTA, CT VM addresses) from the node's store and the TEE platform roots the node trusts, and
// runs io::upload / io::download (io_service.hpp) in a detached worker per request. Include only
// from CAF translation units.

#include "../mplane/node_store.hpp"
#include "joconde/messages/cplane.hpp"

#include <caf/typed_response_promise.hpp>

#include <filesystem>
#include <map>

namespace joconde {

/// At most this many uploads and downloads run at once at one node.
inline constexpr unsigned io_service_max_running = 4;

/// What the io_service needs from its node.
struct io_service_config {
  node_store store;                        ///< the CTAs this node holds (with their VMs' addresses)
  std::filesystem::path trusted_roots;     ///< PEM bundle of the TEE platform roots (tee.trusted-roots)
  audit_log_actor audit;                   ///< every upload and download, accepted or refused
};

/// The io_service actor.
io_service_actor::behavior_type io_service(io_service_actor::stateful_pointer<struct io_service_state> self,
                                           io_service_config cfg);

/// The state of the io_service actor.
struct io_service_state {
  io_service_config cfg;
  uint64_t next = 1;
  std::map<uint64_t, caf::typed_response_promise<io_receipt>> running;
  uint64_t uploads = 0, downloads = 0, refused = 0;
  static inline const char* name = "io_service";
};

} // namespace joconde
