#define BOOST_TEST_MODULE merkle
#include <boost/test/unit_test.hpp>

#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/merkle.hpp"

#include <string>
#include <vector>

using namespace joconde;

namespace {

std::string hex_of(const merkle::hash& h) {
  return crypto::hex(h);
}

/// The leaves of the RFC 6962 reference test data (certificate-transparency's merkle_tree_test).
std::vector<merkle::hash> rfc6962_leaves() {
  std::vector<crypto::bytes> data{{},
                                  {0x00},
                                  {0x10},
                                  {0x20, 0x21},
                                  {0x30, 0x31},
                                  {0x40, 0x41, 0x42, 0x43},
                                  {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
                                  {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
                                   0x6b, 0x6c, 0x6d, 0x6e, 0x6f}};
  std::vector<merkle::hash> out;
  for (const auto& d : data)
    out.push_back(merkle::leaf_hash(d));
  return out;
}

std::vector<merkle::hash> numbered_leaves(size_t n) {
  std::vector<merkle::hash> out;
  for (size_t i = 0; i < n; ++i) {
    auto s = "leaf " + std::to_string(i);
    out.push_back(merkle::leaf_hash({reinterpret_cast<const uint8_t*>(s.data()), s.size()}));
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(roots_match_the_rfc_6962_reference_vectors) {
  const char* expected[] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  auto leaves = rfc6962_leaves();
  for (size_t n = 1; n <= leaves.size(); ++n) {
    auto t = merkle::build({leaves.begin(), leaves.begin() + static_cast<long>(n)});
    BOOST_REQUIRE(t);
    BOOST_TEST(hex_of(t->root) == expected[n - 1], "tree of " << n << " leaves");
  }
}

BOOST_AUTO_TEST_CASE(every_audit_path_leads_back_to_the_root_and_no_further) {
  for (size_t n = 1; n <= 70; ++n) {
    auto leaves = numbered_leaves(n);
    auto t = merkle::build(leaves);
    BOOST_REQUIRE(t);
    size_t height = 0;
    while ((size_t{1} << height) < n)
      ++height;
    for (size_t i = 0; i < n; ++i) {
      BOOST_TEST(t->paths[i].size() <= height);
      auto r = merkle::root_from_path(leaves[i], i, n, t->paths[i]);
      BOOST_REQUIRE_MESSAGE(r, "leaf " << i << " of " << n);
      BOOST_TEST(hex_of(*r) == hex_of(t->root), "leaf " << i << " of " << n);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_changed_leaf_index_size_or_path_does_not_reach_the_root) {
  constexpr size_t n = 13;
  auto leaves = numbered_leaves(n);
  auto t = merkle::build(leaves).value();
  auto reaches = [&](const merkle::hash& leaf, uint64_t index, uint64_t size,
                     const std::vector<merkle::hash>& path) {
    auto r = merkle::root_from_path(leaf, index, size, path);
    return r && *r == t.root;
  };
  for (size_t i = 0; i < n; ++i) {
    BOOST_TEST(reaches(leaves[i], i, n, t.paths[i]));
    BOOST_TEST(!reaches(leaves[(i + 1) % n], i, n, t.paths[i]), "another leaf on leaf " << i << "'s path");
    for (size_t j = 0; j < n; ++j)
      if (j != i)
        BOOST_TEST(!reaches(leaves[i], j, n, t.paths[i]), "leaf " << i << " claimed at " << j);
    // The path alone does not fix the tree's size (leaf 0's path in a tree of 13 also fits one of
    // 16): the origin signs the size with the root, so a changed size fails the signature.
    BOOST_TEST(!reaches(leaves[i], i, 1, t.paths[i]), "leaf " << i << " in a tree of 1");
    BOOST_TEST(!reaches(leaves[i], i, i, t.paths[i]), "leaf " << i << " in a tree of " << i);
    for (size_t k = 0; k < t.paths[i].size(); ++k) {
      auto bent = t.paths[i];
      bent[k][k % 32] ^= 0x01;
      BOOST_TEST(!reaches(leaves[i], i, n, bent), "leaf " << i << " with sibling " << k << " changed");
    }
    // A leaf can never be presented as an interior node: the prefixes differ.
    BOOST_TEST(hex_of(merkle::leaf_hash(t.root)) != hex_of(t.root));
  }
}

BOOST_AUTO_TEST_CASE(impossible_shapes_are_refused_with_a_reason) {
  auto leaves = numbered_leaves(5);
  auto t = merkle::build(leaves).value();
  auto code = [](const result<merkle::hash>& r) {
    return r ? std::string{"ok"} : std::string{to_string(r.err().code)};
  };
  BOOST_TEST(code(merkle::root_from_path(leaves[0], 0, 0, {})) == "malformed_input");
  BOOST_TEST(code(merkle::root_from_path(leaves[0], 5, 5, t.paths[0])) == "malformed_input");
  auto longer = t.paths[0];
  longer.push_back(t.root);
  BOOST_TEST(code(merkle::root_from_path(leaves[0], 0, 5, longer)) == "malformed_input");
  auto shorter = t.paths[0];
  shorter.pop_back();
  BOOST_TEST(code(merkle::root_from_path(leaves[0], 0, 5, shorter)) == "malformed_input");
  BOOST_TEST(code(merkle::root_from_path(leaves[0], 0, merkle::max_leaves, {}))
             == "malformed_input");
  BOOST_TEST(!merkle::build({}));
  // One leaf: the root is the leaf hash and the path is empty.
  auto one = merkle::build({leaves[0]}).value();
  BOOST_TEST(hex_of(one.root) == hex_of(leaves[0]));
  BOOST_TEST(one.paths[0].empty());
}
