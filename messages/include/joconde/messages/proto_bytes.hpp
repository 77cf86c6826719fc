#pragma once

// How a Protobuf message travels through CAF inside one process: as its serialised bytes in a
// wrapper typed by the message, so that an actor's interface names the message a handler takes
// (`proto_bytes<v1::Ctsa>`, not a bare std::string) and the handler reads it with proto::parse and
// its limits, as it reads bytes from any other source. No CAF header is needed: CAF finds `inspect`.

#include <string>

namespace joconde {

/// The serialised bytes of a Protobuf message of type M (see proto::parse and proto::wrap).
template <class M>
struct proto_bytes {
  std::string bytes;

  bool operator==(const proto_bytes&) const = default;
};

template <class Inspector, class M>
typename Inspector::result_type inspect(Inspector& f, proto_bytes<M>& x) {
  return f(x.bytes);
}

} // namespace joconde
