// The measured image configuration of joconde-vm (vm_run.hpp).

#include "vm_run.hpp"

#include "joconde/messages/text.hpp"
#include "joconde/runtime/crypto.hpp"

#include <charconv>

namespace joconde::vm {

result<image_config> image_config::parse(std::string_view text) {
  if (text.size() > 1024 * 1024)
    return fail(errc::too_large, "the image configuration is larger than 1 MiB");
  image_config out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text::trim(text.substr(0, nl), " \t\r");
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#')
      continue;
    auto eq = line.find('=');
    auto where = "image configuration line " + std::to_string(line_no) + ": ";
    if (eq == std::string_view::npos)
      return fail(errc::malformed_input, where + "expected key = value");
    auto key = text::trim(line.substr(0, eq), " \t\r");
    auto value = text::trim(line.substr(eq + 1), " \t\r");
    if (key == "allow_simulated") {
      if (value != "true" && value != "false")
        return fail(errc::malformed_input, where + "allow_simulated is true or false");
      out.allow_simulated = value == "true";
    } else if (key == "min_tcb_version") {
      std::uint32_t v = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc{} || p != value.data() + value.size())
        return fail(errc::malformed_input, where + "min_tcb_version is a number");
      out.min_tcb_version = v;
    } else if (key == "root") {
      auto der = crypto::from_base64(value);
      if (!der || der->empty())
        return fail(errc::malformed_input, where + "root is a base64 DER certificate");
      if (auto cert = crypto::certificate::from_der(*der); !cert)
        return fail(errc::malformed_input, where + "root is not a certificate: " + cert.err().message);
      out.trusted_roots.emplace_back(der->begin(), der->end());
    } else {
      return fail(errc::malformed_input, where + "unknown key " + std::string{key.substr(0, 64)});
    }
  }
  if (out.trusted_roots.empty())
    return fail(errc::malformed_input, "the image configuration trusts no platform root");
  return out;
}

std::string image_config::to_text() const {
  std::string out = "# joconde-vm image configuration (measured at launch)\n";
  out += std::string{"allow_simulated = "} + (allow_simulated ? "true" : "false") + "\n";
  out += "min_tcb_version = " + std::to_string(min_tcb_version) + "\n";
  for (const auto& r : trusted_roots)
    out += "root = " + crypto::to_base64(r) + "\n";
  return out;
}

} // namespace joconde::vm
