#pragma once

// The context of one CT VM (vm_run.hpp, DESIGN.md §4): what every actor of the tree reads and nobody
// changes after start. The shared objects it points to (metrics, sealing key, the peer link exchange,
// the stopping flag) are safe to use from any thread. Include only from actors/vm sources.

#include "vm_run.hpp"

#include "joconde/enclave/platform.hpp"
#include "joconde/enclave/sealing.hpp"
#include "joconde/enclave/simulated.hpp"

#include <joconde/agreement.pb.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

namespace joconde::metrics {
class vm_registry;
} // namespace joconde::metrics

namespace joconde::vm::detail {

namespace fs = std::filesystem;

class peer_link_exchange;

/// The things every actor of the tree reads and nobody changes after start.
struct vm_context {
  vm_options options;
  image_config image;
  enclave::host_data host{};
  v1::FinalCta final;
  std::string uuid;
  std::string cta_hash_hex;
  unsigned parties = 0;
  std::shared_ptr<const enclave::attester> attester;
  std::shared_ptr<enclave::simulated_verifier> verifier;
  enclave::reference_values reference;
  std::shared_ptr<metrics::vm_registry> metrics;
  std::shared_ptr<enclave::sealing_key> key;
  fs::path slots_dir;
  /// Where the session manager's threads leave attested counterpart links for the orchestrator.
  std::shared_ptr<peer_link_exchange> links;
  std::shared_ptr<std::atomic<bool>> stopping = std::make_shared<std::atomic<bool>>(false);
};

using context_ptr = std::shared_ptr<const vm_context>;

/// The number of columns input `slot` of the CT declares (0 for no such input).
inline std::uint64_t input_columns(const vm_context& ctx, const std::string& slot) {
  for (const auto& in : ctx.final.cta().ctsc().inputs())
    if (in.key() == slot)
      return static_cast<std::uint64_t>(in.schema_size());
  return 0;
}

/// True if input `slot` of the CT has a data-quality check (run when an upload of it completes).
inline bool has_quality_check(const vm_context& ctx, const std::string& slot) {
  for (const auto& in : ctx.final.cta().ctsc().inputs())
    if (in.key() == slot)
      return !in.data_quality().source().empty();
  return false;
}

} // namespace joconde::vm::detail
