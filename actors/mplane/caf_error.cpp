#include "joconde/messages/caf_error.hpp"

#include <caf/exit_reason.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace joconde {

std::string describe(const caf::error& err) {
  if (!err)
    return "none";
  if (err.category() == errc_category) {
    std::string out{to_string(static_cast<errc>(err.code()))};
    if (err.context().match_elements<std::string>())
      out += ": " + err.context().get_as<std::string>(0);
    return out;
  }
  if (err.category() == caf::atom("system"))
    return "caf: " + to_string(static_cast<caf::sec>(err.code()));
  if (err.category() == caf::atom("exit"))
    return "exit: " + to_string(static_cast<caf::exit_reason>(err.code()));
  return "error " + std::to_string(err.code());
}

std::string message_of(const caf::error& err) {
  if (err && err.category() == errc_category && err.context().match_elements<std::string>())
    return err.context().get_as<std::string>(0);
  return describe(err);
}

errc code_of(const caf::error& err) {
  return err.category() == errc_category ? static_cast<errc>(err.code()) : errc::none;
}

} // namespace joconde
