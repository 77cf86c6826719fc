#include "peer_links.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/runtime/crypto.hpp"

#include <joconde/vm.pb.h>

#include <openssl/crypto.h>

namespace joconde::vm::detail {

peer_link::peer_link(unsigned c, enclave::secure_stream s, const enclave::channel_key& k)
  : cp{c}, stream{std::move(s)}, mpc_key{k} {
  // nop
}

peer_link::~peer_link() {
  OPENSSL_cleanse(mpc_key.data(), mpc_key.size());
}

result<void> peer_link::send(const v1::PeerMessage& m) {
  auto bytes = proto::serialize(m);
  std::lock_guard lock{send_mutex};
  return stream.send(crypto::to_bytes(bytes));
}

void peer_link_exchange::put(peer_link_ptr link) {
  std::lock_guard lock{mutex_};
  auto cp = link->cp;
  links_[cp] = std::move(link);
}

peer_link_ptr peer_link_exchange::take(unsigned cp) {
  std::lock_guard lock{mutex_};
  auto it = links_.find(cp);
  if (it == links_.end())
    return nullptr;
  auto out = std::move(it->second);
  links_.erase(it);
  return out;
}

} // namespace joconde::vm::detail
