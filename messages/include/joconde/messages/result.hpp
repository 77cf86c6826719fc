#pragma once

// A small value-or-error type for code that must not depend on CAF (runtime, engines, enclave).
// g++ 12 has no std::expected in C++20 mode.

#include "joconde/messages/errc.hpp"

#include <string>
#include <utility>
#include <variant>

namespace joconde {

/// An error code with a human-readable message that says what was wrong and what to do.
struct error {
  errc code = errc::none;
  std::string message;

  /// "code: message", the form used in logs and CLI output.
  std::string describe() const {
    return std::string{to_string(code)} + ": " + message;
  }
};

/// Makes an error; reads well at call sites: `return fail(errc::too_large, "envelope over 1 MiB")`.
inline error fail(errc code, std::string message) {
  return error{code, std::move(message)};
}

/// Either a T or an error.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : v_(std::move(value)) {
    // nop
  }
  result(error err) : v_(std::move(err)) {
    // nop
  }

  explicit operator bool() const noexcept { return v_.index() == 0; }
  bool ok() const noexcept { return v_.index() == 0; }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const joconde::error& err() const& { return std::get<1>(v_); }
  joconde::error&& err() && { return std::get<1>(std::move(v_)); }

private:
  std::variant<T, joconde::error> v_;
};

/// The result of an operation that yields nothing but may fail.
template <>
class [[nodiscard]] result<void> {
public:
  result() = default;
  result(error err) : err_(std::move(err)) {
    // nop
  }

  explicit operator bool() const noexcept { return err_.code == errc::none; }
  bool ok() const noexcept { return err_.code == errc::none; }
  const joconde::error& err() const& { return err_; }

private:
  joconde::error err_;
};

/// Success for result<void>.
inline result<void> ok() {
  return {};
}

} // namespace joconde
