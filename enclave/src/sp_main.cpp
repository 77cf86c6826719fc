// joconde-sp: the SIMULATED secure processor as its own process (DESIGN.md §8, docs/tee.md). It holds
// the platform key outside the VM's process, launches the VM from the exact bytes it measured and
// answers the VM's attestation requests. It gives NO memory protection: for tests and demonstrations.
//
//   joconde-sp init DIR
//   joconde-sp measure --vm BIN --image-config FILE
//   joconde-sp launch --platform DIR --vm BIN --image-config FILE --host-data HEX64
//                     [--debug] [--allow-debug] [--min-tcb N] -- VMARGS...
//
// Exit status: 0 on success, 1 when something failed, 2 for a usage error or a refused launch; a
// launch exits with the VM's own status (128 + signal when a signal ended it).

#include "joconde/enclave/secure_processor.hpp"
#include "joconde/enclave/simulated.hpp"

#include "ossl.hpp"

#include <openssl/sha.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace joconde;
using namespace joconde::enclave;

namespace {

constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

constexpr std::string_view usage_text =
  "usage: joconde-sp init DIR\n"
  "       joconde-sp measure --vm BIN --image-config FILE\n"
  "       joconde-sp launch --platform DIR --vm BIN --image-config FILE --host-data HEX64\n"
  "                         [--debug] [--allow-debug] [--min-tcb N] -- VMARGS...\n"
  "The SIMULATED secure processor: no memory protection, for tests and demonstrations only.\n";

int usage(std::string_view problem) {
  std::cerr << "joconde-sp: " << problem << "\n" << usage_text;
  return exit_usage;
}

int failed(const error& e) {
  std::cerr << "joconde-sp: " << e.describe() << std::endl;
  auto refused = e.code == errc::forbidden || e.code == errc::tcb_outdated
                 || e.code == errc::invalid_config;
  return refused ? exit_usage : exit_failure;
}

/// The 32 bytes written as 64 hex digits in `text`, if it is that.
std::optional<host_data> parse_host_data(std::string_view text) {
  host_data out{};
  if (text.size() != 2 * out.size())
    return std::nullopt;
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto [end, ec] = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, out[i], 16);
    if (ec != std::errc{} || end != text.data() + 2 * i + 2)
      return std::nullopt;
  }
  return out;
}

/// Options of the form `--name value` and `--flag`, then `--` and the VM's arguments.
struct options {
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<std::string> flags;
  std::vector<std::string> rest;

  std::optional<std::string> get(std::string_view name) const {
    for (const auto& [k, v] : values)
      if (k == name)
        return v;
    return std::nullopt;
  }

  bool has(std::string_view flag) const {
    for (const auto& f : flags)
      if (f == flag)
        return true;
    return false;
  }
};

/// Parses argv[first..]: `value_names` take a value, `flag_names` do not; nullopt after printing
/// the usage on anything else.
std::optional<options> parse(int argc, char** argv, int first,
                             std::initializer_list<std::string_view> value_names,
                             std::initializer_list<std::string_view> flag_names) {
  options out;
  for (int i = first; i < argc; ++i) {
    std::string_view arg{argv[i]};
    if (arg == "--") {
      out.rest.assign(argv + i + 1, argv + argc);
      return out;
    }
    if (std::find(flag_names.begin(), flag_names.end(), arg) != flag_names.end()) {
      out.flags.emplace_back(arg);
      continue;
    }
    if (std::find(value_names.begin(), value_names.end(), arg) == value_names.end()) {
      usage("unknown argument \"" + std::string{arg} + "\"");
      return std::nullopt;
    }
    if (i + 1 >= argc) {
      usage(std::string{arg} + " needs a value");
      return std::nullopt;
    }
    if (out.get(arg)) {
      usage(std::string{arg} + " given twice");
      return std::nullopt;
    }
    out.values.emplace_back(arg, argv[++i]);
  }
  return out;
}

int init(int argc, char** argv) {
  if (argc != 3)
    return usage("init takes exactly one directory");
  std::filesystem::path dir{argv[2]};
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return failed(fail(errc::io_error, "cannot create " + dir.string() + " ("
                                         + std::strerror(errno) + ")"));
  auto platform = simulated_platform::create();
  if (!platform)
    return failed(platform.err());
  if (auto r = platform->save(dir); !r)
    return failed(r.err());
  std::uint8_t fingerprint[SHA256_DIGEST_LENGTH];
  const auto& root = platform->root_certificate();
  SHA256(root.data(), root.size(), fingerprint);
  std::cout << "joconde-sp: created a SIMULATED TEE platform in " << dir.string()
            << " (no memory protection: for tests and demonstrations only)\n"
            << "root certificate SHA-256 fingerprint: " << detail::hex(fingerprint) << std::endl;
  return 0;
}

int measure_command(int argc, char** argv) {
  auto opts = parse(argc, argv, 2, {"--vm", "--image-config"}, {});
  if (!opts)
    return exit_usage;
  auto vm = opts->get("--vm");
  auto config = opts->get("--image-config");
  if (!vm || !config || !opts->rest.empty())
    return usage("measure needs --vm and --image-config, nothing else");
  auto binary = read_file(*vm, max_vm_binary);
  if (!binary)
    return failed(binary.err());
  auto image_config = read_file(*config, max_image_config);
  if (!image_config)
    return failed(image_config.err());
  std::cout << detail::hex(measure(*binary, *image_config)) << std::endl;
  return 0;
}

int launch_command(int argc, char** argv) {
  auto opts = parse(argc, argv, 2,
                    {"--platform", "--vm", "--image-config", "--host-data", "--min-tcb"},
                    {"--debug", "--allow-debug"});
  if (!opts)
    return exit_usage;
  launch_settings s;
  auto platform = opts->get("--platform");
  auto vm = opts->get("--vm");
  auto config = opts->get("--image-config");
  auto host = opts->get("--host-data");
  if (!platform || !vm || !config || !host)
    return usage("launch needs --platform, --vm, --image-config and --host-data");
  auto host_bytes = parse_host_data(*host);
  if (!host_bytes)
    return usage("--host-data takes 64 hexadecimal digits (the 32-byte CTA hash)");
  if (auto tcb = opts->get("--min-tcb")) {
    auto [end, ec] = std::from_chars(tcb->data(), tcb->data() + tcb->size(), s.min_tcb);
    if (ec != std::errc{} || end != tcb->data() + tcb->size())
      return usage("--min-tcb takes a non-negative number");
  }
  s.platform_dir = *platform;
  s.vm_binary = *vm;
  s.image_config = *config;
  s.host = *host_bytes;
  s.debug = opts->has("--debug");
  s.allow_debug = opts->has("--allow-debug");
  s.vm_args = opts->rest;
  auto status = launch_vm(s);
  if (!status)
    return failed(status.err());
  return *status;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2)
    return usage("missing sub-command");
  std::string_view command{argv[1]};
  if (command == "init")
    return init(argc, argv);
  if (command == "measure")
    return measure_command(argc, argv);
  if (command == "launch")
    return launch_command(argc, argv);
  if (command == "-h" || command == "--help") {
    std::cout << usage_text;
    return 0;
  }
  return usage("unknown sub-command \"" + std::string{command} + "\"");
}
