#pragma once

// Bounded parsing and serialising of Protobuf messages. Every parse has a size limit and refuses
// unknown fields, so what is signed or hashed is exactly what the schema says (DESIGN.md §5).

#include "joconde/messages/proto_bytes.hpp"
#include "joconde/messages/result.hpp"

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

namespace joconde::proto {

/// Largest serialised message any joconde component accepts by default (an envelope with payload).
constexpr size_t default_limit = 4 * 1024 * 1024;

/// True if `msg` or any nested message carries fields this build does not know.
bool has_unknown_fields(const google::protobuf::Message& msg);

/// Parses `bytes` into `out`; fails on size over `limit`, malformed bytes or unknown fields.
result<void> parse_into(google::protobuf::Message& out, std::string_view bytes,
                        size_t limit = default_limit);

/// Parses a message of type M with the checks of parse_into.
template <class M>
result<M> parse(std::string_view bytes, size_t limit = default_limit) {
  M msg;
  if (auto res = parse_into(msg, bytes, limit); !res)
    return res.err();
  return msg;
}

/// Parses the message a proto_bytes carries, with the checks of parse_into.
template <class M>
result<M> parse(const proto_bytes<M>& x, size_t limit = default_limit) {
  return parse<M>(x.bytes, limit);
}

/// Deterministic serialisation (the form that is signed and hashed).
std::string serialize(const google::protobuf::Message& msg);

/// `msg` serialised into the wrapper that carries it through CAF.
template <class M>
proto_bytes<M> wrap(const M& msg) {
  return proto_bytes<M>{serialize(msg)};
}

} // namespace joconde::proto
