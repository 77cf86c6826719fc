// The `joconde` commands of the people who hold the data: pak create makes a person's key pair and
// registers its public key (the PAK); upload and download move a CT's input and output tables,
// each authorized by a slot authorization signed here with the person's PAK (cli_io.hpp).

#include "cli/cli_command.hpp"
#include "cli/cli_io.hpp"

#include "joconde/runtime/crypto.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <unistd.h>

namespace joconde::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// The largest CSV file `upload` sends (512 MiB).
constexpr std::uintmax_t max_upload_bytes = std::uintmax_t{512} << 20;

/// The time limit of an upload or download unless --timeout is given: the node attests and
/// shares or rebuilds while the request waits.
constexpr std::chrono::milliseconds data_timeout = std::chrono::seconds{600};

/// The call of `pak create`: makes the person's key pair, writes the private key (encrypted) and
/// returns the call that registers the public key.
result<call> pak_call(const invocation& in) {
  const std::string name = "pak create";
  const auto& opts = in.opts;
  auto path = cta_path(name, in.args[0]);
  if (!path)
    return std::move(path).err();
  if (opts.input.empty() == opts.output.empty())
    return usage_error(name, "pak create needs --input KEY (a data custodian) or --output KEY (a "
                             "data analyst)");
  if (blank(opts.name) || opts.out.empty() || opts.passphrase_file.empty())
    return usage_error(name, "pak create needs --name NAME, --out KEY_FILE and --passphrase-file FILE");
  std::error_code ec;
  if (fs::exists(opts.out, ec))
    return usage_error(name, opts.out + " exists: a key file is never overwritten");
  auto pass_text = slurp(opts.passphrase_file);
  if (!pass_text)
    return usage_error(name, "cannot read the passphrase file " + opts.passphrase_file);
  auto pass = pass_text->substr(0, pass_text->find('\n'));
  if (pass.size() < 8)
    return usage_error(name, "the passphrase (first line of the file) has fewer than 8 characters");
  auto key = crypto::private_key::generate();
  if (!key)
    return key.err();
  auto pem = key->to_encrypted_pem(pass);
  if (!pem)
    return pem.err();
  if (auto written = write_new_file(opts.out, *pem); !written)
    return written.err();
  auto der = key->public_key().to_der();
  json person{{"name", opts.name}, {"pak", crypto::to_base64(der)}};
  if (!opts.input.empty())
    person["input_keys"] = json::array({opts.input});
  else
    person["output_keys"] = json::array({opts.output});
  auto body = request_body(person);
  if (!body)
    return std::move(body).err();
  return call{"POST", *path + "/paks", std::move(*body), [](const json& doc) -> result<std::string> {
                if (!doc.is_object() || !doc.contains("pak_sha256") || !doc["pak_sha256"].is_string())
                  return fail(errc::malformed_input, "the node's answer has no \"pak_sha256\"");
                return printable(doc["pak_sha256"].get<std::string>()) + "\n";
              }};
}

/// The checks `upload` and `download` (command `name`) share: a CT and a slot that are path
/// segments, and the person's key file and pass phrase.
std::optional<error> check_slot_arguments(const invocation& in, const std::string& name) {
  const auto& uuid = in.args[0];
  const auto& slot = in.args[1];
  if (uuid.empty() || uuid == "." || uuid == ".." || slot.empty() || slot == "." || slot == "..")
    return usage_error(name, "'" + printable(uuid) + "' / '" + printable(slot)
                               + "' is not a CT and slot");
  if (in.opts.key.empty() || in.opts.passphrase_file.empty())
    return usage_error(name, name + " needs --key KEY_FILE and --passphrase-file FILE (the PAK made "
                                    "by joconde pak create)");
  return std::nullopt;
}

/// The path of an upload into or a download from the slot, with the slot authorization signed
/// here with the person's PAK.
result<std::string> authorized_path(const invocation& in, const std::string& name, bool upload) {
  const auto& uuid = in.args[0];
  const auto& slot = in.args[1];
  auto auth = signed_authorization(uuid, slot, upload, in.opts.key, in.opts.passphrase_file,
                                   std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  if (!auth)
    return usage_error(name, auth.err().message);
  return "/v1/ctas/" + encode_segment(uuid) + (upload ? "/inputs/" : "/outputs/")
         + encode_segment(slot) + "?authorization=" + *auth;
}

/// A bar of the file's bytes sent, redrawn on `err` (a terminal) as the upload goes.
http::progress_fn progress_bar(std::ostream& err) {
  return [&err, last = -1](size_t sent, size_t total) mutable {
    int pct = static_cast<int>(sent * 100 / std::max<size_t>(total, 1));
    if (pct == last)
      return;
    last = pct;
    err << "\r  [" << std::string(static_cast<size_t>(pct / 4), '#')
        << std::string(static_cast<size_t>(25 - pct / 4), ' ') << "] " << pct << "% of the file sent"
        << (sent == total ? "; the node is checking, attesting, sharing and uploading...\n" : "")
        << std::flush;
  };
}

/// The call of `upload`: the CSV file as the body.
result<call> upload_call(const invocation& in) {
  if (auto bad = check_slot_arguments(in, "upload"))
    return std::move(*bad);
  const auto& file = in.args[2];
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec)
    return usage_error("upload", "cannot read " + file + ": " + ec.message());
  if (size > max_upload_bytes)
    return usage_error("upload", file + " is larger than 512 MiB");
  auto csv = slurp(file);
  if (!csv)
    return usage_error("upload", "cannot read " + file);
  auto path = authorized_path(in, "upload", true);
  if (!path)
    return std::move(path).err();
  call c{"POST", *path, std::move(*csv), [slot = in.args[1]](const json& doc) -> result<std::string> {
           if (!doc.is_object() || !doc.contains("rows") || !doc["rows"].is_number_unsigned())
             return fail(errc::malformed_input, "the node's answer has no \"rows\"");
           std::ostringstream o;
           o << "uploaded " << doc["rows"].get<std::uint64_t>() << " rows into " << printable(slot)
             << " (ready at every CP; "
             << (doc.value("data_quality", std::string{}) == "passed" ? "its data-quality check passed; " : "")
             << "CT phase " << printable(doc.value("phase", std::string{}))
             << (doc.value("simulated", false) ? "; CT VMs on the SIMULATED TEE platform" : "")
             << ")\n";
           if (doc.contains("timings_ms") && doc["timings_ms"].is_object()) {
             o << "  check " << doc["timings_ms"].value("parse", 0.0) << " ms, attest "
               << doc["timings_ms"].value("attest", 0.0) << " ms, share "
               << doc["timings_ms"].value("share", 0.0) << " ms, transfer "
               << doc["timings_ms"].value("transfer", 0.0) << " ms\n";
           }
           return o.str();
         }};
  c.timeout = data_timeout;
  if (&in.err == &std::cerr && ::isatty(STDERR_FILENO) == 1)  // a bar only on a terminal
    c.progress = progress_bar(in.err);
  return c;
}

/// The call of `download`: the output table goes to --out, or to standard output.
result<call> download_call(const invocation& in) {
  if (auto bad = check_slot_arguments(in, "download"))
    return std::move(*bad);
  const auto& out_file = in.opts.out;
  std::error_code ec;
  if (!out_file.empty() && fs::exists(out_file, ec))
    return usage_error("download", out_file + " exists: an output file is never overwritten");
  auto path = authorized_path(in, "download", false);
  if (!path)
    return std::move(path).err();
  call c{"POST", *path, {}, [slot = in.args[1], out_file](const json& doc) -> result<std::string> {
           if (!doc.is_object() || !doc.contains("csv") || !doc["csv"].is_string())
             return fail(errc::malformed_input, "the node's answer has no \"csv\"");
           const auto& csv = doc["csv"].get_ref<const std::string&>();
           if (out_file.empty())
             return csv;
           if (auto written = write_new_file(out_file, csv); !written)
             return written.err();
           std::ostringstream o;
           o << "downloaded " << printable(slot) << ": " << doc.value("rows", std::uint64_t{0})
             << " rows (" << doc.value("suppressed", std::uint64_t{0}) << " suppressed";
           if (const auto withheld = doc.value("confidential", std::uint64_t{0}); withheld > 0)
             o << "; " << withheld << " withheld by the confidentiality rules, marked C in CONF_STATUS (D: a margin's secondary cell)";
           o << ") to " << out_file << (doc.value("simulated", false) ? " (SIMULATED TEE platform)" : "")
             << "\n";
           return o.str();
         }};
  c.timeout = data_timeout;
  return c;
}

} // namespace

int run_pak_create(const invocation& in) {
  return send(in, pak_call(in));
}

int run_upload(const invocation& in) {
  return send(in, upload_call(in), [&in](call& c, const endpoint& ep) -> std::optional<int> {
    c.notice = "joconde: sending " + std::to_string(c.body.size()) + " bytes to " + ep.url
               + "; the node checks, attests, shares and uploads them\n";
    return std::nullopt;
  });
}

int run_download(const invocation& in) {
  return send(in, download_call(in));
}

} // namespace joconde::cli
