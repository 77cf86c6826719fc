#pragma once

// Merkle tree hashing as RFC 6962 §2.1 (and RFC 9162 §2.1) defines it: SHA-256, leaves hashed with a
// 0x00 prefix and interior nodes with 0x01, so no leaf can pass for a node. Used to sign many
// envelopes with one signature: the origin signs the root, and each envelope carries the audit path
// from its own leaf to that root (docs/service-nodes.md, "Batch signatures").

#include "joconde/messages/result.hpp"
#include "joconde/runtime/crypto.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace joconde::merkle {

/// A SHA-256 value.
using hash = std::array<std::uint8_t, 32>;

/// The most leaves one tree may have; an audit path is at most 32 hashes long.
constexpr std::uint64_t max_leaves = std::uint64_t{1} << 32;

/// SHA-256(0x00 || data).
hash leaf_hash(crypto::bytes_view data);

/// SHA-256(0x01 || left || right).
hash node_hash(const hash& left, const hash& right);

/// A whole tree over given leaf hashes: its root and every leaf's audit path.
struct tree {
  hash root{};
  std::vector<std::vector<hash>> paths; ///< paths[i]: leaf i's siblings, leaf level first
};

/// Builds the tree over `leaves` (leaf hashes, at least one; malformed_input otherwise).
result<tree> build(const std::vector<hash>& leaves);

/// The root that `path` leads to from leaf `index` of a tree of `size` leaves whose hash is `leaf`
/// (RFC 9162 §2.1.3.2). malformed_input if index, size and path length do not fit together; whether
/// the root is the right one is for the caller to check (for envelopes: the origin signed it).
result<hash> root_from_path(const hash& leaf, std::uint64_t index, std::uint64_t size,
                            const std::vector<hash>& path);

} // namespace joconde::merkle
