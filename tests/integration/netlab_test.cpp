#define BOOST_TEST_MODULE netlab
#include <boost/test/unit_test.hpp>

// The multi-host laboratory (ops/netlab, joconde-netlab-relay) as an operator and ops/cluster use it:
// a lab of three hosts, each in its own network namespace, TCP between them across the relay with the
// delay and the bandwidth limit it enforces (lower bounds only: tests assert no upper bound on time),
// the workstation reaching every host, refused input, and nothing left behind after `down`, also when
// a check fails half-way (the fixture's destructor cleans up). Needs root, like the lab itself.

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

extern char** environ;

namespace {

const fs::path source_dir{JOCONDE_SOURCE_DIR};
const std::string netlab = (source_dir / "ops" / "netlab").string();
const std::string relay = std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-netlab-relay";

// The lab's one-way delay and bandwidth limit in this test.
constexpr double delay_ms = 30;
constexpr double rate_mbit = 8; // 1 MB/s per ordered pair

struct outcome {
  int rc = -1;
  std::string out;
};

/// Runs `command` (a shell command line) with its output captured, killed after `seconds`.
outcome sh(const std::string& command, int seconds = 60) {
  auto line = "timeout -k 5 " + std::to_string(seconds) + " sh -c '" + command + "' 2>&1";
  outcome o;
  if (auto* p = ::popen(line.c_str(), "r")) {
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, p))
      o.out.append(buf, n);
    auto rc = ::pclose(p);
    o.rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + (WIFSIGNALED(rc) ? WTERMSIG(rc) : 0);
  }
  return o;
}

/// The last line of `text` that starts with `key `, without the key; empty if none.
std::string value_of(const std::string& text, const std::string& key) {
  std::istringstream in{text};
  std::string line, found;
  while (std::getline(in, line))
    if (line.rfind(key + " ", 0) == 0)
      found = line.substr(key.size() + 1);
  return found;
}

/// The tests need root, as the lab does; without it they are skipped.
boost::test_tools::assertion_result is_root(boost::unit_test::test_unit_id) {
  return ::geteuid() == 0;
}

/// TCP helpers run inside the lab with `ops/netlab exec`: a one-connection server ('E' echoes,
/// 'S' counts and answers the count), and clients for echo, round trips and bulk sends. Every socket
/// operation has a timeout.
constexpr const char* probe_py = R"(import socket, sys, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def connect():
    deadline = time.monotonic() + 20
    while True:
        try:
            c = socket.create_connection((host, port), timeout=10)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    c.settimeout(60)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c
def read_all(c):
    data = b""
    while True:
        d = c.recv(1 << 16)
        if not d:
            return data
        data += d
if mode == "serve":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1)
    s.settimeout(60)
    c, _ = s.accept()
    c.settimeout(60)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    kind, total = c.recv(1), 0
    while True:
        d = c.recv(1 << 16)
        if not d:
            break
        total += len(d)
        if kind == b"E":
            c.sendall(d)
    if kind == b"S":
        c.sendall(str(total).encode())
    c.close()
elif mode == "echo":
    c = connect()
    message = b"hello across the lab " * 100
    c.sendall(b"E" + message)
    c.shutdown(socket.SHUT_WR)
    print("echo", "ok" if read_all(c) == message else "wrong")
elif mode == "rtt":
    c = connect()
    c.sendall(b"E")
    best = None
    for _ in range(int(sys.argv[4])):
        t = time.monotonic()
        c.sendall(b"x")
        if c.recv(1) != b"x":
            raise SystemExit("no echo")
        dt = time.monotonic() - t
        best = dt if best is None else min(best, dt)
    print("rtt_ms %.3f" % (best * 1000))
elif mode == "send":
    n = int(sys.argv[4])
    c = connect()
    c.sendall(b"S")
    t = time.monotonic()
    chunk = b"\0" * 65536
    left = n
    while left > 0:
        k = min(left, len(chunk))
        c.sendall(chunk[:k])
        left -= k
    c.shutdown(socket.SHUT_WR)
    answer = read_all(c).decode()
    print("received", answer)
    print("seconds %.6f" % (time.monotonic() - t))
)";

/// A lab in a fresh temporary directory, with a prefix of its own; the destructor removes every
/// namespace, interface, file and process of it, whatever happened before.
struct lab_fixture {
  std::string prefix = "jt" + std::to_string(::getpid());
  fs::path base = fs::temp_directory_path() / ("joconde-netlab-" + std::to_string(::getpid()));
  fs::path dir = base / "lab";
  fs::path other = base / "other"; // for `up` attempts that must be refused
  fs::path probe = base / "probe.py";
  std::vector<pid_t> helpers;

  lab_fixture() {
    ::setenv("JOCONDE_NETLAB_RELAY", relay.c_str(), 1);
    fs::remove_all(base);
    fs::create_directories(base);
    std::ofstream{probe} << probe_py;
  }

  ~lab_fixture() {
    for (auto pid : helpers)
      reap(pid, true);
    for (const auto& d : {dir, other})
      if (fs::exists(d))
        sh(netlab + " down --dir " + d.string(), 60);
    // If `down` could not do it: everything named with the prefix goes.
    sh("for ns in $(ls /run/netns 2>/dev/null | grep \"^" + prefix + "-\"); do "
       "  for p in $(ip netns pids $ns); do kill -9 $p; done; ip netns del $ns; done; "
       "for l in $(ls /sys/class/net | grep \"^" + prefix + "-\"); do "
       "  [ -e /sys/class/net/$l/tun_flags ] && ip link del $l; done; "
       "rm -rf /etc/netns/" + prefix + "-*; rmdir /etc/netns 2>/dev/null; "
       "for p in $(pgrep -f \"" + own_processes() + "\"); do kill -9 $p; done; true", 60);
    fs::remove_all(base);
  }

  /// A pgrep pattern for the processes that name a file below `base` (the relay, the probes); the
  /// shell that runs pgrep does not match it, as its command line holds "[a-z]" literally.
  std::string own_processes() const {
    return base.string() + "/[a-z]";
  }

  /// `ops/netlab ARGS`.
  outcome ops(const std::string& args, int seconds = 60) const {
    return sh(netlab + " " + args, seconds);
  }

  /// `ops/netlab exec --dir DIR HOST -- python3 probe.py ARGS` in the foreground.
  outcome probe_in(const std::string& host, const std::string& args) const {
    return ops("exec --dir " + dir.string() + " " + host + " -- python3 " + probe.string() + " " + args,
               120);
  }

  /// The probe run directly on the workstation.
  outcome probe_here(const std::string& args) const {
    return sh("python3 " + probe.string() + " " + args, 120);
  }

  /// Starts a probe server inside `host` in the background (at most 120 s).
  void serve(const std::string& host, const std::string& address, int port) {
    std::vector<std::string> args{"timeout", "-k", "5", "120", netlab, "exec", "--dir", dir.string(),
                                  host, "--", "python3", probe.string(), "serve", address,
                                  std::to_string(port)};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    BOOST_REQUIRE_EQUAL(::posix_spawnp(&pid, "timeout", nullptr, nullptr, argv.data(), environ), 0);
    helpers.push_back(pid);
  }

  /// Waits (bounded) for the background servers to end; kills them if `kill`.
  void reap_helpers() {
    for (auto pid : helpers)
      reap(pid, false);
    helpers.clear();
  }

  static void reap(pid_t pid, bool kill) {
    if (kill)
      ::kill(pid, SIGKILL);
    for (int i = 0; i < 300; ++i) {
      if (::waitpid(pid, nullptr, WNOHANG) != 0)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }

  nlohmann::json state() const {
    std::ifstream in{dir / "netlab.json"};
    return nlohmann::json::parse(in, nullptr, false);
  }

  /// Whatever of this lab's prefix exists on the machine (empty when nothing does).
  std::string leftovers() const {
    return sh("ls /run/netns 2>/dev/null | grep \"^" + prefix + "-\"; "
              "ls /sys/class/net | grep \"^" + prefix + "-\"; "
              "ls /etc/netns 2>/dev/null | grep \"^" + prefix + "-\"; "
              "ip netns list | grep \"^" + prefix + "-\"; "
              "ip -o link | grep \" " + prefix + "-\"; true").out;
  }
};

bool pid_alive(long pid) {
  if (pid <= 0)
    return false;
  std::ifstream stat{"/proc/" + std::to_string(pid) + "/stat"};
  std::string all;
  std::getline(stat, all);
  auto close = all.rfind(')');
  return close != std::string::npos && close + 2 < all.size() && all[close + 2] != 'Z';
}

} // namespace

BOOST_AUTO_TEST_CASE(lab_relays_between_namespaces_with_delay_and_rate_and_leaves_nothing,
                     *boost::unit_test::precondition(is_root)) {
  lab_fixture lab;
  std::ostringstream up;
  up << "up --dir " << lab.dir.string() << " --prefix " << lab.prefix << " --hosts root,cp1,cp2"
     << " --delay-ms " << delay_ms << " --rate-mbit " << rate_mbit;
  auto r = lab.ops(up.str());
  BOOST_REQUIRE_MESSAGE(r.rc == 0, r.out);

  // netlab.json as other tools read it.
  auto doc = lab.state();
  BOOST_REQUIRE(doc.is_object());
  BOOST_CHECK_EQUAL(doc["prefix"], lab.prefix);
  BOOST_CHECK_EQUAL(doc["workstation"], "198.18.0.1");
  BOOST_CHECK_EQUAL(doc["mtu"], 1500);
  BOOST_CHECK_EQUAL(doc["delay_ms"].get<double>(), delay_ms);
  BOOST_CHECK_EQUAL(doc["rate_mbit"].get<double>(), rate_mbit);
  BOOST_REQUIRE(doc["relay_pid"].is_number_integer());
  BOOST_CHECK(pid_alive(doc["relay_pid"].get<long>()));
  BOOST_CHECK(doc["stats_file"].is_string());
  BOOST_REQUIRE_EQUAL(doc["hosts"].size(), 3u);
  const char* names[] = {"root", "cp1", "cp2"};
  const char* addresses[] = {"198.18.0.10", "198.18.0.11", "198.18.0.12"};
  for (int i = 0; i < 3; ++i) {
    const auto& h = doc["hosts"][i];
    BOOST_CHECK_EQUAL(h["name"], names[i]);
    BOOST_CHECK_EQUAL(h["netns"], lab.prefix + "-" + names[i]);
    BOOST_CHECK_EQUAL(h["address"], addresses[i]);
    BOOST_CHECK(h["interface"].is_string());
    // The host's interface carries its address, inside its namespace only.
    auto a = lab.ops("exec --dir " + lab.dir.string() + " " + names[i] + " -- ip -o -4 addr show");
    BOOST_CHECK_EQUAL(a.rc, 0);
    BOOST_CHECK_MESSAGE(a.out.find(std::string{addresses[i]} + "/15") != std::string::npos, a.out);
  }

  // TCP between two hosts across the relay, by lab name.
  lab.serve("cp2", "198.18.0.12", 7000);
  r = lab.probe_in("cp1", "echo cp2.lab 7000");
  BOOST_CHECK_MESSAGE(value_of(r.out, "echo") == "ok", r.out);
  lab.reap_helpers();

  // The relay holds each packet for the one-way delay: a round trip takes at least twice that.
  lab.serve("cp2", "198.18.0.12", 7001);
  r = lab.probe_in("cp1", "rtt 198.18.0.12 7001 5");
  auto rtt = value_of(r.out, "rtt_ms");
  BOOST_REQUIRE_MESSAGE(!rtt.empty(), r.out);
  BOOST_TEST_MESSAGE("round trip cp1 -> cp2 with " << delay_ms << " ms one way: " << rtt << " ms");
  BOOST_CHECK_GE(std::stod(rtt), 2 * delay_ms);
  lab.reap_helpers();

  // The workstation reaches every host (no delay or limit on its side).
  for (int i = 0; i < 3; ++i) {
    lab.serve(names[i], addresses[i], 7002);
    r = lab.probe_here(std::string{"echo "} + addresses[i] + " 7002");
    BOOST_CHECK_MESSAGE(value_of(r.out, "echo") == "ok", names[i] << ": " << r.out);
  }
  lab.reap_helpers();

  // N bytes under the rate limit take at least N / rate, less the token bucket's burst (10 ms worth
  // at this rate, counted generously here as 10% of the transfer).
  constexpr long n = 1'500'000;
  lab.serve("root", "198.18.0.10", 7003);
  r = lab.probe_in("cp1", "send root.lab 7003 " + std::to_string(n));
  BOOST_CHECK_MESSAGE(value_of(r.out, "received") == std::to_string(n), r.out);
  auto seconds = value_of(r.out, "seconds");
  BOOST_REQUIRE_MESSAGE(!seconds.empty(), r.out);
  double at_least = 0.9 * n * 8 / (rate_mbit * 1e6);
  BOOST_TEST_MESSAGE(n << " bytes at " << rate_mbit << " Mbit/s: " << seconds << " s (at least "
                       << at_least << " s)");
  BOOST_CHECK_GE(std::stod(seconds), at_least);
  lab.reap_helpers();

  // Status: all well, with the relay's counters (written every second).
  r = lab.ops("status --dir " + lab.dir.string());
  BOOST_CHECK_MESSAGE(r.rc == 0, r.out);
  nlohmann::json report;
  bool counted = false;
  for (int i = 0; i < 50 && !counted; ++i) {
    r = lab.ops("status --json --dir " + lab.dir.string());
    report = nlohmann::json::parse(r.out, nullptr, false);
    if (report.is_object() && report["ok"] == true && report["stats"].is_object())
      for (const auto& p : report["stats"]["pairs"])
        if (p["from"] == "cp1" && p["to"] == "root" && p["bytes"].get<long>() >= n)
          counted = true;
    if (!counted)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_CHECK_MESSAGE(r.rc == 0, r.out);
  BOOST_CHECK_MESSAGE(counted, "no counters for cp1 -> root in: " << r.out);

  // `exec` returns the command's exit status; an unknown host is a usage error.
  BOOST_CHECK_EQUAL(lab.ops("exec --dir " + lab.dir.string() + " cp1 -- sh -c \"exit 3\"").rc, 3);
  r = lab.ops("exec --dir " + lab.dir.string() + " cp9 -- true");
  BOOST_CHECK_EQUAL(r.rc, 2);
  BOOST_CHECK_MESSAGE(r.out.find("no host") != std::string::npos, r.out);

  // Another lab with the same prefix is refused and the running one is untouched.
  r = lab.ops("up --dir " + lab.other.string() + " --prefix " + lab.prefix + " --hosts a,b");
  BOOST_CHECK_EQUAL(r.rc, 1);
  BOOST_CHECK_MESSAGE(r.out.find("another lab") != std::string::npos, r.out);
  BOOST_CHECK(!fs::exists(lab.other / "netlab.json"));
  // The same directory twice is refused too.
  r = lab.ops("up --dir " + lab.dir.string() + " --prefix " + lab.prefix + "x --hosts a,b");
  BOOST_CHECK_EQUAL(r.rc, 1);
  BOOST_CHECK_MESSAGE(r.out.find("is up in") != std::string::npos, r.out);
  r = lab.ops("status --dir " + lab.dir.string());
  BOOST_CHECK_MESSAGE(r.rc == 0, r.out);

  // Bad input: a usage error, and nothing is made.
  auto before = lab.leftovers();
  for (std::string bad : {"--hosts Root,cp1", "--hosts cp1,cp1", "--hosts cp1,,cp2", "--hosts cp_1",
                          "--hosts workstation", "--hosts cp1 --delay-ms -5", "--hosts cp1 --delay-ms x",
                          "--hosts cp1 --delay-ms 100000", "--hosts cp1 --delay-ms nan",
                          "--hosts cp1 --rate-mbit -1", "--hosts cp1 --rate-mbit fast",
                          "--hosts cp1 --rate-mbit inf", "--hosts cp1 --mtu 100",
                          "--hosts cp1,cp2 --link cp1,cp9,5", "--hosts cp1,cp2 --link cp1,cp2,-1",
                          "--hosts cp1 --prefix Bad", "--delay-ms 5"}) {
    r = lab.ops("up --dir " + lab.other.string() + " --prefix " + lab.prefix + "b " + bad);
    BOOST_CHECK_MESSAGE(r.rc == 2, bad << ": " << r.rc << " " << r.out);
    BOOST_CHECK_MESSAGE(r.out.find("Traceback") == std::string::npos, r.out);
  }
  BOOST_CHECK(!fs::exists(lab.other / "netlab.json"));
  BOOST_CHECK_EQUAL(lab.leftovers(), before);
  BOOST_CHECK_EQUAL(sh("ls /run/netns 2>/dev/null | grep -c \"^" + lab.prefix + "b-\"").out, "0\n");

  // Down: no namespace, interface, hosts file or relay remains; a second down is fine.
  auto relay_pid = doc["relay_pid"].get<long>();
  r = lab.ops("down --dir " + lab.dir.string());
  BOOST_CHECK_MESSAGE(r.rc == 0, r.out);
  BOOST_CHECK_MESSAGE(lab.leftovers().empty(), lab.leftovers());
  BOOST_CHECK(!pid_alive(relay_pid));
  BOOST_CHECK_EQUAL(sh("pgrep -f \"" + lab.own_processes() + "\" | wc -l").out, "0\n");
  r = lab.ops("down --dir " + lab.dir.string());
  BOOST_CHECK_MESSAGE(r.rc == 0, r.out);
  BOOST_CHECK_NE(lab.ops("status --dir " + lab.dir.string()).rc, 0);
}

BOOST_AUTO_TEST_CASE(a_failed_up_removes_what_it_made, *boost::unit_test::precondition(is_root)) {
  lab_fixture lab;
  // A relay that exits at once: `up` fails after making the namespaces, and removes them.
  auto r = sh("JOCONDE_NETLAB_RELAY=/bin/false " + netlab + " up --dir " + lab.dir.string()
              + " --prefix " + lab.prefix + " --hosts cp1,cp2");
  BOOST_CHECK_EQUAL(r.rc, 1);
  BOOST_CHECK_MESSAGE(r.out.find("removing what was made") != std::string::npos, r.out);
  BOOST_CHECK_MESSAGE(lab.leftovers().empty(), lab.leftovers());
  // What remains of it is taken down without complaint, and the prefix is free again: here a lab
  // without segmentation offload, with jumbo frames.
  BOOST_CHECK_EQUAL(lab.ops("down --dir " + lab.dir.string()).rc, 0);
  // cp3 is farther away than the others.
  r = lab.ops("up --dir " + lab.dir.string() + " --prefix " + lab.prefix
              + " --hosts cp1,cp2,cp3 --no-offload --mtu 9000 --delay-ms 5 --link cp3,cp1,25");
  BOOST_REQUIRE_MESSAGE(r.rc == 0, r.out);
  BOOST_CHECK_EQUAL(lab.state()["offload"], false);
  BOOST_CHECK_EQUAL(lab.state()["mtu"], 9000);
  BOOST_CHECK_EQUAL(lab.state()["links"].size(), 1u);
  lab.serve("cp2", "198.18.0.11", 7000);
  r = lab.probe_in("cp1", "echo cp2.lab 7000");
  BOOST_CHECK_MESSAGE(value_of(r.out, "echo") == "ok", r.out);
  lab.reap_helpers();
  for (auto [from, at_least] : {std::pair{"cp2", 10.0}, std::pair{"cp3", 50.0}}) {
    lab.serve("cp1", "198.18.0.10", 7001);
    r = lab.probe_in(from, "rtt cp1.lab 7001 3");
    auto rtt = value_of(r.out, "rtt_ms");
    BOOST_REQUIRE_MESSAGE(!rtt.empty(), r.out);
    BOOST_CHECK_GE(std::stod(rtt), at_least);
    lab.reap_helpers();
  }
  BOOST_CHECK_EQUAL(lab.ops("down --dir " + lab.dir.string()).rc, 0);
  BOOST_CHECK_MESSAGE(lab.leftovers().empty(), lab.leftovers());
}
