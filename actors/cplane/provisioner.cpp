#include "provisioner.hpp"

#include "joconde/runtime/build_info.hpp"
#include "joconde/runtime/crypto.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

extern char** environ;

namespace joconde {

namespace fs = std::filesystem;

namespace {

/// The largest VM binary or image configuration measured.
constexpr std::uintmax_t max_image_file = std::uintmax_t{1} << 30;

result<std::vector<std::uint8_t>> read_bytes(const char* key, const fs::path& file) {
  auto named = std::string{key} + " = " + file.string();
  if (file.empty())
    return fail(errc::invalid_config, std::string{key} + " is not set");
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec)
    return fail(errc::io_error, named + " cannot be read: " + ec.message());
  if (size > max_image_file)
    return fail(errc::too_large, named + " is larger than 1 GiB");
  std::ifstream in{file, std::ios::binary};
  std::vector<std::uint8_t> out(static_cast<std::size_t>(size));
  if (!in || !in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size())))
    return fail(errc::io_error, named + " cannot be read");
  return out;
}

/// The pids of every descendant of `pid` (children first found by their parent pid in /proc).
std::vector<pid_t> descendants(pid_t pid) {
  std::vector<std::pair<pid_t, pid_t>> procs; // pid, parent
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator{"/proc", ec}) {
    auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in{entry.path() / "stat"};
    std::string stat;
    std::getline(in, stat);
    auto close = stat.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream rest{stat.substr(close + 1)};
    std::string state;
    pid_t parent = 0;
    if (rest >> state >> parent)
      procs.emplace_back(static_cast<pid_t>(std::stol(name)), parent);
  }
  std::vector<pid_t> out;
  std::set<pid_t> seen{pid};
  std::vector<pid_t> todo{pid};
  while (!todo.empty()) {
    auto p = todo.back();
    todo.pop_back();
    for (auto [child, parent] : procs)
      if (parent == p && seen.insert(child).second) {
        out.push_back(child);
        todo.push_back(child);
      }
  }
  return out;
}

/// SIGKILL to `pid` and everything it started.
void kill_tree(pid_t pid) {
  auto below = descendants(pid);
  ::kill(pid, SIGKILL);
  for (auto p : below)
    ::kill(p, SIGKILL);
}

/// A `joconde-sp launch` process, a child of this node.
class process_handle final : public vm_handle {
public:
  explicit process_handle(pid_t pid) : pid_(pid) {
    // nop
  }

  ~process_handle() override {
    if (alive()) {
      kill_tree(pid_);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }

  bool alive() override {
    if (status_)
      return false;
    int st = 0;
    auto r = ::waitpid(pid_, &st, WNOHANG);
    if (r == 0)
      return true;
    if (r == pid_)
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255;
    else
      status_ = 255; // not our child any more: nothing to wait for
    return false;
  }

  std::optional<int> exit_status() override {
    alive();
    return status_;
  }

  void stop() override {
    if (alive())
      ::kill(pid_, SIGTERM);
  }

  void kill() override {
    if (alive())
      kill_tree(pid_);
  }

  std::string describe() const override {
    return "joconde-sp pid " + std::to_string(pid_);
  }

private:
  pid_t pid_;
  std::optional<int> status_;
};

class process_provisioner final : public provisioner {
public:
  explicit process_provisioner(tee_config tee) : tee_(std::move(tee)) {
    // nop
  }

  result<std::unique_ptr<vm_handle>> start(const vm_launch& l) override {
    if (tee_.sp_binary.empty() || ::access(tee_.sp_binary.c_str(), X_OK) != 0)
      return fail(errc::invalid_config, "tee.sp-binary = " + tee_.sp_binary.string()
                                          + " is not an executable file (joconde-sp, the simulated "
                                            "secure processor)");
    std::error_code ec;
    if (!fs::is_regular_file(tee_.vm_binary, ec))
      return fail(errc::invalid_config, "tee.vm-binary = " + tee_.vm_binary.string()
                                          + " is not a file (joconde-vm, the CT VM image)");
    if (!fs::is_directory(tee_.platform_dir, ec))
      return fail(errc::invalid_config, "tee.platform-dir = " + tee_.platform_dir.string()
                                          + " is not a directory (make it with joconde-sp init)");
    if (!fs::is_regular_file(tee_.image_config, ec))
      return fail(errc::invalid_config, "tee.image-config = " + tee_.image_config.string()
                                          + " is not a file (the measured image configuration)");
    std::vector<std::string> args{tee_.sp_binary.string(),
                                  "launch",
                                  "--platform",
                                  tee_.platform_dir.string(),
                                  "--vm",
                                  tee_.vm_binary.string(),
                                  "--image-config",
                                  tee_.image_config.string(),
                                  "--host-data",
                                  crypto::hex(l.cta_hash),
                                  "--",
                                  "--cta",
                                  l.cta_file.string(),
                                  "--cp-index",
                                  std::to_string(l.cp_index),
                                  "--data-dir",
                                  l.vm_dir.string(),
                                  "--bind",
                                  tee_.network.bind,
                                  "--advertise",
                                  tee_.network.advertise,
                                  "--admin-bind",
                                  tee_.network.admin_bind,
                                  "--admin-token-file",
                                  l.admin_token_file.string()};
    if (tee_.network.ports.size() > 0) {
      args.emplace_back("--ports");
      args.push_back(tee_.network.ports.text());
    }
    auto log_file = l.ct_dir / "sp.log";
    int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0)
      return fail(errc::io_error, "cannot open " + log_file.string() + ": " + std::strerror(errno));
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
    // Nothing of the node (sockets, the store, keys) leaks into the secure processor.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGCHLD, SIGHUP})
      sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    auto rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(log_fd);
    if (rc != 0)
      return fail(errc::io_error, "cannot start " + tee_.sp_binary.string() + ": " + std::strerror(rc));
    // Where a restarted node finds the VM to end (end_leftover).
    std::ofstream{l.ct_dir / "sp.pid", std::ios::trunc} << pid << "\n";
    return std::unique_ptr<vm_handle>{std::make_unique<process_handle>(pid)};
  }

  void end_leftover(const fs::path& ct_dir) override {
    std::ifstream in{ct_dir / "sp.pid"};
    long pid = 0;
    if (!(in >> pid) || pid <= 1)
      return;
    // Only the secure processor that served this directory, never a process that reused its pid.
    std::ifstream cmd{"/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary};
    std::string args{std::istreambuf_iterator<char>{cmd}, std::istreambuf_iterator<char>{}};
    if (args.find((ct_dir / "vm").string()) != std::string::npos)
      kill_tree(static_cast<pid_t>(pid));
  }

  std::string name() const override {
    return "process";
  }

private:
  tee_config tee_;
};

} // namespace

result<void> check_port_budget(const vm_network& network, std::size_t running) {
  auto size = network.ports.size();
  if (size == 0 || (running + 1) * ports_per_vm <= size)
    return ok();
  return fail(errc::resource_exhausted,
              "the CT VM port range is exhausted: vm.ports = " + network.ports.text() + " holds "
                + std::to_string(size) + " ports, the " + std::to_string(running)
                + " CT VM(s) running here use " + std::to_string(running * ports_per_vm)
                + " and a CT VM needs " + std::to_string(ports_per_vm)
                + "; widen vm.ports (and the firewall) or wait until a CT ends");
}

result<enclave::measurement> image_measurement(const tee_config& tee) {
  auto binary = read_bytes("tee.vm-binary", tee.vm_binary);
  if (!binary)
    return binary.err();
  auto config = read_bytes("tee.image-config", tee.image_config);
  if (!config)
    return config.err();
  return enclave::measure(*binary, *config);
}

result<nlohmann::json> tee_description(const tee_config& tee) {
  auto m = image_measurement(tee);
  if (!m)
    return m.err();
  return nlohmann::json{{"platform", "simulated"},
                        {"simulated", true},
                        {"image", "joconde-vm " + std::string{build_info::version()}},
                        {"measurement", crypto::hex(*m)},
                        {"note", "SIMULATED TEE: no memory protection"}};
}

std::unique_ptr<provisioner> make_process_provisioner(tee_config tee) {
  return std::make_unique<process_provisioner>(std::move(tee));
}

std::unique_ptr<provisioner> make_provisioner(const tee_config& tee) {
  if (tee.kind == provisioner_kind::inproc)
    return make_inproc_provisioner(tee);
  return make_process_provisioner(tee);
}

} // namespace joconde
