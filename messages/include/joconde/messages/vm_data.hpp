#pragma once

// The plain data the actors of a CT VM exchange (DESIGN.md §4; the interfaces are in vm.hpp):
// small structs, each with an inspect() overload so that CAF can serialise, copy and print them.
// No CAF here: the VM's plain classes (task_policy, upload_ledger) use these types too.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace joconde::vm {

/// A slot's content sealed at this CP: where, how many rows, the SHA-256 of its shares.
struct sealed_content {
  std::string path;    ///< the sealed slot file
  std::uint64_t rows = 0;
  std::string sha256;  ///< hex
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sealed_content& x) {
  return f(x.path, x.rows, x.sha256);
}

} // namespace joconde::vm
