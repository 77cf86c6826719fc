// joconde-netlab-relay: the wires of the multi-host laboratory (ops/netlab, DESIGN.md §3, §11).
//
// It opens one TUN device per lab host; ops/netlab moves each into the host's network namespace and
// gives it the host's address. Every IPv4 packet a host sends into the lab comes out of that host's
// TUN device here; the relay writes it into the destination host's TUN device after the one-way delay
// of the (source, destination) pair and within its bandwidth limit (relay_core.hpp). The kernel has no
// netem, hence this program. One thread, epoll and a deadline; memory bounded by --memory-mib.
//
// It prints `ready` on stdout when every TUN device is open, writes its counters to the --stats file
// every second (write to FILE.tmp, rename) and exits cleanly on SIGTERM or SIGINT. Its TUN devices
// are not persistent: they disappear with the process.

#include "relay_core.hpp"
#include "relay_options.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace joconde::netlab;

constexpr int packets_per_wakeup = 64; // per host, so one busy host cannot starve the others
constexpr std::size_t held_overhead = 64; // bytes of bookkeeping counted per held packet

// -- the relay -----------------------------------------------------------------------------------------

nanos monotonic_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return nanos{ts.tv_sec} * nanos_per_second + ts.tv_nsec;
}

std::uint64_t bytes_per_second(double mbit) {
  return static_cast<std::uint64_t>(std::llround(mbit * 1e6 / 8));
}

nanos delay_nanos(double ms) {
  return static_cast<nanos>(std::llround(ms * 1e6));
}

struct host {
  host_spec spec;
  int fd = -1;
  bool broken = false; ///< its TUN device failed (e.g. its namespace was deleted): no longer read
  std::uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  std::uint64_t dropped_not_ipv4 = 0, dropped_unknown = 0, read_errors = 0, write_errors = 0;
};

struct link_slot {
  pair_link link;
  bool active = false;
};

class relay {
public:
  explicit relay(options opts) : opts_(std::move(opts)), start_(monotonic_now()) {
    memory_limit_ = opts_.memory_mib * 1024 * 1024;
    for (auto& spec : opts_.hosts)
      hosts_.push_back(host{spec});
  }

  relay(const relay&) = delete;
  relay& operator=(const relay&) = delete;

  ~relay() {
    for (auto& h : hosts_)
      if (h.fd >= 0)
        ::close(h.fd);
    if (epoll_ >= 0)
      ::close(epoll_);
    if (signals_ >= 0)
      ::close(signals_);
  }

  /// Opens the TUN devices, sets their MTU and prepares the loop; false (message printed) on failure.
  bool open() {
    for (std::size_t i = 0; i < hosts_.size(); ++i)
      if (!routes_.add(hosts_[i].spec.address, i))
        return fail("address " + format_ipv4(hosts_[i].spec.address) + " given twice");
    make_links();
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0)
      return fail(std::string{"epoll_create1: "} + std::strerror(errno));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    signals_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signals_ < 0 || !watch(signals_, hosts_.size()))
      return fail(std::string{"signalfd: "} + std::strerror(errno));
    for (std::size_t i = 0; i < hosts_.size(); ++i)
      if (!open_tun(i))
        return false;
    // With offload a packet is at most 64 KiB of IP after its offload header.
    scratch_.resize(opts_.offload ? vnet_header_size + 65536 : opts_.mtu);
    return true;
  }

  /// Relays until SIGTERM, SIGINT or SIGHUP; returns the exit code.
  int run() {
    nanos next_stats = monotonic_now();
    nanos next_service = never;
    std::vector<epoll_event> events(64);
    while (!stop_) {
      nanos now = monotonic_now();
      if (now >= next_stats) {
        write_stats(now);
        next_stats = now + nanos_per_second;
      }
      nanos wait = std::max<nanos>(0, std::min(next_service, next_stats) - now);
      timespec timeout{static_cast<time_t>(wait / nanos_per_second),
                       static_cast<long>(wait % nanos_per_second)};
      int n = ::epoll_pwait2(epoll_, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
      if (n < 0 && errno != EINTR) {
        std::fprintf(stderr, "%s: epoll_pwait2: %s\n", program, std::strerror(errno));
        return 1;
      }
      for (int i = 0; i < n; ++i) {
        auto index = static_cast<std::size_t>(events[i].data.u64);
        if (index == hosts_.size())
          drain_signals();
        else
          read_packets(index);
      }
      next_service = service(monotonic_now());
    }
    write_stats(monotonic_now());
    return 0;
  }

private:
  bool fail(const std::string& what) {
    std::fprintf(stderr, "%s: %s\n", program, what.c_str());
    return false;
  }

  bool watch(int fd, std::size_t index) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = index;
    return ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  void make_links() {
    auto now = monotonic_now();
    auto n = hosts_.size();
    links_.reserve(n * n);
    auto index_of = [this](const std::string& name) {
      for (std::size_t i = 0; i < hosts_.size(); ++i)
        if (hosts_[i].spec.name == name)
          return i;
      return hosts_.size();
    };
    for (std::size_t from = 0; from < n; ++from) {
      for (std::size_t to = 0; to < n; ++to) {
        double delay = opts_.delay_ms;
        double rate = opts_.rate_mbit;
        if (from == to || hosts_[from].spec.direct || hosts_[to].spec.direct)
          delay = rate = 0;
        for (const auto& l : opts_.links)
          if (index_of(l.from) == from && index_of(l.to) == to) {
            delay = l.delay_ms;
            rate = l.rate_mbit;
          }
        link_params p;
        p.delay = delay_nanos(delay);
        p.rate = bytes_per_second(rate);
        p.burst = default_burst(p.rate, opts_.mtu);
        // The largest packet on the wire: a super-packet of 64 KiB with offload (its segments'
        // headers counted), one MTU without.
        std::size_t max_packet = opts_.offload ? 2 * 65536 : opts_.mtu;
        p.queue_limit = default_queue_limit(p.rate, opts_.queue_ms, max_packet);
        links_.push_back(link_slot{pair_link{p, now}});
      }
    }
  }

  bool open_tun(std::size_t index) {
    auto& h = hosts_[index];
    // An existing device of that name would be joined (a persistent TUN) or refused: neither is ours.
    if (::if_nametoindex(h.spec.interface.c_str()) != 0)
      return fail("interface " + h.spec.interface + " exists already (another lab?)");
    h.fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (h.fd < 0)
      return fail(std::string{"cannot open /dev/net/tun: "} + std::strerror(errno));
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (opts_.offload ? IFF_VNET_HDR : 0);
    std::memcpy(ifr.ifr_name, h.spec.interface.c_str(), h.spec.interface.size());
    if (::ioctl(h.fd, TUNSETIFF, &ifr) < 0)
      return fail("cannot create TUN device " + h.spec.interface + ": " + std::strerror(errno));
    if (opts_.offload) {
      int header_size = static_cast<int>(vnet_header_size);
      unsigned features = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN;
      if (::ioctl(h.fd, TUNSETVNETHDRSZ, &header_size) < 0 || ::ioctl(h.fd, TUNSETOFFLOAD, features) < 0)
        return fail("cannot enable segmentation offload on " + h.spec.interface + ": "
                    + std::strerror(errno) + " (run without --offload)");
    }
    int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
      return fail(std::string{"socket: "} + std::strerror(errno));
    ifreq mtu{};
    std::memcpy(mtu.ifr_name, h.spec.interface.c_str(), h.spec.interface.size());
    mtu.ifr_mtu = static_cast<int>(opts_.mtu);
    int rc = ::ioctl(sock, SIOCSIFMTU, &mtu);
    int err = errno;
    ::close(sock);
    if (rc < 0)
      return fail("cannot set MTU " + std::to_string(opts_.mtu) + " on " + h.spec.interface + ": "
                  + std::strerror(err));
    if (!watch(h.fd, index))
      return fail(std::string{"epoll_ctl: "} + std::strerror(errno));
    return true;
  }

  void drain_signals() {
    signalfd_siginfo info{};
    while (::read(signals_, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
      stop_ = true;
  }

  void read_packets(std::size_t source) {
    auto& h = hosts_[source];
    for (int k = 0; k < packets_per_wakeup; ++k) {
      auto n = ::read(h.fd, scratch_.data(), scratch_.size());
      if (n < 0) {
        if (errno == EINTR)
          continue;
        if (errno == EAGAIN)
          return;
        // The device is gone (its namespace was deleted) or broken: stop reading it.
        std::fprintf(stderr, "%s: reading %s: %s; no longer relaying from %s\n", program,
                     h.spec.interface.c_str(), std::strerror(errno), h.spec.name.c_str());
        ++h.read_errors;
        h.broken = true;
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, h.fd, nullptr);
        return;
      }
      if (n == 0)
        return;
      ++h.rx_packets;
      h.rx_bytes += static_cast<std::uint64_t>(n);
      route(source, scratch_.data(), static_cast<std::size_t>(n));
    }
  }

  void route(std::size_t source, const std::uint8_t* data, std::size_t size) {
    // With offload the packet is written out with its offload header, as it came.
    std::size_t skip = opts_.offload ? vnet_header_size : 0;
    auto header = size >= skip ? parse_ipv4_header(data + skip, size - skip) : std::nullopt;
    if (!header) {
      ++hosts_[source].dropped_not_ipv4;
      return;
    }
    auto destination = routes_.lookup(header->destination);
    if (!destination) {
      ++hosts_[source].dropped_unknown;
      return;
    }
    auto& slot = links_[source * hosts_.size() + *destination];
    auto cost = wire_size(opts_.offload ? data : nullptr, data + skip, size - skip);
    auto now = monotonic_now();
    auto verdict = slot.link.admit(cost, now);
    if (verdict == admission::drop)
      return;
    if (verdict == admission::deliver) {
      if (write_to(*destination, data, size))
        slot.link.delivered(cost);
      return;
    }
    if (held_bytes_ + size + held_overhead > memory_limit_) {
      ++slot.link.counters().dropped_memory;
      return;
    }
    held_bytes_ += size + held_overhead;
    held_high_water_ = std::max(held_high_water_, held_bytes_);
    slot.link.hold(held_packet{std::vector<std::uint8_t>(data, data + size), cost, 0}, verdict, now);
    if (!slot.active) {
      slot.active = true;
      active_.push_back(source * hosts_.size() + *destination);
    }
  }

  bool write_to(std::size_t destination, const std::uint8_t* data, std::size_t size) {
    auto& h = hosts_[destination];
    if (h.broken) {
      ++h.write_errors;
      return false;
    }
    while (true) {
      auto n = ::write(h.fd, data, size);
      if (n == static_cast<ssize_t>(size)) {
        ++h.tx_packets;
        h.tx_bytes += size;
        return true;
      }
      if (n < 0 && errno == EINTR)
        continue;
      // EIO while the device is down, or the kernel refused it: the packet is lost, as on a wire.
      ++h.write_errors;
      return false;
    }
  }

  /// Services every link holding packets; returns the earliest time one needs service again.
  nanos service(nanos now) {
    nanos next = never;
    auto n = hosts_.size();
    for (std::size_t i = 0; i < active_.size();) {
      auto index = active_[i];
      auto& slot = links_[index];
      auto destination = index % n;
      auto due = slot.link.service(now, [&](held_packet&& p) {
        held_bytes_ -= p.bytes.size() + held_overhead;
        write_to(destination, p.bytes.data(), p.bytes.size());
      });
      next = std::min(next, due);
      if (slot.link.idle()) {
        slot.active = false;
        active_[i] = active_.back();
        active_.pop_back();
      } else {
        ++i;
      }
    }
    return next;
  }

  void write_stats(nanos now) {
    if (opts_.stats_file.empty())
      return;
    std::string out;
    out.reserve(4096 + links_.size() * 256);
    auto field = [&out](const char* name, auto value, bool comma = true) {
      out += '"';
      out += name;
      out += "\":";
      if constexpr (std::is_same_v<decltype(value), bool>)
        out += value ? "true" : "false";
      else if constexpr (std::is_floating_point_v<decltype(value)>) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.6g", value);
        out += buf;
      } else if constexpr (std::is_arithmetic_v<decltype(value)>)
        out += std::to_string(value);
      else {
        // Names are checked to letters, digits, '-', '_', '.': no escaping needed.
        out += '"';
        out += value;
        out += '"';
      }
      if (comma)
        out += ',';
    };
    out += '{';
    field("relay_pid", static_cast<long>(::getpid()));
    field("time_unix", static_cast<long>(std::time(nullptr)));
    field("uptime_seconds", static_cast<double>(now - start_) / 1e9);
    field("mtu", opts_.mtu);
    field("offload", opts_.offload);
    field("queue_ms", opts_.queue_ms);
    field("memory_limit_bytes", memory_limit_);
    field("memory_held_bytes", held_bytes_);
    field("memory_high_water_bytes", held_high_water_);
    out += "\"hosts\":[";
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      const auto& h = hosts_[i];
      out += i ? ",{" : "{";
      field("name", h.spec.name.c_str());
      field("interface", h.spec.interface.c_str());
      field("address", format_ipv4(h.spec.address).c_str());
      field("direct", h.spec.direct);
      field("broken", h.broken);
      field("rx_packets", h.rx_packets);
      field("rx_bytes", h.rx_bytes);
      field("tx_packets", h.tx_packets);
      field("tx_bytes", h.tx_bytes);
      field("dropped_not_ipv4", h.dropped_not_ipv4);
      field("dropped_unknown_destination", h.dropped_unknown);
      field("read_errors", h.read_errors);
      field("write_errors", h.write_errors, false);
      out += '}';
    }
    out += "],\"pairs\":[";
    bool first = true;
    auto n = hosts_.size();
    for (std::size_t from = 0; from < n; ++from) {
      for (std::size_t to = 0; to < n; ++to) {
        if (from == to)
          continue;
        const auto& link = links_[from * n + to].link;
        const auto& c = link.counters();
        out += first ? "{" : ",{";
        first = false;
        field("from", hosts_[from].spec.name.c_str());
        field("to", hosts_[to].spec.name.c_str());
        field("delay_ms", static_cast<double>(link.params().delay) / 1e6);
        field("rate_mbit", static_cast<double>(link.params().rate) * 8 / 1e6);
        field("packets", c.packets);
        field("bytes", c.bytes);
        field("dropped_queue", c.dropped_queue);
        field("dropped_memory", c.dropped_memory);
        field("queue_limit_bytes", link.params().queue_limit);
        field("queued", link.queued());
        field("in_flight", link.in_flight());
        field("queue_high_water", c.queue_high_water);
        field("queue_high_water_bytes", c.queue_high_water_bytes);
        field("wire_high_water", c.wire_high_water, false);
        out += '}';
      }
    }
    out += "]}\n";
    auto tmp = opts_.stats_file + ".tmp";
    if (std::FILE* f = std::fopen(tmp.c_str(), "w")) {
      bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
      ok = std::fclose(f) == 0 && ok;
      if (ok && std::rename(tmp.c_str(), opts_.stats_file.c_str()) == 0)
        return;
    }
    if (!stats_error_reported_) {
      std::fprintf(stderr, "%s: cannot write %s: %s\n", program, opts_.stats_file.c_str(),
                   std::strerror(errno));
      stats_error_reported_ = true;
    }
  }

  options opts_;
  nanos start_;
  std::vector<host> hosts_;
  std::vector<link_slot> links_; ///< [from * hosts + to]
  std::vector<std::size_t> active_; ///< indexes of links that hold packets
  route_table routes_;
  std::vector<std::uint8_t> scratch_;
  std::size_t memory_limit_ = 0;
  std::size_t held_bytes_ = 0;
  std::size_t held_high_water_ = 0;
  int epoll_ = -1;
  int signals_ = -1;
  bool stop_ = false;
  bool stats_error_reported_ = false;
};

} // namespace

int main(int argc, char** argv) {
  auto opts = parse_options(argc, argv);
  ::signal(SIGPIPE, SIG_IGN); // stdout may be a pipe whose reader has gone after `ready`
  ::prctl(PR_SET_TIMERSLACK, 1UL); // wake at the deadline, not up to 50 us later
  relay r{std::move(opts)};
  if (!r.open())
    return 1;
  std::printf("ready\n");
  std::fflush(stdout);
  return r.run();
}
