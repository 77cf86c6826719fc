#pragma once

// What `joconde upload` and `joconde download` sign on the person's machine: the slot authorization
// (vm.proto SlotAuthorization) signed with the person's PAK, whose private key never leaves the
// key file. The node and the CT VMs see only the signature.

#include "joconde/messages/result.hpp"

#include <cstdint>
#include <string>

namespace joconde::cli {

/// The hex of a SignedAuthorization for `slot` of CT `uuid` (upload: an input; else an output),
/// issued now with a fresh random request id, signed by the EC key in `key_file` (PEM, encrypted
/// with the first line of `passphrase_file`). invalid_config when the key file or pass phrase
/// cannot be read or do not fit.
result<std::string> signed_authorization(const std::string& uuid, const std::string& slot, bool upload,
                                         const std::string& key_file, const std::string& passphrase_file,
                                         std::int64_t now_ms);

} // namespace joconde::cli
