#pragma once

// The command line of joconde-netlab-relay (relay.cpp).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace joconde::netlab {

/// The program's name, for messages.
inline constexpr const char* program = "joconde-netlab-relay";

/// A lab host: the TUN device the relay makes for it and its address.
struct host_spec {
  std::string name;
  std::string interface;
  std::uint32_t address = 0;
  bool direct = false; ///< no delay and no limit to or from this host (the lab's workstation)
};

/// Other conditions for one ordered pair of hosts (--link).
struct link_override {
  std::string from;
  std::string to;
  double delay_ms = 0;
  double rate_mbit = 0;
};

/// The relay's command line.
struct options {
  std::vector<host_spec> hosts;
  std::vector<link_override> links;
  double delay_ms = 0;
  double rate_mbit = 0;
  unsigned mtu = 1500;
  unsigned queue_ms = 100;
  std::size_t memory_mib = 128;
  std::string stats_file;
  bool offload = false;
};

/// Parses and checks the command line; prints the help and exits 0 on --help, prints what is wrong
/// and exits 2 on bad input.
options parse_options(int argc, char** argv);

} // namespace joconde::netlab
