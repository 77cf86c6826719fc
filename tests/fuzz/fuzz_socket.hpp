#pragma once

// A connected socket whose peer has already said everything: the enclave harnesses hand the
// product's session code one end, with the fuzzer's bytes (then end of stream) waiting on it.

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <span>

namespace joconde::fuzz {

/// A socket pair; `ours` holds `wire` written and shut for writing, `theirs` goes to the product.
struct scripted_socket {
  int ours = -1;
  int theirs = -1;

  explicit scripted_socket(std::span<const uint8_t> wire) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
      return;
    ours = fds[0];
    theirs = fds[1];
    // The default unix socket buffer holds far more than libFuzzer's inputs (-max_len).
    size_t done = 0;
    while (done < wire.size()) {
      auto n = ::write(ours, wire.data() + done, wire.size() - done);
      if (n <= 0)
        break;
      done += static_cast<size_t>(n);
    }
    ::shutdown(ours, SHUT_WR);
  }

  ~scripted_socket() {
    if (ours >= 0)
      ::close(ours);
  }

  scripted_socket(const scripted_socket&) = delete;
  scripted_socket& operator=(const scripted_socket&) = delete;
};

} // namespace joconde::fuzz
