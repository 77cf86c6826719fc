#pragma once

// The sealed slot files of a CT VM (spec §4.3.2.5 "Protected Data Store"): each slot content's
// share columns sealed with the VM's sealing key (AES-GCM, bound to the CT, the slot and the content
// id) in DATA_DIR/slots/<slot>.<content>.sealed. Erasing the key erases them all (SYS-6.5).

#include "vm_context.hpp"

#include "joconde/messages/result.hpp"
#include "joconde/messages/vm_data.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace joconde::vm::detail {

/// The GCM associated data of a slot file: the CT, the slot and the content id.
std::string seal_ad(const vm_context& ctx, const std::string& slot, const std::string& content);

/// Seals the columns (JSH1 share encodings, valid flags last for outputs) of `content` of `slot`.
result<sealed_content> seal_columns(const vm_context& ctx, const std::string& slot,
                                    const std::string& content, const std::vector<std::string>& cols,
                                    std::uint64_t rows);

/// The content id a slot file of `slot` was sealed for (from its name).
std::string content_of(const std::string& slot, const sealed_content& c);

/// The bytes of the sealed slot file `path`.
result<std::string> read_sealed(const std::string& path);

/// The columns seal_columns sealed into `sealed` (a slot file's bytes).
result<std::vector<std::string>> unseal_columns(const vm_context& ctx, const std::string& slot,
                                                const std::string& content, const std::string& sealed);

/// Removes a file if it is there.
void remove_quietly(const std::string& path);

} // namespace joconde::vm::detail
