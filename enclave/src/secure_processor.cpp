#include "joconde/enclave/secure_processor.hpp"

#include "joconde/io/fd.hpp"
#include "joconde/io/stream.hpp"

#include "joconde/enclave/simulated.hpp"

#include "ossl.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <utility>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U // Linux 6.3: executable memfd, where vm.memfd_noexec asks for it
#endif

extern char** environ;

namespace joconde::enclave {

namespace {

constexpr std::string_view evidence_request = "JRQ1";
constexpr std::string_view evidence_reply = "JRP1";
constexpr std::string_view error_reply = "JRE1";
constexpr std::string_view config_request = "JCF1";
constexpr std::string_view sp_name = "the secure processor (joconde-sp)";
constexpr std::string_view vm_name = "the VM";

bool is(std::span<const std::uint8_t> data, std::string_view magic) {
  return data.size() >= magic.size() && std::equal(magic.begin(), magic.end(), data.begin());
}

bytes with_magic(std::string_view magic) {
  return {magic.begin(), magic.end()};
}

} // namespace

// -- fd_attester --

/// The socket and the lock that keeps one request and its reply together.
struct fd_attester::state {
  std::mutex mutex;
  io::unique_fd fd;
  bool broken = false;
  std::chrono::milliseconds timeout{0};
};

fd_attester::fd_attester(int fd, std::chrono::milliseconds timeout)
  : state_(std::make_unique<state>()) {
  state_->fd.reset(fd);
  state_->timeout = timeout;
}

fd_attester::fd_attester(fd_attester&&) noexcept = default;
fd_attester& fd_attester::operator=(fd_attester&&) noexcept = default;
fd_attester::~fd_attester() = default;

result<fd_attester> fd_attester::from_environment() {
  auto name = std::string{attest_fd_variable};
  const char* value = std::getenv(name.c_str());
  auto refuse = [&](std::string why) {
    return fail(errc::invalid_config,
                name + " " + why + ": this program must be started by the secure processor "
                  + "(joconde-sp launch), which passes it the attestation socket");
  };
  if (value == nullptr)
    return refuse("is not set");
  std::string_view text{value};
  int fd = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), fd);
  if (ec != std::errc{} || end != text.data() + text.size() || fd < 0)
    return refuse("is \"" + std::string{text.substr(0, 32)} + "\", not a file descriptor number");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
    return refuse("names file descriptor " + std::to_string(fd) + ", which is not an open socket");
  ::unsetenv(name.c_str());
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd_attester{fd};
}

result<bytes> fd_attester::exchange(std::span<const std::uint8_t> request, std::string_view magic,
                                    std::size_t max, std::size_t trailer) const {
  if (!state_)
    return fail(errc::invalid_state, "this attester was moved from; use the one it was moved to");
  std::lock_guard<std::mutex> guard{state_->mutex};
  if (!state_->fd.valid() || state_->broken)
    return fail(errc::io_error, "the connection to the secure processor is broken by an earlier "
                                "error, so this VM cannot attest any more; restart the VM");
  auto budget = io::within(state_->timeout);
  auto broke = [this](error e) {
    state_->broken = true;
    return e;
  };
  if (auto r = io::write_all(state_->fd.get(), request, budget, sp_name); !r)
    return broke(r.err());
  std::uint8_t head[8];
  if (auto r = io::read_exact(state_->fd.get(), head, budget, sp_name); !r)
    return broke(r.err());
  auto len = static_cast<std::size_t>(detail::get_be(head + 4, 4));
  if (is(head, error_reply)) {
    if (len > max_error_reply)
      return broke(fail(errc::protocol_error, "the secure processor sent an error reply of "
                                                + std::to_string(len) + " bytes, over the limit"));
    bytes text(len);
    if (auto r = io::read_exact(state_->fd.get(), text, budget, sp_name); !r)
      return broke(r.err());
    std::string message{text.begin(), text.end()};
    auto colon = message.find(": ");
    auto code = errc_from_string(message.substr(0, colon), errc::crypto_failure);
    if (code == errc::none)
      code = errc::crypto_failure;
    return fail(code, "the secure processor refused: " + message);
  }
  if (!is(head, magic) || len > max)
    return broke(fail(errc::protocol_error,
                      "the secure processor's reply is not \"" + std::string{magic}
                        + "\" with at most " + std::to_string(max)
                        + " bytes; it runs another protocol version, restart the VM with a "
                          "matching joconde-sp"));
  bytes body(len + trailer);
  if (auto r = io::read_exact(state_->fd.get(), body, budget, sp_name); !r)
    return broke(r.err());
  return body;
}

result<evidence> fd_attester::get_evidence(std::span<const std::uint8_t, 64> data) const {
  auto request = with_magic(evidence_request);
  request.insert(request.end(), data.begin(), data.end());
  auto body = exchange(request, evidence_reply, max_evidence_reply, 0);
  if (!body)
    return std::move(body).err();
  return decode_evidence(*body);
}

result<launch_info> fd_attester::launch_configuration() const {
  auto body = exchange(with_magic(config_request), config_request, max_image_config,
                       std::tuple_size_v<host_data>);
  if (!body)
    return std::move(body).err();
  launch_info out;
  auto split = body->end() - static_cast<std::ptrdiff_t>(out.host.size());
  std::copy(split, body->end(), out.host.begin());
  out.image_config.assign(body->begin(), split);
  return out;
}

// -- serving the attestation socket --

result<bool> serve_attestation_request(int fd, const attester& vm, const launch_info& launch,
                                       std::chrono::milliseconds timeout) {
  // The VM may ask rarely: wait for a request as long as it takes, then for the rest of it briefly.
  std::uint8_t magic[4];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, -1) >= 0 || errno != EINTR)
      break;
  }
  ssize_t n = 0;
  do {
    n = ::recv(fd, magic, 1, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n == 0)
    return false;
  if (n < 0)
    return fail(errc::io_error, std::string{"the VM's attestation socket failed ("}
                                  + std::strerror(errno) + ")");
  auto budget = io::within(timeout);
  if (auto r = io::read_exact(fd, std::span{magic}.subspan(1), budget, vm_name); !r)
    return r.err();
  bytes reply;
  if (is(magic, evidence_request)) {
    report_data data{};
    if (auto r = io::read_exact(fd, data, budget, vm_name); !r)
      return r.err();
    auto ev = vm.get_evidence(data);
    auto encoded = ev ? encode(*ev) : bytes{};
    if (ev && encoded.size() > max_evidence_reply)
      ev = fail(errc::too_large, "the evidence is over the protocol's limit of 256 KiB");
    if (ev) {
      reply = with_magic(evidence_reply);
      detail::put_be(reply, encoded.size(), 4);
      reply.insert(reply.end(), encoded.begin(), encoded.end());
    } else {
      auto text = ev.err().describe().substr(0, max_error_reply);
      reply = with_magic(error_reply);
      detail::put_be(reply, text.size(), 4);
      reply.insert(reply.end(), text.begin(), text.end());
    }
  } else if (is(magic, config_request)) {
    reply = with_magic(config_request);
    detail::put_be(reply, launch.image_config.size(), 4);
    reply.insert(reply.end(), launch.image_config.begin(), launch.image_config.end());
    reply.insert(reply.end(), launch.host.begin(), launch.host.end());
  } else {
    return fail(errc::protocol_error, "the VM sent the unknown request "
                                        + detail::hex(std::span{magic})
                                        + "; its attestation socket is closed");
  }
  if (auto r = io::write_all(fd, reply, budget, vm_name); !r)
    return r.err();
  return true;
}

result<void> serve_attestation(int fd, const attester& vm, const launch_info& launch,
                               std::chrono::milliseconds timeout) {
  for (;;) {
    auto served = serve_attestation_request(fd, vm, launch, timeout);
    if (!served)
      return std::move(served).err();
    if (!*served)
      return ok();
  }
}

// -- launching a VM --

result<bytes> read_file(const std::filesystem::path& file, std::size_t max) {
  auto cannot = [&](int err) {
    return fail(errc::io_error, "cannot read " + file.string() + " (" + std::strerror(err)
                                  + "); check the path and its permissions");
  };
  io::unique_fd fd{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (!fd.valid())
    return cannot(errno);
  auto too_big = [&] {
    return fail(errc::too_large, file.string() + " is over the limit of " + std::to_string(max)
                                   + " bytes; check that it is the right file");
  };
  bytes out;
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
    if (static_cast<std::uint64_t>(st.st_size) > max)
      return too_big();
    out.reserve(static_cast<std::size_t>(st.st_size));
  }
  std::uint8_t buf[64 * 1024];
  for (;;) {
    auto n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return cannot(errno);
    if (n == 0)
      break;
    if (out.size() + static_cast<std::size_t>(n) > max)
      return too_big();
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

namespace {

/// The VM's pid, for the signal handlers (0 while there is none).
volatile std::sig_atomic_t running_vm = 0;

/// The write end of the self-pipe SIGCHLD wakes the serving loop with.
volatile std::sig_atomic_t child_pipe = -1;

void forward_signal(int sig) {
  if (auto pid = running_vm; pid > 0)
    ::kill(static_cast<pid_t>(pid), sig);
}

void note_child(int) {
  auto saved = errno;
  if (int fd = child_pipe; fd >= 0) {
    char c = 0;
    [[maybe_unused]] auto n = ::write(fd, &c, 1);
  }
  errno = saved;
}

error system_error(std::string_view what) {
  return fail(errc::io_error, "the secure processor could not " + std::string{what} + " ("
                                + std::strerror(errno) + ")");
}

/// An anonymous, sealed file holding exactly `binary`: what fexecve runs is what was measured.
result<io::unique_fd> sealed_image(std::span<const std::uint8_t> binary) {
  io::unique_fd fd{::memfd_create("joconde-vm", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC)};
  if (!fd.valid() && errno == EINVAL)
    fd.reset(::memfd_create("joconde-vm", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid())
    return system_error("create an in-memory file for the VM image");
  std::size_t done = 0;
  while (done < binary.size()) {
    auto n = ::write(fd.get(), binary.data() + done, binary.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return system_error("copy the VM image into memory");
    done += static_cast<std::size_t>(n);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    return system_error("seal the VM image");
  return fd;
}

} // namespace

// Long (about 160 lines): one fork/exec sequence whose descriptors, signal mask and child pid must
// stay in one scope; splitting its serve loop out is left for a follow-up.
result<int> launch_vm(const launch_settings& s) {
  if (s.debug && !s.allow_debug)
    return fail(errc::forbidden,
                "refusing to launch a VM with debugging enabled: the host could read its memory and "
                "every verifier will refuse it (debug_enabled); add --allow-debug to do it anyway");
  auto platform = simulated_platform::load(s.platform_dir);
  if (!platform)
    return std::move(platform).err();
  if (simulated_tcb_version < s.min_tcb)
    return fail(errc::tcb_outdated,
                "the simulated platform's TCB version " + std::to_string(simulated_tcb_version)
                  + " is below the required minimum " + std::to_string(s.min_tcb)
                  + "; lower --min-tcb or use another platform");
  auto binary = read_file(s.vm_binary, max_vm_binary);
  if (!binary)
    return std::move(binary).err();
  auto config = read_file(s.image_config, max_image_config);
  if (!config)
    return std::move(config).err();
  auto m = measure(*binary, *config);
  auto vm = platform->launch(m, s.host, s.debug);
  launch_info info{std::move(*config), s.host};

  auto image = sealed_image(*binary);
  if (!image)
    return std::move(image).err();
  io::unique_fd image_fd{std::move(*image)};
  bytes{}.swap(*binary);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return system_error("create the attestation socket");
  io::unique_fd sp_end{sv[0]};
  io::unique_fd vm_end{sv[1]};
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0)
    return system_error("create a pipe");
  io::unique_fd exec_read{exec_pipe[0]};
  io::unique_fd exec_write{exec_pipe[1]};
  int chld_pipe[2];
  if (::pipe2(chld_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    return system_error("create a pipe");
  io::unique_fd chld_read{chld_pipe[0]};
  io::unique_fd chld_write{chld_pipe[1]};

  // Everything the child needs is made before fork: after it, only async-signal-safe calls.
  std::vector<std::string> args{"joconde-vm"};
  args.insert(args.end(), s.vm_args.begin(), s.vm_args.end());
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  auto prefix = std::string{attest_fd_variable} + "=";
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e)
    if (std::string_view{*e}.substr(0, prefix.size()) != prefix)
      env.emplace_back(*e);
  env.push_back(prefix + std::to_string(sv[1]));
  std::vector<char*> envp;
  for (auto& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);

  child_pipe = chld_pipe[1];
  struct sigaction forward {};
  forward.sa_handler = forward_signal;
  sigemptyset(&forward.sa_mask);
  forward.sa_flags = SA_RESTART;
  struct sigaction child {};
  child.sa_handler = note_child;
  sigemptyset(&child.sa_mask);
  child.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  ::sigaction(SIGTERM, &forward, nullptr);
  ::sigaction(SIGINT, &forward, nullptr);
  ::sigaction(SIGCHLD, &child, nullptr);
  // Held back until the VM's pid is known, so no SIGTERM is lost in between.
  sigset_t held;
  sigset_t previous;
  sigemptyset(&held);
  sigaddset(&held, SIGTERM);
  sigaddset(&held, SIGINT);
  sigaddset(&held, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &held, &previous);
  auto parent = ::getpid();
  auto pid = ::fork();
  if (pid == 0) {
    // The VM: dies with its secure processor; the attestation socket is the one fd it inherits.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);
    ::fcntl(sv[1], F_SETFD, 0);
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    ::fexecve(image_fd.get(), argv.data(), envp.data());
    int err = errno;
    [[maybe_unused]] auto n = ::write(exec_pipe[1], &err, sizeof(err));
    ::_exit(127);
  }
  auto fork_errno = errno;
  if (pid > 0)
    running_vm = pid;
  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  if (pid < 0) {
    errno = fork_errno;
    return system_error("start the VM process");
  }
  vm_end.reset();
  exec_write.reset();
  image_fd.reset();
  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(exec_read.get(), &exec_errno, sizeof(exec_errno));
  } while (got < 0 && errno == EINTR);
  auto wait_for_vm = [pid] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      // nop
    }
    running_vm = 0;
    return status;
  };
  if (got == sizeof(exec_errno)) {
    wait_for_vm();
    errno = exec_errno;
    return system_error("execute the VM image " + s.vm_binary.string());
  }
  std::cerr << "joconde-sp: SIMULATED secure processor (no memory protection): launched VM pid "
            << pid << ", measurement " << detail::hex(m) << std::endl;

  // Serve the VM's requests until it exits; after a bad request it cannot attest any more.
  int status = 0;
  bool exited = false;
  while (!exited) {
    pollfd fds[2] = {{chld_read.get(), POLLIN, 0}, {sp_end.get(), POLLIN, 0}};
    auto n = ::poll(fds, sp_end.valid() ? 2 : 1, -1);
    if (n < 0 && errno != EINTR) {
      status = wait_for_vm();
      break;
    }
    if (n <= 0)
      continue;
    if (fds[0].revents != 0) {
      char drain[64];
      while (::read(chld_read.get(), drain, sizeof(drain)) > 0) {
        // nop
      }
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        running_vm = 0;
        exited = true;
      }
    }
    if (!exited && sp_end.valid() && fds[1].revents != 0) {
      auto served = serve_attestation_request(sp_end.get(), vm, info);
      if (!served)
        std::cerr << "joconde-sp: closing the VM's attestation socket: " << served.err().describe()
                  << std::endl;
      if (!served || !*served)
        sp_end.reset();
    }
  }
  child_pipe = -1;
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

} // namespace joconde::enclave
