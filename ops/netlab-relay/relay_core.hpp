#pragma once

// The pure logic of joconde-netlab-relay (ops/netlab-relay/relay.cpp): where a packet goes, when it
// may leave, and when it must be dropped. No file descriptors and no clock here, so the unit test
// (tests/unit/netlab_relay_test.cpp) drives it with made-up times.
//
// Each ordered pair of lab hosts is one `pair_link`: a router's output port with a bounded queue in
// front of a token bucket (the bandwidth limit), followed by a wire of fixed one-way delay. A packet
// that finds the queue full is dropped, as a router would drop it. The wire holds what is in flight;
// its size is bounded by the relay's global memory budget, not here.

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace joconde::netlab {

/// Nanoseconds on a monotonic clock.
using nanos = std::int64_t;

/// A time that never comes: "no deadline".
inline constexpr nanos never = std::numeric_limits<nanos>::max();

inline constexpr nanos nanos_per_second = 1'000'000'000;

// -- addresses ---------------------------------------------------------------------------------------

/// The lab's address block, 198.18.0.0/15 (RFC 2544 benchmarking): the only addresses the lab uses.
inline constexpr std::uint32_t lab_network = (198u << 24) | (18u << 16);
inline constexpr std::uint32_t lab_mask = 0xfffe0000u;

/// True if `address` (host byte order) lies in 198.18.0.0/15.
constexpr bool in_lab_range(std::uint32_t address) {
  return (address & lab_mask) == lab_network;
}

/// Parses dotted-quad `text` into a host-byte-order address; nullopt unless it is exactly a.b.c.d.
inline std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  std::uint32_t out = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (p == end || *p != '.')
        return std::nullopt;
      ++p;
    }
    unsigned part = 0;
    auto [next, ec] = std::from_chars(p, end, part);
    if (ec != std::errc{} || next == p || next - p > 3 || part > 255 || (next - p > 1 && *p == '0'))
      return std::nullopt;
    out = (out << 8) | part;
    p = next;
  }
  if (p != end)
    return std::nullopt;
  return out;
}

/// `address` (host byte order) as a.b.c.d.
inline std::string format_ipv4(std::uint32_t address) {
  return std::to_string(address >> 24) + '.' + std::to_string((address >> 16) & 0xff) + '.'
         + std::to_string((address >> 8) & 0xff) + '.' + std::to_string(address & 0xff);
}

/// What the relay makes of a packet read from a TUN device.
struct ipv4_header {
  std::uint32_t source = 0;      ///< host byte order
  std::uint32_t destination = 0; ///< host byte order
};

/// The addresses of an IPv4 packet, or nullopt if `data` is not one (another version, a truncated or
/// inconsistent header). Only the header is checked: the payload is the endpoints' business.
inline std::optional<ipv4_header> parse_ipv4_header(const std::uint8_t* data, std::size_t size) {
  if (size < 20 || (data[0] >> 4) != 4)
    return std::nullopt;
  std::size_t header_length = std::size_t{data[0] & 0x0fu} * 4;
  std::size_t total_length = (std::size_t{data[2]} << 8) | data[3];
  if (header_length < 20 || header_length > size || total_length < header_length || total_length > size)
    return std::nullopt;
  auto word = [data](std::size_t at) {
    return (std::uint32_t{data[at]} << 24) | (std::uint32_t{data[at + 1]} << 16)
           | (std::uint32_t{data[at + 2]} << 8) | std::uint32_t{data[at + 3]};
  };
  return ipv4_header{word(12), word(16)};
}

// -- segmentation offload ----------------------------------------------------------------------------

/// With segmentation offload (IFF_VNET_HDR), each packet on a TUN device follows this header
/// (struct virtio_net_hdr, little-endian on the machines the lab runs on).
inline constexpr std::size_t vnet_header_size = 10;

/// What a packet costs on the wire, in bytes. With offload the kernel hands over a TCP segment of up
/// to 64 KiB whole (a super-packet); it stands for ceil(payload / segment size) segments of one MTU,
/// each with its own IP and TCP headers, and the bandwidth limit charges all of them. `vnet` is the
/// packet's offload header, or null without offload.
inline std::size_t wire_size(const std::uint8_t* vnet, const std::uint8_t* ip, std::size_t ip_size) {
  if (vnet == nullptr)
    return ip_size;
  constexpr std::uint8_t gso_tcpv4 = 1; // VIRTIO_NET_HDR_GSO_TCPV4; bit 0x80 is the ECN flag
  std::size_t segment = std::size_t{vnet[4]} | (std::size_t{vnet[5]} << 8);
  if ((vnet[1] & 0x7fu) != gso_tcpv4 || segment == 0 || ip_size < 20 || ip[9] != 6)
    return ip_size;
  std::size_t ip_header = std::size_t{ip[0] & 0x0fu} * 4;
  if (ip_header < 20 || ip_size < ip_header + 20)
    return ip_size;
  std::size_t headers = ip_header + static_cast<std::size_t>(ip[ip_header + 12] >> 4) * 4;
  if (headers >= ip_size)
    return ip_size;
  std::size_t segments = (ip_size - headers + segment - 1) / segment;
  return ip_size + (segments - 1) * headers;
}

/// Lab address -> host index. The lab has few hosts (at most a few dozen), so a flat sorted vector.
class route_table {
public:
  /// Adds `address` for host `host`; false if the address is taken already.
  bool add(std::uint32_t address, std::size_t host) {
    auto it = std::lower_bound(routes_.begin(), routes_.end(), std::pair{address, std::size_t{0}});
    if (it != routes_.end() && it->first == address)
      return false;
    routes_.insert(it, {address, host});
    return true;
  }

  /// The host that owns `address`, or nullopt: the relay drops such a packet.
  std::optional<std::size_t> lookup(std::uint32_t address) const {
    auto it = std::lower_bound(routes_.begin(), routes_.end(), std::pair{address, std::size_t{0}});
    if (it == routes_.end() || it->first != address)
      return std::nullopt;
    return it->second;
  }

private:
  std::vector<std::pair<std::uint32_t, std::size_t>> routes_;
};

// -- bandwidth ---------------------------------------------------------------------------------------

/// A token bucket in integer arithmetic: tokens are counted in bytes * 10^9 (bytes times nanoseconds
/// per second), so refills of a few nanoseconds at any rate lose nothing to rounding. A packet may
/// leave when the bucket holds its size (or is full, for a packet larger than the bucket); it always
/// pays its full size, going into debt if need be, so the long-run rate is exact.
class token_bucket {
public:
  /// `rate` bytes per second (0: unlimited), holding at most `burst` bytes, full at `now`.
  token_bucket(std::uint64_t rate, std::uint64_t burst, nanos now)
    : rate_(static_cast<std::int64_t>(std::min(rate, max_bytes))),
      capacity_(scaled(std::clamp<std::uint64_t>(burst, 1, max_bytes))), tokens_(capacity_), last_(now) {
    // nop
  }

  /// True if the bucket never limits.
  bool unlimited() const { return rate_ == 0; }

  /// Takes `bytes` tokens if a packet of that size may leave at `now`; false (nothing taken) if not.
  bool try_take(std::uint64_t bytes, nanos now) {
    if (unlimited())
      return true;
    refill(now);
    auto need = scaled(bytes);
    if (tokens_ < std::min(need, capacity_))
      return false;
    tokens_ -= need;
    return true;
  }

  /// The earliest time at or after `now` at which try_take(bytes) succeeds.
  nanos ready_at(std::uint64_t bytes, nanos now) {
    if (unlimited())
      return now;
    refill(now);
    auto threshold = std::min(scaled(bytes), capacity_);
    if (tokens_ >= threshold)
      return now;
    // Rounded up, so that at the returned time the tokens are there.
    return now + (threshold - tokens_ + rate_ - 1) / rate_;
  }

  /// Tokens held at `now` in whole bytes; negative while in debt (for tests and statistics).
  std::int64_t tokens(nanos now) {
    if (!unlimited())
      refill(now);
    return tokens_ / nanos_per_second;
  }

private:
  /// Sizes, rates and bursts are capped at 1 GiB (per second), so that scaled values fit in 63 bits.
  static constexpr std::uint64_t max_bytes = std::uint64_t{1} << 30;

  static constexpr std::int64_t scaled(std::uint64_t bytes) {
    return static_cast<std::int64_t>(std::min(bytes, max_bytes)) * nanos_per_second;
  }

  void refill(nanos now) {
    if (now <= last_)
      return;
    auto elapsed = now - last_;
    last_ = now;
    if (tokens_ >= capacity_)
      return;
    // Full after (capacity - tokens) / rate ns: compare first, so the product cannot overflow.
    auto to_full = (capacity_ - tokens_ + rate_ - 1) / rate_;
    tokens_ = elapsed >= to_full ? capacity_ : tokens_ + elapsed * rate_;
  }

  std::int64_t rate_;
  std::int64_t capacity_;
  std::int64_t tokens_;
  nanos last_;
};

// -- links -------------------------------------------------------------------------------------------

/// The conditions between one source host and one destination host.
struct link_params {
  nanos delay = 0;         ///< one-way delay added to every packet
  std::uint64_t rate = 0;  ///< bytes per second; 0 means unlimited
  std::uint64_t burst = 0; ///< token bucket size in bytes (used when rate > 0)
  std::size_t queue_limit = 65536; ///< bytes (wire_size) that may wait for tokens; more are dropped
};

/// A packet the relay holds (waiting for tokens or on the wire).
struct held_packet {
  std::vector<std::uint8_t> bytes; ///< as read from the TUN device, written out the same
  std::size_t cost = 0;            ///< bytes on the wire (wire_size): what the bucket charges
  nanos due = 0;                   ///< when it leaves the wire (set when it enters the wire)
};

/// Counters of one ordered pair, as the stats file shows them.
struct link_counters {
  std::uint64_t packets = 0;       ///< delivered to the destination (super-packets count once)
  std::uint64_t bytes = 0;         ///< delivered to the destination, as on the wire (wire_size)
  std::uint64_t dropped_queue = 0; ///< found the queue full
  std::uint64_t dropped_memory = 0; ///< the relay's memory budget was used up
  std::size_t queue_high_water = 0; ///< most packets ever waiting for tokens
  std::size_t queue_high_water_bytes = 0; ///< most bytes (wire_size) ever waiting for tokens
  std::size_t wire_high_water = 0;  ///< most packets ever in flight on the delayed wire
};

/// What a link decides about an arriving packet.
enum class admission {
  deliver, ///< write it out now: no delay, tokens available
  wire,    ///< hold it on the wire until now + delay
  queue,   ///< hold it in the queue until tokens come
  drop,    ///< the queue is full
};

/// One ordered pair (source host, destination host): bounded queue -> token bucket -> delay.
class pair_link {
public:
  pair_link(link_params params, nanos now) : params_(params), bucket_(params.rate, params.burst, now) {
    // nop
  }

  const link_params& params() const { return params_; }
  const link_counters& counters() const { return counters_; }
  link_counters& counters() { return counters_; }

  /// True if the link holds no packet.
  bool idle() const { return queue_.empty() && wire_.empty(); }

  /// Packets waiting for tokens and packets on the wire.
  std::size_t queued() const { return queue_.size(); }
  std::size_t queued_bytes() const { return queued_bytes_; }
  std::size_t in_flight() const { return wire_.size(); }

  /// Decides what happens to a packet costing `size` bytes (wire_size) arriving at `now`. On
  /// `deliver` the tokens are taken already; on `wire` and `queue` the caller must hand the packet to
  /// hold(). On `drop` the drop is counted.
  admission admit(std::size_t size, nanos now) {
    if (queue_.empty() && bucket_.try_take(size, now))
      return params_.delay == 0 && wire_.empty() ? admission::deliver : admission::wire;
    // An empty queue takes any packet, so one larger than the limit is not refused for ever.
    if (!queue_.empty() && queued_bytes_ + size > params_.queue_limit) {
      ++counters_.dropped_queue;
      return admission::drop;
    }
    return admission::queue;
  }

  /// Holds a packet admit() sent to the wire or the queue (`where`), arriving at `now`.
  void hold(held_packet packet, admission where, nanos now) {
    if (where == admission::wire) {
      packet.due = now + params_.delay;
      wire_.push_back(std::move(packet));
      counters_.wire_high_water = std::max(counters_.wire_high_water, wire_.size());
    } else {
      queued_bytes_ += packet.cost;
      queue_.push_back(std::move(packet));
      counters_.queue_high_water = std::max(counters_.queue_high_water, queue_.size());
      counters_.queue_high_water_bytes = std::max(counters_.queue_high_water_bytes, queued_bytes_);
    }
  }

  /// Counts a packet (of `size` bytes on the wire) the caller wrote out after `deliver`.
  void delivered(std::size_t size) {
    ++counters_.packets;
    counters_.bytes += size;
  }

  /// Moves packets whose tokens have come onto the wire and calls `out(held_packet&&)` for each one
  /// due at `now`, oldest first. Returns when the link next needs service, or `never`.
  template <class Out>
  nanos service(nanos now, Out&& out) {
    while (!queue_.empty() && bucket_.try_take(queue_.front().cost, now)) {
      auto packet = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= packet.cost;
      packet.due = now + params_.delay;
      wire_.push_back(std::move(packet));
      counters_.wire_high_water = std::max(counters_.wire_high_water, wire_.size());
    }
    // The delay is the same for every packet of the pair, so the wire is ordered by due time.
    while (!wire_.empty() && wire_.front().due <= now) {
      auto packet = std::move(wire_.front());
      wire_.pop_front();
      delivered(packet.cost);
      out(std::move(packet));
    }
    nanos next = never;
    if (!wire_.empty())
      next = wire_.front().due;
    if (!queue_.empty())
      next = std::min(next, bucket_.ready_at(queue_.front().cost, now));
    return next;
  }

private:
  link_params params_;
  token_bucket bucket_;
  link_counters counters_;
  std::deque<held_packet> queue_;
  std::size_t queued_bytes_ = 0;
  std::deque<held_packet> wire_;
};

/// The token bucket size the relay uses for `rate` bytes per second: 10 ms worth of traffic, but at
/// least two packets of `mtu` bytes, so that a single full packet never waits for a bucket too small.
constexpr std::uint64_t default_burst(std::uint64_t rate, std::uint64_t mtu) {
  return std::max<std::uint64_t>(rate / 100, 2 * mtu);
}

/// The queue bound the relay uses for `rate` bytes per second: `queue_ms` worth of traffic (a
/// router's buffer), but at least two of the largest packets (`max_packet` bytes on the wire).
constexpr std::size_t default_queue_limit(std::uint64_t rate, std::uint64_t queue_ms,
                                          std::size_t max_packet) {
  return std::max<std::size_t>(static_cast<std::size_t>(rate * queue_ms / 1000), 2 * max_packet);
}

} // namespace joconde::netlab
