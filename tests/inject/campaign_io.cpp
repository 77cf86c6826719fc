// What joconde-inject's campaign mode reads of its target and how it reaches it (see
// campaign_io.hpp).

#include "campaign_io.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

namespace joconde::inject::campaign_io {

// -- the target: alive, its metrics, its state --------------------------------------------------------

bool alive(pid_t pid) {
  if (pid <= 0)
    return true;
  if (::kill(pid, 0) != 0)
    return false;
  std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

/// The counters (`*_total` series) of a Prometheus text page.
std::map<std::string, double> counters(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream lines{text};
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#')
      continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos)
      continue;
    auto series = line.substr(0, space);
    auto name = series.substr(0, series.find('{'));
    if (name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0)
      out[series] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

/// What grew between two counter snapshots.
tally grown(const std::map<std::string, double>& before, const std::map<std::string, double>& after) {
  tally out;
  for (const auto& [series, value] : after) {
    auto it = before.find(series);
    double was = it == before.end() ? 0 : it->second;
    if (value > was)
      out[series] = static_cast<std::uint64_t>(value - was);
  }
  return out;
}

// -- raw connections ------------------------------------------------------------------------------

std::pair<std::string, std::uint16_t> host_port(std::string url) {
  if (auto p = url.find("://"); p != std::string::npos)
    url = url.substr(p + 3);
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  auto colon = url.rfind(':');
  if (colon == std::string::npos)
    throw harness_failure("no port in " + url);
  return {url.substr(0, colon), static_cast<std::uint16_t>(std::stoul(url.substr(colon + 1)))};
}

int dial(const std::string& host, std::uint16_t port, const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  linger off{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof off);
  int one = 1; // a request and its close_notify go out at once (no 40 ms Nagle/delayed-ACK stall)
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  auto h = host == "localhost" ? std::string{"127.0.0.1"} : host;
  if (::inet_pton(AF_INET, h.c_str(), &to.sin_addr) != 1
      || ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string exchange_raw(const std::string& host, std::uint16_t port, const std::string& bytes,
                         const std::string& source, std::string* answer, bool wait,
                         std::chrono::seconds patience) {
  int fd = dial(host, port, source);
  if (fd < 0)
    return "no-connection";
  timeval tv{static_cast<time_t>(patience.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  if (!wait) {
    ::close(fd);
    return "sent";
  }
  std::string got;
  char buf[4096];
  bool timed_out = false;
  while (got.size() < 65536) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    timed_out = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    if (n <= 0)
      break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (answer != nullptr)
    *answer = got;
  return timed_out ? "timed-out" : got.empty() ? "closed" : "answered";
}

/// The status of an HTTP answer ("http-401"), or what happened instead.
std::string http_outcome(const std::string& how, const std::string& answer) {
  if (how != "answered")
    return how;
  if (answer.rfind("HTTP/1.", 0) == 0 && answer.size() >= 12)
    return "http-" + answer.substr(9, 3);
  return "not-http";
}

std::string exchange_tls(SSL_CTX* ctx, const std::string& host, std::uint16_t port, const std::string& bytes) {
  int fd = dial(host, port, {});
  if (fd < 0)
    return "no-connection";
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl{SSL_new(ctx), SSL_free};
  SSL_set_fd(ssl.get(), fd);
  SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  std::string got;
  if (SSL_connect(ssl.get()) == 1) {
    (void)SSL_write(ssl.get(), bytes.data(), static_cast<int>(bytes.size()));
    // close_notify: the request ends here (a truncated head is answered or dropped at once instead
    // of waiting for the server's head timeout); the answer can still be read.
    (void)SSL_shutdown(ssl.get());
    char buf[4096];
    while (got.size() < 65536) {
      int n = SSL_read(ssl.get(), buf, sizeof buf);
      if (n <= 0)
        break;
      got.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return http_outcome(got.empty() ? "closed" : "answered", got);
}

} // namespace joconde::inject::campaign_io
