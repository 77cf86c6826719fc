#pragma once

// joconde::errc as a CAF error category. Include only from actor sources and program mains.

#include "joconde/messages/result.hpp"

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace joconde {

/// The CAF error category atom of joconde errors.
constexpr caf::atom_value errc_category = caf::atom("joconde");

/// A CAF error carrying a joconde code and message.
inline caf::error make_error(errc code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), errc_category,
                    caf::make_message(std::move(message))};
}

/// A CAF error from a joconde error.
inline caf::error to_caf(const error& err) {
  return make_error(err.code, err.message);
}

/// Renders any CAF error for logs and users; joconde errors as "code: message".
std::string describe(const caf::error& err);

/// The joconde code inside a CAF error (errc::none when it is not one of ours).
errc code_of(const caf::error& err);

/// The message of a joconde error without its code (describe() for any other error).
std::string message_of(const caf::error& err);

} // namespace joconde
