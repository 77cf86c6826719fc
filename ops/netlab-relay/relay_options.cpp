// The command line of joconde-netlab-relay: every option checked, a clear message and exit code 2 for
// anything wrong.

#include "relay_options.hpp"

#include "relay_core.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string_view>

#include <net/if.h>

namespace joconde::netlab {

namespace {

constexpr std::size_t max_hosts = 256;

constexpr const char* usage_text =
  "Usage: joconde-netlab-relay --host NAME,IFNAME,ADDRESS[,direct] ... [OPTIONS]\n"
  "Relays IPv4 packets between TUN devices, one per lab host, with a one-way delay and a bandwidth\n"
  "limit per ordered pair of hosts. Addresses must lie in 198.18.0.0/15.\n"
  "  --host NAME,IFNAME,ADDRESS[,direct]  a lab host and the TUN device to create for it; `direct`:\n"
  "                                       no delay and no limit to or from it (the workstation)\n"
  "  --delay-ms MS          one-way delay between hosts (default 0, at most 10000)\n"
  "  --rate-mbit MBIT       bandwidth limit per ordered pair of hosts, 0 = none (default 0)\n"
  "  --link FROM,TO,DELAY_MS,RATE_MBIT  other conditions for one ordered pair of hosts\n"
  "  --mtu BYTES            MTU of the TUN devices, 576..65535 (default 1500)\n"
  "  --queue-ms MS          per pair, packets that would take longer than this to send at the\n"
  "                         pair's rate wait no more but are dropped (default 100)\n"
  "  --memory-mib MIB       most memory held in queued and delayed packets (default 128)\n"
  "  --stats FILE           write counters as JSON to FILE every second\n"
  "  --offload              TCP segmentation offload: the kernel hands over segments of up to\n"
  "                         64 KiB whole (fewer packets to relay); limits still count every\n"
  "                         MTU-sized segment with its headers\n"
  "Prints `ready` when every TUN device is open; SIGTERM or SIGINT stops it.\n";

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n(see %s --help)\n", program, what.c_str(), program);
  std::exit(2);
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    auto pos = text.find(sep, start);
    out.emplace_back(text.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos)
      return out;
    start = pos + 1;
  }
}

bool valid_name(std::string_view name, std::size_t max) {
  if (name.empty() || name.size() > max)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_' || c == '.';
  });
}

double number(std::string_view text, const char* what, double lo, double hi) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc{} && end == text.data() + text.size() && std::isfinite(value) && value >= lo
      && value <= hi)
    return value;
  char range[96];
  std::snprintf(range, sizeof range, " must be a number from %g to %g", lo, hi);
  usage_error(std::string{what} + range + ", not '" + std::string{text} + "'");
}

} // namespace

options parse_options(int argc, char** argv) {
  options opts;
  auto value = [&](int& i) -> std::string_view {
    if (i + 1 >= argc)
      usage_error(std::string{argv[i]} + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(usage_text, stdout);
      std::exit(0);
    } else if (arg == "--host") {
      auto parts = split(value(i), ',');
      if (parts.size() < 3 || parts.size() > 4 || (parts.size() == 4 && parts[3] != "direct"))
        usage_error("--host takes NAME,IFNAME,ADDRESS[,direct]");
      host_spec h;
      h.name = parts[0];
      h.interface = parts[1];
      if (!valid_name(h.name, 63))
        usage_error("bad host name '" + h.name + "' (letters, digits, '-', '_', '.'; at most 63)");
      if (!valid_name(h.interface, IFNAMSIZ - 1))
        usage_error("bad interface name '" + h.interface + "' (at most 15 characters)");
      auto address = parse_ipv4(parts[2]);
      if (!address || !in_lab_range(*address))
        usage_error("address '" + parts[2] + "' is not in the lab's range 198.18.0.0/15");
      h.address = *address;
      h.direct = parts.size() == 4;
      opts.hosts.push_back(std::move(h));
    } else if (arg == "--link") {
      auto parts = split(value(i), ',');
      if (parts.size() != 4)
        usage_error("--link takes FROM,TO,DELAY_MS,RATE_MBIT");
      opts.links.push_back({parts[0], parts[1], number(parts[2], "--link delay", 0, 10000),
                            number(parts[3], "--link rate", 0, 1e6)});
    } else if (arg == "--delay-ms") {
      opts.delay_ms = number(value(i), "--delay-ms", 0, 10000);
    } else if (arg == "--rate-mbit") {
      opts.rate_mbit = number(value(i), "--rate-mbit", 0, 1e6);
    } else if (arg == "--mtu") {
      opts.mtu = static_cast<unsigned>(number(value(i), "--mtu", 576, 65535));
    } else if (arg == "--queue-ms") {
      opts.queue_ms = static_cast<unsigned>(number(value(i), "--queue-ms", 1, 60000));
    } else if (arg == "--memory-mib") {
      opts.memory_mib = static_cast<std::size_t>(number(value(i), "--memory-mib", 1, 65536));
    } else if (arg == "--stats") {
      opts.stats_file = value(i);
    } else if (arg == "--offload") {
      opts.offload = true;
    } else {
      usage_error("unknown argument '" + std::string{arg} + "'");
    }
  }
  if (opts.hosts.empty())
    usage_error("give at least one --host");
  if (opts.hosts.size() > max_hosts)
    usage_error("at most " + std::to_string(max_hosts) + " hosts");
  std::set<std::string> names, interfaces;
  std::set<std::uint32_t> addresses;
  for (const auto& h : opts.hosts) {
    if (!names.insert(h.name).second)
      usage_error("host '" + h.name + "' is given twice");
    if (!interfaces.insert(h.interface).second)
      usage_error("interface '" + h.interface + "' is given twice");
    if (!addresses.insert(h.address).second)
      usage_error("address " + format_ipv4(h.address) + " is given twice");
  }
  for (const auto& l : opts.links)
    if (!names.count(l.from) || !names.count(l.to))
      usage_error("--link " + l.from + "," + l.to + ": no such host");
  return opts;
}

} // namespace joconde::netlab
