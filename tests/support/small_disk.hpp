#pragma once

// A real full disk for tests (header-only): a small tmpfs mounted in a private mount namespace of the
// test process, so that writes on it fail with ENOSPC as on a full disk. The namespace is the test
// process's own (and its children's): nothing is mounted where the rest of the machine sees it, and
// the mounts vanish with the process even if it dies. Needs CAP_SYS_ADMIN (the tests run as root).

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace joconde::test {

/// Moves the calling process into a mount namespace of its own in which no mount propagates back
/// to the machine. Call while the process has one thread (before a cluster or actor system starts);
/// throws saying why it cannot.
inline void enter_private_mount_namespace() {
  if (::unshare(CLONE_NEWNS) != 0)
    throw std::runtime_error(std::string{"cannot make a private mount namespace (the test needs "
                                         "CAP_SYS_ADMIN, i.e. root): "}
                             + std::strerror(errno));
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    throw std::runtime_error(std::string{"cannot make the mounts private: "} + std::strerror(errno));
}

/// Bytes free on the file system of `dir`.
inline std::uint64_t free_bytes(const std::filesystem::path& dir) {
  struct statvfs st{};
  if (::statvfs(dir.c_str(), &st) != 0)
    throw std::runtime_error("cannot statvfs " + dir.string() + ": " + std::strerror(errno));
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

/// A tmpfs of `bytes` mounted on `dir` (created if needed, kept after) for the lifetime of the
/// object. Must run inside enter_private_mount_namespace().
class small_disk {
public:
  small_disk(std::filesystem::path dir, std::uint64_t bytes) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    auto options = "size=" + std::to_string(bytes) + ",mode=0700";
    if (::mount("joconde-test", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
      throw std::runtime_error("cannot mount a tmpfs on " + dir_.string() + ": " + std::strerror(errno));
  }
  ~small_disk() {
    ::umount2(dir_.c_str(), MNT_DETACH);
  }
  small_disk(const small_disk&) = delete;
  small_disk& operator=(const small_disk&) = delete;

  const std::filesystem::path& dir() const { return dir_; }

  /// Writes `file` until the file system is full (bounded by the tmpfs size); returns its size.
  std::uint64_t fill(const std::string& name = "filler") const {
    auto path = dir_ / name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0)
      throw std::runtime_error("cannot create " + path.string() + ": " + std::strerror(errno));
    std::vector<char> block(4096, 'f');
    std::uint64_t written = 0;
    for (int i = 0; i < (1 << 20); ++i) {
      auto n = ::write(fd, block.data(), block.size());
      if (n <= 0)
        break;
      written += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
    return written;
  }

  /// Removes what fill() wrote: the space returns.
  void empty(const std::string& name = "filler") const {
    std::filesystem::remove(dir_ / name);
  }

private:
  std::filesystem::path dir_;
};

} // namespace joconde::test
