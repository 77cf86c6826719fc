#include "joconde/runtime/merkle.hpp"

#include <algorithm>
#include <string>

namespace joconde::merkle {

namespace {

hash to_hash(const crypto::bytes& digest) {
  hash out{};
  std::copy_n(digest.begin(), out.size(), out.begin());
  return out;
}

/// The largest power of two smaller than n (n >= 2), as RFC 6962 splits a tree.
std::uint64_t split_point(std::uint64_t n) {
  std::uint64_t k = 1;
  while (k * 2 < n)
    k *= 2;
  return k;
}

/// Hashes leaves[first, first + n) and appends each leaf's siblings within that subtree to its path.
hash subtree(const std::vector<hash>& leaves, size_t first, size_t n,
             std::vector<std::vector<hash>>& paths) {
  if (n == 1)
    return leaves[first];
  auto k = static_cast<size_t>(split_point(n));
  auto left = subtree(leaves, first, k, paths);
  auto right = subtree(leaves, first + k, n - k, paths);
  for (size_t i = first; i < first + k; ++i)
    paths[i].push_back(right);
  for (size_t i = first + k; i < first + n; ++i)
    paths[i].push_back(left);
  return node_hash(left, right);
}

} // namespace

hash leaf_hash(crypto::bytes_view data) {
  static constexpr std::uint8_t prefix = 0x00;
  crypto::sha256_hasher hasher;
  hasher.update({&prefix, 1});
  hasher.update(data);
  return to_hash(hasher.finish());
}

hash node_hash(const hash& left, const hash& right) {
  std::array<std::uint8_t, 65> in{};
  in[0] = 0x01;
  std::copy(left.begin(), left.end(), in.begin() + 1);
  std::copy(right.begin(), right.end(), in.begin() + 33);
  return to_hash(crypto::sha256(in));
}

result<tree> build(const std::vector<hash>& leaves) {
  if (leaves.empty())
    return fail(errc::malformed_input, "a Merkle tree needs at least one leaf");
  if (leaves.size() >= max_leaves)
    return fail(errc::too_large, "a Merkle tree has at most 2^32 - 1 leaves");
  tree t;
  t.paths.resize(leaves.size());
  t.root = subtree(leaves, 0, leaves.size(), t.paths);
  return t;
}

result<hash> root_from_path(const hash& leaf, std::uint64_t index, std::uint64_t size,
                            const std::vector<hash>& path) {
  if (size == 0 || size >= max_leaves || index >= size)
    return fail(errc::malformed_input, "leaf " + std::to_string(index) + " of a tree of "
                                         + std::to_string(size) + " leaves does not exist");
  // RFC 9162 §2.1.3.2, step by step: fn walks the leaf's position up, sn the last leaf's.
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  hash r = leaf;
  for (const auto& p : path) {
    if (sn == 0)
      return fail(errc::malformed_input, "the Merkle audit path is longer than the tree is high");
    if ((fn & 1) == 1 || fn == sn) {
      r = node_hash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0)
    return fail(errc::malformed_input, "the Merkle audit path is shorter than the tree is high");
  return r;
}

} // namespace joconde::merkle
