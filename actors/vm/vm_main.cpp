// joconde-vm: the trusted runtime of one CT at one CP, launched by the (simulated) secure processor
// `joconde-sp launch`. See vm_run.hpp.
//
// Usage: joconde-vm --cta FILE --cp-index N --data-dir DIR --admin-token-file FILE [--bind HOST]
//                   [--advertise HOST] [--admin-bind HOST] [--ports FIRST-LAST]
//                   [--upload-confirm-ms MS] [--peer-timeout-ms MS]

#include "vm_run.hpp"

#include "joconde/enclave/secure_processor.hpp"
#include "joconde/runtime/log.hpp"

#include <fstream>
#include <iostream>
#include <map>
#include <string>

namespace {

int usage(const std::string& why) {
  std::cerr << "joconde-vm: " << why << "\n"
            << "usage: joconde-vm --cta FILE --cp-index N --data-dir DIR --admin-token-file FILE\n"
               "                  [--bind HOST] [--advertise HOST] [--admin-bind HOST] [--ports FIRST-LAST]\n"
               "                  [--upload-confirm-ms MS] [--peer-timeout-ms MS]\n"
               "Started by `joconde-sp launch` (the SIMULATED secure processor), never by hand.\n";
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  using namespace joconde;
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc)
      return usage("unexpected argument " + a);
    args[a.substr(2)] = argv[++i];
  }
  for (const char* k : {"cta", "cp-index", "data-dir", "admin-token-file"})
    if (!args.count(k))
      return usage(std::string{"--"} + k + " is required");
  vm::vm_options o;
  o.cta_file = args["cta"];
  o.data_dir = args["data-dir"];
  try {
    o.cp_index = static_cast<std::uint32_t>(std::stoul(args["cp-index"]));
    if (args.count("bind"))
      o.bind_host = args["bind"];
    if (args.count("advertise"))
      o.advertise_host = args["advertise"];
    if (args.count("admin-bind"))
      o.admin_bind_host = args["admin-bind"];
    if (args.count("upload-confirm-ms"))
      o.upload_confirm_timeout = std::chrono::milliseconds{std::stoul(args["upload-confirm-ms"])};
    if (args.count("peer-timeout-ms"))
      o.peer_timeout = std::chrono::milliseconds{std::stoul(args["peer-timeout-ms"])};
  } catch (...) {
    return usage("numbers expected");
  }
  for (const auto* host : {&o.bind_host, &o.advertise_host, &o.admin_bind_host})
    if (!host->empty() && !net::is_valid_host(*host))
      return usage("'" + host->substr(0, 100) + "' is neither an IP address nor a host name");
  if (args.count("ports")) {
    auto range = net::parse_port_range(args["ports"]);
    if (!range)
      return usage(range.err().message);
    o.ports = *range;
  }
  std::ifstream tok{args["admin-token-file"]};
  std::getline(tok, o.admin_token);
  if (o.admin_token.size() < 16)
    return usage("the admin token file holds no token of at least 16 characters");
  log::init({"joconde-vm", "cp-" + std::to_string(o.cp_index), o.data_dir / "vm.log",
             log::severity::informational});
  auto attester = enclave::fd_attester::from_environment();
  if (!attester) {
    std::cerr << "joconde-vm: no secure processor: " << attester.err().describe() << "\n";
    return vm::exit_failed;
  }
  auto launch = attester->launch_configuration();
  if (!launch) {
    std::cerr << "joconde-vm: the secure processor did not give the launch configuration: "
              << launch.err().describe() << "\n";
    return vm::exit_failed;
  }
  auto image = vm::image_config::parse(std::string_view{
    reinterpret_cast<const char*>(launch->image_config.data()), launch->image_config.size()});
  if (!image) {
    std::cerr << "joconde-vm: " << image.err().describe() << "\n";
    return vm::exit_failed;
  }
  auto shared = std::make_shared<enclave::fd_attester>(std::move(*attester));
  return vm::run_vm(o, *image, launch->host, shared);
}
