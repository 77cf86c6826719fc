// Sockets and sealed slot files of a CT VM (vm_internal.hpp).

#include "vm_internal.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace joconde::vm::detail {

result<address> parse_address(const std::string& text) {
  auto a = net::parse_host_port(text);
  if (!a)
    return fail(errc::malformed_input, a.err().message);
  return std::move(*a);
}

result<std::pair<fd_guard, std::uint16_t>> listen_on(const std::string& host, const net::port_range& ports) {
  auto l = ports.size() == 0 ? net::listen_tcp({host, 0}) : net::listen_in_range(host, ports);
  if (!l)
    return l.err();
  return std::pair{fd_guard{l->fd.release()}, l->port};
}

result<fd_guard> connect_to(const address& a, std::chrono::milliseconds timeout,
                            const std::atomic<bool>& stopping) {
  using steady = std::chrono::steady_clock;
  auto until = steady::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
    auto fd = net::connect_tcp(a, std::max(std::min(left, std::chrono::milliseconds{2000}),
                                           std::chrono::milliseconds{1}));
    if (fd)
      return fd_guard{fd->release()};
    if (fd.err().code == errc::invalid_config || stopping || steady::now() >= until)
      return fail(fd.err().code == errc::invalid_config ? errc::malformed_input : errc::timeout,
                  "cannot reach " + a.text() + ": " + fd.err().message);
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
}

/// Waits up to `ms` for a connection on `listen_fd`; -1 when none came.
int accept_for(int listen_fd, int ms) {
  pollfd p{listen_fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0)
    return -1;
  int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

bool write_all(int fd, const void* data, std::size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    auto w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all_by(int fd, void* data, std::size_t n, std::chrono::steady_clock::time_point deadline) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd pf{fd, POLLIN, 0};
    int ready = ::poll(&pf, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
    if (ready < 0 && errno != EINTR)
      return false;
    if (ready <= 0)
      continue;  // the deadline check above ends the wait
    auto r = ::recv(fd, p, n, 0);
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

std::string to_string(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

/// The GCM associated data of a slot file: the CT, the slot and the content id.
std::string seal_ad(const vm_context& ctx, const std::string& slot, const std::string& content) {
  return "joconde/slot/v1\0" + ctx.uuid + '\0' + slot + '\0' + content;
}

/// Seals the columns (JSH1 share encodings, valid flags last for outputs) into `path`.
result<sealed_content> seal_columns(const vm_context& ctx, const std::string& slot,
                                    const std::string& content, const std::vector<std::string>& cols,
                                    std::uint64_t rows) {
  std::string plain;
  std::size_t total = 8;
  for (const auto& c : cols)
    total += 8 + c.size();
  plain.reserve(total);
  auto put64 = [&](std::uint64_t v) {
    for (int i = 7; i >= 0; --i)
      plain.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put64(cols.size());
  for (const auto& c : cols) {
    put64(c.size());
    plain += c;
  }
  auto digest = crypto::hex(crypto::sha256(crypto::to_bytes(plain)));
  auto sealed = ctx.key->seal(crypto::to_bytes(plain), crypto::to_bytes(seal_ad(ctx, slot, content)));
  OPENSSL_cleanse(plain.data(), plain.size());
  if (!sealed)
    return sealed.err();
  auto path = ctx.slots_dir / (slot + "." + content + ".sealed");
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(reinterpret_cast<const char*>(sealed->data()), static_cast<std::streamsize>(sealed->size()));
  out.close();
  if (!out)
    return fail(errc::io_error, "cannot write " + path.string());
  return sealed_content{path.string(), rows, digest};
}

/// The bytes of the sealed slot file `path`.
result<std::string> read_sealed(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return fail(errc::not_found, "slot file " + fs::path{path}.filename().string() + " is gone");
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

/// The columns seal_columns sealed into `sealed` (a slot file's bytes).
result<std::vector<std::string>> unseal_columns(const vm_context& ctx, const std::string& slot,
                                                const std::string& content, const std::string& sealed) {
  const std::string path = slot + "." + content;
  auto plain = ctx.key->unseal(crypto::to_bytes(sealed), crypto::to_bytes(seal_ad(ctx, slot, content)));
  if (!plain)
    return plain.err();
  std::vector<std::string> cols;
  std::size_t off = 0;
  auto get64 = [&](std::uint64_t& v) {
    if (plain->size() - off < 8)
      return false;
    v = 0;
    for (int i = 0; i < 8; ++i)
      v = (v << 8) | (*plain)[off++];
    return true;
  };
  std::uint64_t n = 0;
  if (!get64(n) || n > 4096)
    return fail(errc::malformed_input, "slot file " + path + " is damaged");
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t len = 0;
    if (!get64(len) || plain->size() - off < len)
      return fail(errc::malformed_input, "slot file " + path + " is damaged");
    cols.emplace_back(reinterpret_cast<const char*>(plain->data() + off), len);
    off += len;
  }
  OPENSSL_cleanse(plain->data(), plain->size());
  return cols;
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

} // namespace joconde::vm::detail
