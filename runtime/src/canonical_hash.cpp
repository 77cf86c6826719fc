#include "joconde/runtime/canonical_hash.hpp"

#include "joconde/messages/canonical.hpp"

#include <cstdint>
#include <string_view>
#include <utility>

namespace joconde {

namespace {

/// The bytes of `str` without copying them (attachments make canonical bytes large).
crypto::bytes_view view_of(std::string_view str) {
  return {reinterpret_cast<const std::uint8_t*>(str.data()), str.size()};
}

} // namespace

result<crypto::bytes> canonical_hash(const google::protobuf::Message& msg) {
  auto body = proto::canonical_bytes(msg);
  if (!body)
    return std::move(body).err();
  crypto::sha256_hasher hasher;
  hasher.update(view_of(proto::canonical_prefix(*msg.GetDescriptor())));
  hasher.update(view_of(*body));
  return hasher.finish();
}

} // namespace joconde
