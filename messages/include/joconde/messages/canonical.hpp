#pragma once

// The canonical form of a message: the bytes that are hashed and signed (spec §4.4.1.2–§4.4.1.3:
// "implement and document a deterministic hashing algorithm"; DESIGN.md §5). The algorithm is written
// down in docs/canonical-hashing.md and pinned by tests/vectors/canonical_hash_vectors.json; the hash
// itself is joconde::canonical_hash in runtime (this library has no OpenSSL).

#include "joconde/messages/result.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>
#include <string_view>

namespace joconde::proto {

/// Domain-separation label that starts every canonical hash input, before the full type name.
constexpr std::string_view canonical_label = "joconde/v1/";

/// Checks that messages of type `type` have a canonical form in every Protobuf implementation: no map
/// fields, no float or double fields, no recursive message types, in `type` or any message it nests.
result<void> check_canonical_schema(const google::protobuf::Descriptor& type);

/// The deterministic encoding of `msg` (docs/canonical-hashing.md); malformed_input if its type fails
/// check_canonical_schema, or it carries unknown fields or a string that is not valid UTF-8.
result<std::string> canonical_bytes(const google::protobuf::Message& msg);

/// True if `str` is well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most U+10FFFF).
bool is_utf8(std::string_view str);

/// What precedes the canonical bytes in the hash input: label, full type name and one 0x00 byte.
std::string canonical_prefix(const google::protobuf::Descriptor& type);

} // namespace joconde::proto
