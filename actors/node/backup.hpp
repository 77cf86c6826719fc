#pragma once

// Backing up a node and restoring it (docs/operations.md, backup and restore): `joconde-node backup
// --dir DIR --to FILE` while the node runs, `joconde-node restore --from FILE --dir DIR
// --passphrase-file FILE` into an empty directory. No CAF here.
//
// What a backup holds: every file of the node's directory DIR (its configuration joconde.ini, the
// encrypted node key, certificates, the admin token, the audit log and its head, the simulated TEE
// platform's files) and a consistent, compacted copy of the LMDB store taken in one read
// transaction while the node goes on writing. What it never holds: the pass phrase (kept apart by
// the operator; without it the backup opens nothing), the CT VMs' directories (ct/, ct-logs/: a CT
// VM's state is never copied out of it), the root CA key (offline/, at the root: it belongs in
// offline storage), the process logs (node.log*, the RFC 5424 log file).
//
// The file is encrypted and authenticated: AES-256-GCM in chunks of 1 MiB under a key derived from
// the node's pass phrase with scrypt (N 2^15, r 8, p 1) and a random salt; each chunk's nonce and
// authenticated data carry its index and whether it is the last, so a chunk changed, dropped,
// reordered or cut off is refused.
//
// Layout: "JCBACKUP", version 1, scrypt log2(N), r, p, salt (16), nonce prefix (8); then chunks,
// each a big-endian u32 length and ciphertext || tag. The plaintext is a sequence of entries:
// 'F', u16 path length, path (relative, '/'-separated), u32 mode, u64 size, the bytes; then 'E'.

#include "joconde/messages/result.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace joconde::backup {

/// What a backup wrote.
struct summary {
  std::vector<std::string> files;  ///< relative paths, in the order written
  std::uint64_t bytes = 0;         ///< plaintext bytes of the files
  std::uint64_t file_bytes = 0;    ///< size of the backup file
};

/// Backs up the node whose directory is `dir` (with joconde.ini) into the new file `to` (mode 0600;
/// refused if it exists), encrypted under the pass phrase of the node's passphrase file.
/// invalid_config when the configuration or pass phrase cannot be read, io_error / storage_error
/// when a file or the store cannot be read or written. A partial file is removed.
result<summary> create(const std::filesystem::path& dir, const std::filesystem::path& to);

/// Restores `from` into `dir` (created; refused with already_exists if it holds anything), with
/// the pass phrase in `passphrase_file`, which is also written where the restored configuration
/// expects it when that is inside `dir`. Refused, and nothing left behind: bad_mac for a wrong pass
/// phrase or a changed file, malformed_input for a file that is not a backup, cut off or naming an
/// unsafe path; then the restored node key must open with the pass phrase and the store must open.
result<summary> restore(const std::filesystem::path& from, const std::filesystem::path& dir,
                        const std::filesystem::path& passphrase_file);

} // namespace joconde::backup
