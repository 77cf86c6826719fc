#include "joconde/io/fd.hpp"

#include <unistd.h>

namespace joconde::io {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other)
    reset(other.release());
  return *this;
}

unique_fd::~unique_fd() {
  reset();
}

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0 && fd_ != fd)
    ::close(fd_);
  fd_ = fd;
}

} // namespace joconde::io
