#pragma once

// Where this computing node's CT VMs answer their host (their admin endpoints and bearer tokens),
// shared by the deployment operator, which fills it as VMs come and go, and the node's metrics
// listener, which serves each VM's metrics (GET /metrics/vm/UUID) and a Prometheus service-discovery
// list of them (GET /metrics/targets). Thread-safe; no CAF. The tokens never leave the node.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace joconde {

/// How the node reaches one CT VM's admin endpoint.
struct vm_admin_address {
  std::string admin;  ///< host:port (loopback by default)
  std::string token;  ///< its bearer token
};

class vm_directory {
public:
  /// The VM of CT `uuid` answers at `address`.
  void put(const std::string& uuid, vm_admin_address address) {
    std::lock_guard guard{mtx_};
    vms_[uuid] = std::move(address);
  }

  /// The VM of CT `uuid` ended.
  void drop(const std::string& uuid) {
    std::lock_guard guard{mtx_};
    vms_.erase(uuid);
  }

  /// The VM of CT `uuid`, if it runs.
  std::optional<vm_admin_address> find(const std::string& uuid) const {
    std::lock_guard guard{mtx_};
    auto it = vms_.find(uuid);
    return it == vms_.end() ? std::nullopt : std::optional<vm_admin_address>{it->second};
  }

  /// The CTs whose VMs run here.
  std::vector<std::string> uuids() const {
    std::lock_guard guard{mtx_};
    std::vector<std::string> out;
    for (const auto& [uuid, a] : vms_)
      out.push_back(uuid);
    return out;
  }

private:
  mutable std::mutex mtx_;
  std::map<std::string, vm_admin_address> vms_;
};

} // namespace joconde
