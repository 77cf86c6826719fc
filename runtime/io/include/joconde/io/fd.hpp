#pragma once

// The one owner of a file descriptor (socket, pipe or file) in joconde: closed when destroyed, moved
// but never copied.

#include <utility>

namespace joconde::io {

/// An owned file descriptor, closed when destroyed or reset.
class unique_fd {
public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd();

  /// The descriptor, or -1.
  int get() const noexcept { return fd_; }
  /// True while a descriptor is owned.
  bool valid() const noexcept { return fd_ >= 0; }
  /// Gives up ownership and returns the descriptor.
  int release() noexcept { return std::exchange(fd_, -1); }
  /// Closes the descriptor now and owns `fd` instead.
  void reset(int fd = -1) noexcept;

private:
  int fd_ = -1;
};

} // namespace joconde::io
