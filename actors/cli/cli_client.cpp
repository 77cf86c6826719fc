#include "cli/cli_client.hpp"
#include "cli/cli_io.hpp"
#include "cli/cli_task.hpp"

#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_client.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

namespace joconde::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// -- usage texts --

constexpr const char* general_usage = R"(usage: joconde [OPTIONS] COMMAND [ARGS]

A client for one JOCONDE Service Node's API (JSON over HTTP with a bearer token).

Commands:
  whoami                 who the token belongs to: USER at NODE (roles: ...)
  cta create TASK_FILE   submit the CTA task in TASK_FILE (JSON); prints the new CTA's UUID alone
  cta list               the CTAs this node knows: UUID STATUS UPDATES TITLE
  cta show UUID          one CTA: key fields first, then every other field
  cta watch UUID [--until finished|cancelled|erased]
                         follow a CT: its status, its CT VMs' addresses and every event of its
                         CT VMs, until it ends (or reaches the status given)
  ctsa submit UUID CTSA_FILE
                         submit this peer's CTSA (JSON) for the CTA; prints its ctsa_sha256 alone
  cta sign UUID --signatory N --document FILE [--media-type TYPE]
                         sign this peer's CTSA as its signatory N with FILE (at most 10 MiB)
  cta approve UUID --peer NAME
                         the SO approves the peer's CTSA (at the root)
  cta reject UUID --peer NAME --reason TEXT
                         the SO rejects the peer's CTSA, saying what the peer must fix
  cta cancel UUID --reason TEXT
                         cancel the CTA: a peer's Task Organiser, or the SO at the root
  cta override UUID --member NAME --reason TEXT
                         an IT administrator lets this node commit to the CTA although member
                         NAME's fingerprint was not confirmed out of band here (audited)
  pak create UUID (--input KEY | --output KEY) --name NAME --out KEY_FILE --passphrase-file FILE
                         a data custodian (input) or analyst (output) makes their key pair for
                         the CTA: the private key goes to KEY_FILE, encrypted; the PAK (public
                         key) is registered at their node; prints its SHA-256
  upload UUID INPUT FILE.csv --key KEY_FILE --passphrase-file FILE
                         a data custodian uploads FILE.csv into input INPUT of the running CT:
                         the node checks it against the schema (line and column of any error),
                         attests every CT VM, secret-shares it and sends each VM its shares
  download UUID OUTPUT --key KEY_FILE --passphrase-file FILE [-o FILE.csv]
                         a data analyst retrieves output OUTPUT once: each CT VM releases its
                         shares once, the node rebuilds the table; written to FILE.csv or stdout
  sql check TASK_FILE    compile the task's algorithm here, without a node: errors with
                         line:column, or the features it uses and what it discloses
  status                 the node's status document (roles it_admin, auditor)
  help [COMMAND]         this text, or a command's (also: joconde COMMAND --help)

Where to talk to (options win over the environment):
  --url URL --token TOKEN         the node's API (e.g. https://198.51.100.14:8443) and your API token
  --ca-file FILE                  the CA that issued the node's HTTPS certificate (PEM; the
                                  federation's root-ca.pem for a node-issued one)
  JOCONDE_URL, JOCONDE_TOKEN, JOCONDE_CA_FILE
                                  the same from the environment; each option falls back to its
                                  variable
  --cluster DIR --as NODE[:ROLE]  a local cluster made by ops/cluster: NODE's API, the token of
                                  its user ROLE from DIR/cluster.json (no ROLE: the node's admin
                                  token) and the cluster's root CA
  A token given with --token is visible to other local users (ps, /proc); JOCONDE_TOKEN or
  --cluster keep it off the command line. joconde never prints a token.

Options (anywhere on the line; `--` ends them):
  --json                 print the node's JSON answer itself (one line, keys sorted)
  --timeout SECONDS      time limit of each request (default 30; a CTA creation waits for the root)
  --verbose              say on stderr which node is asked and what it answered
  --help, -h             this text; after a command, that command's

Options of single commands (see joconde COMMAND --help):
  --signatory N --document FILE --media-type TYPE   cta sign
  --peer NAME                                       cta approve, cta reject
  --reason TEXT                                     cta reject, cta cancel, cta override
  --member NAME                                     cta override
  --until STATUS                                    cta watch (--timeout: of the whole watch)
  --key FILE --passphrase-file FILE                 upload, download (the PAK's key file)
  --out FILE, -o FILE                               download (where the CSV goes)

Exit codes:
  0  success
  2  usage error, no node given, or an unreadable or too large input file (nothing was sent)
  3  node unreachable: connection refused or broken, or the time limit passed
  4  not authenticated or not allowed (HTTP 401, 403)
  5  not found (HTTP 404)
  6  refused as invalid (HTTP 400, 409, 413, 422)
  7  server error (HTTP 5xx, or any other unexpected status) or an answer that is not the expected
     JSON
  8  cta watch: the time limit (--timeout) passed before the CTA reached the awaited status
  9  cta watch: the CTA ended in another status than the awaited one
Errors go to stderr as "joconde: CODE: MESSAGE".
)";

/// The usage text of each command, keyed by its words.
const std::map<std::string, std::string, std::less<>>& command_usages() {
  static const std::map<std::string, std::string, std::less<>> texts{
    {"whoami", "usage: joconde whoami [--json]\n\n"
               "Prints who the token belongs to, at which node, with which roles\n"
               "(GET /v1/whoami, any user):\n"
               "  USER at NODE (roles: a, b)\n"},
    {"status", "usage: joconde status [--json]\n\n"
               "Prints the node's status document, indented (GET /v1/status; roles it_admin,\n"
               "auditor).\n"},
    {"cta", "usage: joconde cta SUB-COMMAND [ARGS] [--json]\n\n"
            "  cta create TASK_FILE   submit a CTA task; prints the new CTA's UUID alone\n"
            "  cta list               the CTAs this node knows: UUID STATUS UPDATES TITLE\n"
            "  cta show UUID          one CTA: key fields first, then every other field\n"
            "  cta watch UUID [--until finished|cancelled|erased]\n"
            "                         follow a CT until it ends: status, CT VMs, events\n"
            "  cta sign UUID --signatory N --document FILE [--media-type TYPE]\n"
            "                         sign this peer's CTSA as its signatory N with FILE\n"
            "  cta approve UUID --peer NAME\n"
            "                         the SO approves the peer's CTSA (at the root)\n"
            "  cta reject UUID --peer NAME --reason TEXT\n"
            "                         the SO rejects the peer's CTSA, saying what to fix\n"
            "  cta cancel UUID --reason TEXT\n"
            "                         cancel the CTA (a peer's Task Organiser, or the SO)\n"
            "  cta override UUID --member NAME --reason TEXT\n"
            "                         accept member NAME unconfirmed for this CTA (it_admin)\n"
            "A peer submits its CTSA with joconde ctsa submit.\n"},
    {"cta create",
     "usage: joconde cta create TASK_FILE [--json] [--timeout SECONDS]\n\n"
     "Submits the CTA task in TASK_FILE, a JSON object, to the node (POST /v1/ctas), which\n"
     "creates the CTA and its CTSC and waits for the root's answer. The task's algorithm is\n"
     "compiled here first (as `joconde sql check` does) and its disclosures are written into\n"
     "the CTSC; an algorithm that does not compile is refused with exit code 6 before anything\n"
     "is sent. A task without \"tee_measurements\" gets the measurement of the node's CT VM\n"
     "image (GET /v1/tee: the simulated joconde-vm image) and says so on stderr:\n"
     "  tee_measurements: simulated joconde-vm measurement HEX from NODE\n"
     "Prints the new CTA's UUID alone, so that\n"
     "  uuid=$(joconde cta create task.json)\n"
     "works. A missing, unreadable or non-JSON file is refused with exit code 2 before anything\n"
     "is sent.\n"},
    {"cta watch",
     "usage: joconde cta watch UUID [--until finished|cancelled|erased] [--timeout SECONDS] [--json]\n\n"
     "Follows the CT of the CTA UUID: asks the node every 0.5 s (GET /v1/ctas/UUID) and prints the\n"
     "CTA's status when it changes, the addresses of each CP's CT VM once, and each new event of\n"
     "the CT VMs as a line\n"
     "  HH:MM:SS.mmm CP KIND SUBJECT VALUE     (UTC; e.g. 12:00:01.250 cp1 phase input)\n"
     "until the CTA is finished, cancelled or erased, or with --until until it has that status.\n"
     "--timeout bounds the whole watch (default: no limit). With --json it prints nothing while it\n"
     "watches and the node's last document at the end. Exit codes: 0 the awaited status was\n"
     "reached, 8 the time limit passed first, 9 the CTA ended otherwise (e.g. cancelled when\n"
     "--until finished), and those of any other command when the node cannot be asked.\n"},
    {"cta list", "usage: joconde cta list [--json]\n\n"
                 "Lists the CTAs this node knows (GET /v1/ctas) as an aligned table:\n"
                 "UUID STATUS UPDATES TITLE.\n"},
    {"cta show",
     "usage: joconde cta show UUID [--json]\n\n"
     "Shows one CTA (GET /v1/ctas/UUID): uuid, title, status, ctsc_sha256, updates and the\n"
     "time of the last change (UTC, ISO-8601); then, if any other member of the CTA was not\n"
     "confirmed out of band at this node, a warning naming each with the fingerprint to compare\n"
     "and the commands that confirm or override it; then every other field of the document with\n"
     "keys sorted and nested values indented. The same document always prints the same bytes.\n"},
    {"cta override",
     "usage: joconde cta override UUID --member NAME --reason TEXT [--json]\n\n"
     "Records, as an IT administrator of this node (role it_admin), that this node may commit to\n"
     "the CTA UUID although member NAME's certificate fingerprint was not confirmed out of band\n"
     "here (POST /v1/ctas/UUID/overrides; SYS-2.1). Only a member that is unconfirmed can be\n"
     "overridden, once per CTA; TEXT says why the risk is accepted: it is required and may not\n"
     "be blank. The node stores the override, writes it to its audit log and shows it in\n"
     "`cta show`; its Task Organiser can then submit the CTSA. NAME is passed as given; the node\n"
     "resolves short names like cp3. Prints\n"
     "  override: MEMBER (fingerprint FP) accepted unconfirmed for CTA UUID by USER\n"
     "Comparing the fingerprint with the member's operator and `joconde-node trust confirm` is\n"
     "the better way.\n"},
    {"cta sign",
     "usage: joconde cta sign UUID --signatory N --document FILE [--media-type TYPE] [--json]\n\n"
     "Signs this peer's CTSA for the CTA UUID as its signatory N, the signatory's index (0, 1,\n"
     "...) in the CTSA's list of signatories (POST /v1/ctas/UUID/signatures). FILE, the signed\n"
     "document (e.g. an ASiC-E container or a PDF), is sent with its base name, its media type\n"
     "and its bytes in base64; it may hold at most 10 MiB. Without --media-type the type follows\n"
     "from the extension: .pdf application/pdf, .asice/.sce application/vnd.etsi.asic-e+zip,\n"
     ".png image/png, .jpg/.jpeg image/jpeg, .txt text/plain, else application/octet-stream.\n"
     "Prints\n"
     "  signatory N of PEER signed CTSA SHA256\n"
     "A bad N or a missing, unreadable or too large FILE is refused with exit code 2 before\n"
     "anything is sent.\n"},
    {"cta approve",
     "usage: joconde cta approve UUID --peer NAME [--json]\n\n"
     "Records the SO's approval of peer NAME's CTSA for the CTA UUID (POST\n"
     "/v1/ctas/UUID/decisions, at the root: e.g. --as root:approver). NAME is passed as given;\n"
     "the node resolves short names like client-a. Prints the peer and the CTA's status after the\n"
     "decision:\n"
     "  PEER: approved; CTA STATUS\n"},
    {"cta reject",
     "usage: joconde cta reject UUID --peer NAME --reason TEXT [--json]\n\n"
     "Records the SO's rejection of peer NAME's CTSA for the CTA UUID (POST\n"
     "/v1/ctas/UUID/decisions, at the root: e.g. --as root:approver); the peer then submits a new\n"
     "version. TEXT says what the peer must fix: it is required and may not be blank. NAME is\n"
     "passed as given; the node resolves short names like client-a. Prints\n"
     "  PEER: rejected; CTA STATUS\n"},
    {"cta cancel",
     "usage: joconde cta cancel UUID --reason TEXT [--json]\n\n"
     "Cancels the CTA UUID (POST /v1/ctas/UUID/cancel): at a peer's node as its Task Organiser\n"
     "(the request goes to the root), or at the root as the System Operator (--as root:approver).\n"
     "Every node that holds the CTA learns it. TEXT says why: it is required and may not be\n"
     "blank. Prints\n"
     "  CTA UUID: cancelled\n"},
    {"upload",
     "usage: joconde upload UUID INPUT FILE.csv --key KEY_FILE --passphrase-file FILE [--json]\n\n"
     "A Data Custodian uploads FILE.csv into input INPUT of the running CT UUID (POST\n"
     "/v1/ctas/UUID/inputs/INPUT). This machine signs a single-use authorization with the PAK in\n"
     "KEY_FILE (opened with the first line of the pass phrase file; the key never leaves it). The\n"
     "node checks the file against the input's schema before anything leaves it (an error names\n"
     "the line and column), attests every CT VM (fresh nonce, the CTSC's measurement, the CT and\n"
     "CP ids bound into the evidence), secret-shares each column and sends every VM its shares.\n"
     "The slot is ready when it is ready at every CP; the latest upload wins until the input\n"
     "phase ends. Prints the rows uploaded, the CT's phase and how long each step took.\n"
     "The default --timeout is 600 seconds.\n"},
    {"download",
     "usage: joconde download UUID OUTPUT --key KEY_FILE --passphrase-file FILE [-o FILE.csv] [--json]\n\n"
     "A Data Analyst retrieves output OUTPUT of the CT UUID (POST /v1/ctas/UUID/outputs/OUTPUT),\n"
     "authorized by the PAK in KEY_FILE, for the peer whose CTSA lists them. Every CT VM releases\n"
     "its shares once to each peer the output is named for (a second download for the same peer,\n"
     "by any of its analysts, is refused: already_exists); the node attests each VM, rebuilds the\n"
     "table, checks that the VMs' shares agree and drops the rows the algorithm suppressed. The CSV\n"
     "goes to FILE.csv (never overwritten) or to standard output. The default --timeout is 600\n"
     "seconds.\n"},
    {"pak", "usage: joconde pak create UUID (--input KEY | --output KEY) --name NAME --out KEY_FILE\n"
            "                          --passphrase-file FILE [--json]\n"},
    {"pak create",
     "usage: joconde pak create UUID (--input KEY | --output KEY) --name NAME --out KEY_FILE\n"
     "                          --passphrase-file FILE [--json]\n\n"
     "Run by a data custodian (--input KEY) or data analyst (--output KEY) of a peer: makes a\n"
     "new EC P-256 key pair on this machine, writes the private key to KEY_FILE (PKCS#8 PEM,\n"
     "encrypted with the first line of the passphrase file, mode 0600; an existing file is never\n"
     "overwritten) and registers the public key, the PAK, for the CTA UUID at the person's node\n"
     "(POST /v1/ctas/UUID/paks). A PAK is bound to that one CTA: the peer's CTSA may name it for\n"
     "that CTA only. Prints the PAK's SHA-256. The private key never leaves this machine.\n"},
    {"sql", "usage: joconde sql check TASK_FILE [--json]\n\n"
            "  sql check TASK_FILE   compile the task's algorithm here, without a node\n"},
    {"sql check",
     "usage: joconde sql check TASK_FILE [--json]\n\n"
     "Compiles the main algorithm and the data-quality checks of the CTA task in TASK_FILE (the\n"
     "JSON `cta create` takes) against its schemas, for its engine, on this machine: no node is\n"
     "asked. Prints the errors with line:column (exit code 6), or the language features the\n"
     "algorithm uses and what it discloses beyond its outputs, the statements `cta create` puts\n"
     "into the CTSC for the peers to read before they sign (docs/task-language.md).\n"},
    {"ctsa", "usage: joconde ctsa submit UUID CTSA_FILE [--json]\n\n"
             "  ctsa submit UUID CTSA_FILE   submit this peer's CTSA for the CTA; prints its\n"
             "                               ctsa_sha256 alone\n"},
    {"ctsa submit",
     "usage: joconde ctsa submit UUID CTSA_FILE [--json]\n\n"
     "Submits this peer's CTSA in CTSA_FILE, a JSON object, for the CTA UUID (POST\n"
     "/v1/ctas/UUID/ctsa); the node signs it and sends it to the root. Prints the CTSA's\n"
     "ctsa_sha256 alone, the hash the peer's signatories sign, so that\n"
     "  sha=$(joconde ctsa submit \"$uuid\" ctsa.json)\n"
     "works. A missing, unreadable or non-JSON file, or JSON that is not an object, is refused\n"
     "with exit code 2 before anything is sent.\n"},
  };
  return texts;
}

/// The options that only some commands take, with those commands.
struct command_option {
  std::string_view flag;
  std::string options::*value;
  std::array<std::string_view, 3> commands;
};

constexpr std::array<command_option, 13> command_options{{
  {"input", &options::input, {"pak create", ""}},
  {"output", &options::output, {"pak create", ""}},
  {"name", &options::name, {"pak create", ""}},
  {"out", &options::out, {"pak create", "download"}},
  {"passphrase-file", &options::passphrase_file, {"pak create", "upload", "download"}},
  {"key", &options::key, {"upload", "download"}},
  {"signatory", &options::signatory, {"cta sign", ""}},
  {"document", &options::document, {"cta sign", ""}},
  {"media-type", &options::media_type, {"cta sign", ""}},
  {"peer", &options::peer, {"cta approve", "cta reject"}},
  {"reason", &options::reason, {"cta reject", "cta cancel", "cta override"}},
  {"member", &options::member, {"cta override", ""}},
  {"until", &options::until, {"cta watch", ""}},
}};

/// The number of arguments after the words of command `name`.
size_t arguments_of(std::string_view name) {
  if (name == "ctsa submit" || name == "download")
    return 2;
  if (name == "upload")
    return 3;
  return name == "whoami" || name == "status" || name == "cta list" ? 0 : 1;
}

/// The name of the command that `words` start with ("cta show", "cta", "whoami"), or "".
std::string command_name(const std::vector<std::string>& words) {
  if (words.empty())
    return {};
  const auto& texts = command_usages();
  if (words.size() >= 2 && texts.count(words[0] + " " + words[1]) > 0)
    return words[0] + " " + words[1];
  return texts.count(words[0]) > 0 ? words[0] : std::string{};
}

/// A path segment with everything but unreserved characters percent-encoded.
std::string encode_segment(std::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// -- talking to the node --

/// Reads the input file `path`, which `what` names in errors ("task file"), as bytes; io_error if
/// it is missing, not a regular file or unreadable, too_large if it holds more than `limit` bytes.
result<std::string> read_input_file(const std::string& path, std::string_view what,
                                    std::uintmax_t limit) {
  const std::string named = std::string{what} + " '" + path + "'";
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st))
    return fail(errc::io_error, "cannot read " + named + ": "
                                  + (ec ? ec.message() : std::string{"no such file"}));
  if (!fs::is_regular_file(st))
    return fail(errc::io_error, named + " is not a regular file");
  auto too_large = [&](std::uintmax_t size) {
    return fail(errc::too_large, named + " has " + std::to_string(size) + " bytes; at most "
                                   + std::to_string(limit) + " (" + std::to_string(limit >> 20)
                                   + " MiB) can be sent");
  };
  if (auto size = fs::file_size(path, ec); !ec && size > limit)
    return too_large(size);
  std::ifstream in{path, std::ios::binary};
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in || in.bad())
    return fail(errc::io_error, "cannot read " + named);
  auto bytes = std::move(buf).str();
  if (bytes.size() > limit)
    return too_large(bytes.size());
  return bytes;
}

/// Reads a task or CTSA file: a JSON object (`what` says of what); returns its text unchanged.
result<std::string> read_json_object(const std::string& path, std::string_view file,
                                     std::string_view what) {
  auto text = read_input_file(path, file, std::numeric_limits<std::uintmax_t>::max());
  if (!text)
    return text;
  try {
    auto doc = json::parse(*text);
    if (!doc.is_object())
      return fail(errc::malformed_input, std::string{file} + " '" + path + "' holds a JSON "
                                           + std::string{doc.type_name()} + ", not the object of "
                                           + std::string{what});
  } catch (const json::exception& e) {
    return fail(errc::malformed_input,
                std::string{file} + " '" + path + "' is not JSON: " + e.what());
  }
  return text;
}

/// A signatory's index: decimal digits only, at most UINT32_MAX (the CTSA's field is a uint32).
std::optional<std::uint32_t> parse_index(std::string_view s) {
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front())) || ec != std::errc{}
      || end != s.data() + s.size())
    return std::nullopt;
  return n;
}

/// True for a media type of the form TYPE/SUBTYPE without spaces or control characters.
bool valid_media_type(std::string_view s) {
  const auto slash = s.find('/');
  return slash != 0 && slash != std::string_view::npos && slash + 1 < s.size()
         && std::none_of(s.begin(), s.end(), [](char c) {
              auto u = static_cast<unsigned char>(c);
              return u <= 0x20 || u == 0x7f;
            });
}

/// True if `s` holds nothing but spaces and control characters.
bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) <= 0x20; });
}

/// A request body as JSON text; invalid_config if a string in it (from the command line or a file
/// name) is not UTF-8.
result<std::string> request_body(const json& body) {
  try {
    return body.dump();
  } catch (const json::type_error&) {
    return fail(errc::invalid_config,
                "a file name, --peer, --member or --reason is not valid UTF-8; JSON cannot carry it");
  }
}

/// One API call a command makes and how its answer is printed.
struct call {
  std::string method;
  std::string path;
  std::string body;
  std::function<result<std::string>(const json&)> render;
};

/// A usage error of command `name`: what is wrong, then the command's usage text.
error usage_error(std::string_view name, std::string_view what) {
  return fail(errc::invalid_config, std::string{what} + "\n" + usage(name));
}

/// The call of `cta sign` on the CTA at `cta_path`: reads and encodes the document.
result<call> sign_call(const std::string& cta_path, const options& opts) {
  if (opts.signatory.empty() || opts.document.empty())
    return usage_error("cta sign", "cta sign needs --signatory N and --document FILE");
  const auto index = parse_index(opts.signatory);
  if (!index)
    return usage_error("cta sign", "--signatory wants the signatory's index in the CTSA, a "
                                   "non-negative integer, not '" + printable(opts.signatory) + "'");
  if (!opts.media_type.empty() && !valid_media_type(opts.media_type))
    return usage_error("cta sign", "--media-type wants TYPE/SUBTYPE, e.g. application/pdf, not '"
                                     + printable(opts.media_type) + "'");
  auto bytes = read_input_file(opts.document, "document", max_document_bytes);
  if (!bytes)
    return std::move(bytes).err();
  const auto file_name = fs::path{opts.document}.filename().string();
  auto body = request_body(json{
    {"signatory", *index},
    {"document",
     {{"name", file_name},
      {"media_type", opts.media_type.empty() ? media_type_for(file_name) : opts.media_type},
      {"data", crypto::to_base64(*bytes)}}}});
  if (!body)
    return std::move(body).err();
  return call{"POST", cta_path + "/signatures", std::move(*body), render_signature};
}

result<std::string> slurp(const fs::path& path);

/// `pak create`: makes the person's key pair, writes the private key (encrypted) and returns the
/// call that registers the public key.
result<call> pak_call(const std::string& cta_path, const options& opts) {
  const std::string_view name = "pak create";
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
  {
    // Created 0600 and exclusively: no one else may read it, nothing is overwritten.
    auto fd = ::open(opts.out.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
      return usage_error(name, "cannot create " + opts.out + ": " + std::strerror(errno));
    auto written = ::write(fd, pem->data(), pem->size());
    ::close(fd);
    if (written != static_cast<ssize_t>(pem->size()))
      return fail(errc::io_error, "cannot write " + opts.out);
  }
  auto der = key->public_key().to_der();
  json person{{"name", opts.name}, {"pak", crypto::to_base64(der)}};
  if (!opts.input.empty())
    person["input_keys"] = json::array({opts.input});
  else
    person["output_keys"] = json::array({opts.output});
  auto body = request_body(person);
  if (!body)
    return std::move(body).err();
  return call{"POST", cta_path + "/paks", std::move(*body), [](const json& doc) -> result<std::string> {
                if (!doc.is_object() || !doc.contains("pak_sha256") || !doc["pak_sha256"].is_string())
                  return fail(errc::malformed_input, "the node's answer has no \"pak_sha256\"");
                return printable(doc["pak_sha256"].get<std::string>()) + "\n";
              }};
}

/// The call of `cta approve` or `cta reject` (the SO's decision) on the CTA at `cta_path`.
result<call> decision_call(const std::string& cta_path, const options& opts, bool approve) {
  const std::string_view name = approve ? "cta approve" : "cta reject";
  if (opts.peer.empty())
    return usage_error(name, std::string{name} + " needs --peer NAME");
  json decision{{"peer", opts.peer}, {"approve", approve}};
  if (!approve) {
    if (blank(opts.reason))
      return usage_error(name, "cta reject needs --reason TEXT saying what the peer must fix");
    decision["reason"] = opts.reason;
  }
  auto body = request_body(decision);
  if (!body)
    return std::move(body).err();
  return call{"POST", cta_path + "/decisions", std::move(*body),
              [approve](const json& doc) { return render_decision(doc, approve); }};
}

/// The call of `cta override` on the CTA at `cta_path`.
result<call> override_call(const std::string& cta_path, const options& opts) {
  const std::string_view name = "cta override";
  if (blank(opts.member) || blank(opts.reason))
    return usage_error(name, "cta override needs --member NAME and --reason TEXT saying why the "
                             "risk is accepted");
  auto body = request_body(json{{"member", opts.member}, {"reason", opts.reason}});
  if (!body)
    return std::move(body).err();
  return call{"POST", cta_path + "/overrides", std::move(*body), render_override};
}

/// The call for `words` with the command options of `opts`, or a usage error.
/// `upload` and `download`: the slot authorization is signed here with the person's PAK.
result<call> io_call(const std::string& name, const std::vector<std::string>& words, const options& opts) {
  const bool upload = name == "upload";
  const auto& uuid = words[1];
  const auto& slot = words[2];
  if (uuid.empty() || uuid == "." || uuid == ".." || slot.empty() || slot == "." || slot == "..")
    return usage_error(name, "'" + printable(uuid) + "' / '" + printable(slot) + "' is not a CT and slot");
  if (opts.key.empty() || opts.passphrase_file.empty())
    return usage_error(name, name + " needs --key KEY_FILE and --passphrase-file FILE (the PAK made by "
                                    "joconde pak create)");
  std::error_code ec;
  if (!upload && !opts.out.empty() && fs::exists(opts.out, ec))
    return usage_error(name, opts.out + " exists: an output file is never overwritten");
  std::string csv;
  if (upload) {
    auto size = fs::file_size(words[3], ec);
    if (ec)
      return usage_error(name, "cannot read " + words[3] + ": " + ec.message());
    if (size > (std::size_t{512} << 20))
      return usage_error(name, words[3] + " is larger than 512 MiB");
    auto text = slurp(words[3]);
    if (!text)
      return usage_error(name, "cannot read " + words[3]);
    csv = std::move(*text);
  }
  auto auth = signed_authorization(uuid, slot, upload, opts.key, opts.passphrase_file,
                                   std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  if (!auth)
    return usage_error(name, auth.err().message);
  auto path = "/v1/ctas/" + encode_segment(uuid) + (upload ? "/inputs/" : "/outputs/")
              + encode_segment(slot) + "?authorization=" + *auth;
  if (upload)
    return call{"POST", path, std::move(csv), [slot](const json& doc) -> result<std::string> {
                  if (!doc.is_object() || !doc.contains("rows") || !doc["rows"].is_number_unsigned())
                    return fail(errc::malformed_input, "the node's answer has no \"rows\"");
                  std::ostringstream o;
                  o << "uploaded " << doc["rows"].get<std::uint64_t>() << " rows into " << printable(slot)
                    << " (ready at every CP; CT phase " << printable(doc.value("phase", std::string{}))
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
  auto out_file = opts.out;
  return call{"POST", path, {}, [slot, out_file](const json& doc) -> result<std::string> {
                if (!doc.is_object() || !doc.contains("csv") || !doc["csv"].is_string())
                  return fail(errc::malformed_input, "the node's answer has no \"csv\"");
                const auto& csv = doc["csv"].get_ref<const std::string&>();
                if (out_file.empty())
                  return csv;
                auto fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
                if (fd < 0)
                  return fail(errc::io_error, "cannot create " + out_file + ": " + std::strerror(errno));
                auto written = ::write(fd, csv.data(), csv.size());
                ::close(fd);
                if (written != static_cast<ssize_t>(csv.size()))
                  return fail(errc::io_error, "cannot write " + out_file);
                std::ostringstream o;
                o << "downloaded " << printable(slot) << ": " << doc.value("rows", std::uint64_t{0})
                  << " rows (" << doc.value("suppressed", std::uint64_t{0}) << " suppressed) to "
                  << out_file << (doc.value("simulated", false) ? " (SIMULATED TEE platform)" : "") << "\n";
                return o.str();
              }};
}

result<call> make_call(const std::vector<std::string>& words, const options& opts) {
  const auto name = command_name(words);
  auto wrong = [&](std::string_view what) { return usage_error(name, what); };
  if (name.empty())
    return fail(errc::invalid_config, "unknown command '" + printable(words.front())
                                        + "'; see joconde --help");
  const size_t args = words.size() - (name.find(' ') == std::string::npos ? 1 : 2);
  if (name == "cta" || name == "ctsa")
    return wrong(words.size() == 1 ? name + " needs a sub-command"
                                   : "unknown " + name + " sub-command '" + printable(words[1])
                                       + "'");
  const size_t wanted = arguments_of(name);
  if (args != wanted)
    return wrong(args < wanted ? name + " needs "
                                   + (wanted == 1   ? "an argument"
                                      : wanted == 2 ? "two arguments"
                                                    : "three arguments")
                               : name + " takes no more arguments");
  for (const auto& o : command_options)
    if (!(opts.*o.value).empty()
        && std::find(o.commands.begin(), o.commands.end(), name) == o.commands.end())
      return wrong("option --" + std::string{o.flag} + " does not apply to " + name);
  if (name == "upload" || name == "download")
    return io_call(name, words, opts);
  const bool on_a_cta = name == "cta show" || name == "cta watch" || name == "ctsa submit"
                        || name == "cta sign" || name == "cta approve" || name == "cta reject"
                        || name == "cta cancel" || name == "cta override" || name == "pak create";
  const auto uuid = on_a_cta ? words[2] : std::string{};
  if (on_a_cta && (uuid.empty() || uuid == "." || uuid == ".."))
    return wrong("'" + printable(uuid) + "' is not a CTA's UUID");
  const auto cta_path = "/v1/ctas/" + encode_segment(uuid);
  if (name == "whoami")
    return call{"GET", "/v1/whoami", {}, render_whoami};
  if (name == "status")
    return call{"GET", "/v1/status", {}, [](const json& doc) -> result<std::string> {
                  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
                }};
  if (name == "cta list")
    return call{"GET", "/v1/ctas", {}, render_cta_list};
  if (name == "cta show")
    return call{"GET", cta_path, {}, render_cta};
  if (name == "cta watch") {
    if (!opts.until.empty() && opts.until != "finished" && opts.until != "cancelled"
        && opts.until != "erased")
      return wrong("--until wants finished, cancelled or erased, not '" + printable(opts.until) + "'");
    return call{"GET", cta_path, {}, render_cta};
  }
  if (name == "cta create") {
    auto task = read_json_object(words[2], "task file", "a CTA task");
    if (!task)
      return std::move(task).err();
    // The root requires the disclosures the compiler states; they are filled in here. A task
    // this client cannot read as a CTSC goes to the node as it is, which says what is wrong.
    auto body = with_disclosures(*task);
    if (!body && body.err().code == errc::compile_error)
      return std::move(body).err();
    if (!body)
      body = std::move(*task);
    return call{"POST", "/v1/ctas", std::move(*body), [](const json& doc) -> result<std::string> {
                  if (!doc.is_object() || !doc.contains("uuid") || !doc["uuid"].is_string()
                      || doc["uuid"].get_ref<const std::string&>().empty())
                    return fail(errc::malformed_input, "the node's answer has no \"uuid\"");
                  return printable(doc["uuid"].get_ref<const std::string&>()) + "\n";
                }};
  }
  if (name == "ctsa submit") {
    auto body = read_json_object(words[3], "CTSA file", "a CTSA");
    if (!body)
      return std::move(body).err();
    return call{"POST", cta_path + "/ctsa", std::move(*body), render_ctsa_submitted};
  }
  if (name == "cta sign")
    return sign_call(cta_path, opts);
  if (name == "pak create")
    return pak_call(cta_path, opts);
  if (name == "cta cancel") {
    if (blank(opts.reason))
      return wrong("cta cancel needs --reason TEXT saying why");
    auto body = request_body(json{{"reason", opts.reason}});
    if (!body)
      return std::move(body).err();
    return call{"POST", cta_path + "/cancel", std::move(*body), [](const json& doc) -> result<std::string> {
                  if (!doc.is_object() || !doc.contains("status") || !doc["status"].is_string())
                    return fail(errc::malformed_input, "the node's answer has no \"status\"");
                  return "CTA " + printable(doc.value("uuid", std::string{})) + ": "
                         + printable(doc["status"].get<std::string>()) + "\n";
                }};
  }
  if (name == "cta override")
    return override_call(cta_path, opts);
  return decision_call(cta_path, opts, name == "cta approve");
}

/// The exit code for an error of http::client::send.
int exit_code_for_send_error(errc code) {
  switch (code) {
    case errc::invalid_config:
    case errc::forbidden:  // a token for plain HTTP to another host: nothing was sent
      return exit_usage;
    case errc::io_error:
    case errc::timeout:
    case errc::untrusted_chain:  // no trusted connection: the server's certificate does not verify
    case errc::certificate_expired:
    case errc::protocol_error:
    case errc::crypto_failure:
      return exit_unreachable;
    default:
      return exit_server;
  }
}

/// How to reach `ep` within `timeout` (its CA file for https://).
http::client_options client_options_of(const endpoint& ep, std::chrono::milliseconds timeout) {
  http::client_options o;
  o.ca_file = ep.ca_file;
  o.timeout = timeout;
  return o;
}

/// "CODE: MESSAGE" from a node's error answer, or a description of the bare status.
std::string describe_http_error(const http::response& res) {
  auto doc = json::parse(res.body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const auto& e = doc["error"];
    if (e.contains("code") && e["code"].is_string() && e.contains("message")
        && e["message"].is_string())
      return printable(e["code"].get_ref<const std::string&>()) + ": "
             + printable(e["message"].get_ref<const std::string&>());
  }
  return "http_" + std::to_string(res.status) + ": the node answered HTTP "
         + std::to_string(res.status) + " without a JSON error";
}

/// True if `token` can go into an Authorization header.
bool valid_token(std::string_view token) {
  return !token.empty() && std::none_of(token.begin(), token.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

/// Reads a whole file, or io_error.
result<std::string> slurp(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return fail(errc::io_error, "cannot read " + path.string());
  std::ostringstream buf;
  buf << in.rdbuf();
  return std::move(buf).str();
}

/// The endpoint of NODE[:ROLE] in DIR/cluster.json.
result<endpoint> from_cluster(const std::string& dir, const std::string& as) {
  const auto file = fs::path{dir} / "cluster.json";
  auto text = slurp(file);
  if (!text)
    return fail(errc::io_error, "cannot read " + file.string()
                                  + "; is it the directory of a cluster made by ops/cluster up?");
  auto doc = json::parse(*text, nullptr, false);
  if (!doc.is_object() || !doc.contains("nodes") || !doc["nodes"].is_array())
    return fail(errc::malformed_input, file.string() + " is not JSON with a \"nodes\" array");
  const auto colon = as.find(':');
  const auto node = as.substr(0, colon);
  const auto role = colon == std::string::npos ? std::string{} : as.substr(colon + 1);
  if (node.empty() || (colon != std::string::npos && role.empty()))
    return fail(errc::invalid_config, "--as wants NODE or NODE:ROLE, e.g. client-a:task_organiser");
  std::string known;
  for (const auto& n : doc["nodes"]) {
    if (!n.is_object() || !n.contains("name") || !n["name"].is_string())
      continue;
    const auto& name = n["name"].get_ref<const std::string&>();
    known += (known.empty() ? "" : ", ") + name;
    if (name != node)
      continue;
    if (!n.contains("http_url") || !n["http_url"].is_string())
      return fail(errc::malformed_input, "node " + node + " in " + file.string() + " has no http_url");
    endpoint ep{n["http_url"].get<std::string>(), {}, {}, "--cluster " + dir + " --as " + as};
    // The node's HTTPS certificate chains to the cluster's root CA (or pin what the node serves).
    if (n.contains("root_ca") && n["root_ca"].is_string()) {
      fs::path ca = n["root_ca"].get<std::string>();
      ep.ca_file = (ca.is_relative() ? fs::path{dir} / ca : ca).string();
    }
    if (role.empty()) {
      if (!n.contains("admin_token_file") || !n["admin_token_file"].is_string())
        return fail(errc::malformed_input,
                    "node " + node + " in " + file.string() + " has no admin_token_file");
      fs::path token_file = n["admin_token_file"].get<std::string>();
      if (token_file.is_relative())
        token_file = fs::path{dir} / token_file;
      auto token = slurp(token_file);
      if (!token)
        return fail(errc::io_error, "cannot read the admin token file " + token_file.string()
                                      + " of node " + node);
      std::string_view line{*token};
      line = line.substr(0, line.find('\n'));
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
        line.remove_suffix(1);
      ep.token = std::string{line};
      return ep;
    }
    if (n.contains("users") && n["users"].is_object() && n["users"].contains(role)) {
      const auto& user = n["users"][role];
      if (user.is_object() && user.contains("token") && user["token"].is_string()) {
        ep.token = user["token"].get<std::string>();
        return ep;
      }
    }
    std::string roles;
    if (n.contains("users") && n["users"].is_object())
      for (const auto& [r, user] : n["users"].items())
        roles += (roles.empty() ? "" : ", ") + r;
    return fail(errc::not_found, "node " + node + " has no user with role '" + role + "' in "
                                   + file.string() + " (roles there: "
                                   + (roles.empty() ? "none" : roles) + ")");
  }
  return fail(errc::not_found, "node '" + node + "' is not in " + file.string() + " (nodes there: "
                                 + (known.empty() ? "none" : known) + ")");
}

} // namespace

environment process_environment() {
  return [](const std::string& name) {
    const char* value = std::getenv(name.c_str());
    return value == nullptr ? std::string{} : std::string{value};
  };
}

result<options> parse_options(const std::vector<std::string>& args) {
  options out;
  std::map<std::string, std::string options::*, std::less<>> values{
    {"url", &options::url},
    {"ca-file", &options::ca_file},
    {"token", &options::token},
    {"cluster", &options::cluster_dir},
    {"as", &options::as},
  };
  for (const auto& o : command_options)
    values.emplace(o.flag, o.value);
  const std::map<std::string, bool options::*, std::less<>> flags{
    {"json", &options::json},
    {"help", &options::help},
    {"verbose", &options::verbose},
  };
  bool options_end = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (options_end || a == "-" || a.empty() || a.front() != '-') {
      out.words.push_back(a);
      continue;
    }
    if (a == "--") {
      options_end = true;
      continue;
    }
    if (a == "-h") {
      out.help = true;
      continue;
    }
    if (a == "-o") {
      if (i + 1 >= args.size() || args[i + 1].empty())
        return fail(errc::invalid_config, "option -o needs a value");
      out.out = args[++i];
      continue;
    }
    if (a.rfind("--", 0) != 0)
      return fail(errc::invalid_config, "unknown option '" + printable(a) + "'");
    const auto eq = a.find('=');
    const auto key = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (auto f = flags.find(key); f != flags.end()) {
      if (eq != std::string::npos)
        return fail(errc::invalid_config, "option --" + key + " takes no value");
      out.*(f->second) = true;
      continue;
    }
    const bool known = values.count(key) > 0 || key == "timeout";
    if (!known)
      return fail(errc::invalid_config, "unknown option '--" + printable(key) + "'");
    std::string value;
    if (eq != std::string::npos)
      value = a.substr(eq + 1);
    else if (i + 1 < args.size())
      value = args[++i];
    if (value.empty())
      return fail(errc::invalid_config, "option --" + key + " needs a value");
    if (key != "timeout") {
      out.*(values.find(key)->second) = std::move(value);
      continue;
    }
    double seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc{} || end != value.data() + value.size() || !std::isfinite(seconds)
        || seconds <= 0 || seconds > 86400)
      return fail(errc::invalid_config, "--timeout wants a number of seconds between 0 and 86400, "
                                        "not '" + printable(value) + "'");
    out.timeout = std::chrono::milliseconds{static_cast<std::int64_t>(std::ceil(seconds * 1000))};
    out.timeout_given = true;
  }
  return out;
}

result<endpoint> resolve_endpoint(const options& opts, const environment& env) {
  endpoint ep;
  if (!opts.cluster_dir.empty() || !opts.as.empty()) {
    if (!opts.url.empty() || !opts.token.empty() || !opts.ca_file.empty())
      return fail(errc::invalid_config,
                  "--cluster/--as and --url/--token/--ca-file are alternatives; give one of them");
    if (opts.cluster_dir.empty() || opts.as.empty())
      return fail(errc::invalid_config, "--cluster DIR and --as NODE[:ROLE] go together");
    auto res = from_cluster(opts.cluster_dir, opts.as);
    if (!res)
      return res;
    ep = std::move(*res);
  } else {
    ep.url = opts.url.empty() ? env("JOCONDE_URL") : opts.url;
    ep.token = opts.token.empty() ? env("JOCONDE_TOKEN") : opts.token;
    if (ep.url.empty() || ep.token.empty())
      return fail(errc::invalid_config,
                  std::string{"no "} + (ep.url.empty() ? "node" : "token")
                    + " given: use --url URL and --token TOKEN, set JOCONDE_URL and "
                      "JOCONDE_TOKEN, or use --cluster DIR --as NODE[:ROLE]");
    ep.ca_file = opts.ca_file.empty() ? env("JOCONDE_CA_FILE") : opts.ca_file;
    ep.source = std::string{"URL from "} + (opts.url.empty() ? "JOCONDE_URL" : "--url")
                + ", token from " + (opts.token.empty() ? "JOCONDE_TOKEN" : "--token");
    if (!ep.ca_file.empty())
      ep.source += ", CA file " + ep.ca_file + " from " + (opts.ca_file.empty() ? "JOCONDE_CA_FILE" : "--ca-file");
  }
  if (!valid_token(ep.token))
    return fail(errc::invalid_config, "the token (" + ep.source
                                        + ") is empty or contains spaces or control characters");
  return ep;
}

int exit_code_for_status(int http_status) {
  switch (http_status) {
    case 401:
    case 403:
      return exit_denied;
    case 404:
      return exit_not_found;
    case 400:
    case 409:
    case 413:
    case 422:
      return exit_invalid;
    default:
      return http_status >= 200 && http_status < 300 ? exit_ok : exit_server;
  }
}

std::string media_type_for(std::string_view file_name) {
  auto ext = fs::path{file_name}.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::map<std::string, std::string, std::less<>> types{
    {".pdf", "application/pdf"},
    {".asice", "application/vnd.etsi.asic-e+zip"},
    {".sce", "application/vnd.etsi.asic-e+zip"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".txt", "text/plain"},
  };
  auto i = types.find(ext);
  return i == types.end() ? std::string{"application/octet-stream"} : i->second;
}

std::string usage(std::string_view command) {
  const auto& texts = command_usages();
  auto i = texts.find(command);
  if (i == texts.end())
    return general_usage;
  return i->second + "\nOptions, where to talk to, exit codes: joconde --help\n";
}

/// `joconde sql check TASK_FILE`: compiles here; no node is asked.
int run_sql_check(const std::vector<std::string>& words, const options& opts, std::ostream& out,
                  std::ostream& err) {
  if (words.size() != 3) {
    err << "joconde: invalid_config: sql check takes one TASK_FILE\n" << usage("sql check");
    return exit_usage;
  }
  auto task = read_json_object(words[2], "task file", "a CTA task");
  if (!task) {
    err << "joconde: " << task.err().describe() << "\n";
    return exit_usage;
  }
  auto check = check_task(*task);
  if (!check) {
    err << "joconde: " << check.err().describe() << "\n";
    return exit_invalid;
  }
  if (opts.json) {
    json doc{{"engine", check->engine}, {"features", check->features},
             {"disclosures", check->disclosures}};
    out << compact_json(doc) << "\n";
    return exit_ok;
  }
  out << "compiles for " << check->engine << "\nfeatures:";
  for (const auto& f : check->features)
    out << " " << f;
  out << "\ndiscloses, beyond its outputs:\n";
  for (const auto& d : check->disclosures)
    out << "  - " << d << "\n";
  return exit_ok;
}

namespace {

/// `cta create` of a task without "tee_measurements": asks the node for the measurement of its CT
/// VM image (GET /v1/tee) and puts it into the task, saying so on `err`. The exit code when that
/// fails (nothing was created), else nullopt.
std::optional<int> fill_tee_measurements(call& c, const endpoint& ep, const options& opts,
                                         std::ostream& err) {
  auto doc = json::parse(c.body, nullptr, false);
  if (!doc.is_object() || doc.contains("tee_measurements"))
    return std::nullopt;
  const std::string hint = " (GET /v1/tee; give \"tee_measurements\" in the task file instead)";
  auto res = http::client::send(ep.url, "GET", "/v1/tee", "", ep.token, client_options_of(ep, opts.timeout));
  if (!res) {
    err << "joconde: " << res.err().describe() << hint << "\n";
    return exit_code_for_send_error(res.err().code);
  }
  if (res->status != 200) {
    err << "joconde: " << describe_http_error(*res) << hint << "\n";
    return exit_code_for_status(res->status);
  }
  auto tee = json::parse(res->body, nullptr, false);
  std::optional<crypto::bytes> measurement;
  if (tee.is_object() && tee.contains("measurement") && tee["measurement"].is_string())
    if (auto m = crypto::from_hex(tee["measurement"].get<std::string>()); m && m->size() == 48)
      measurement = std::move(*m);
  if (!measurement || !tee.contains("image") || !tee["image"].is_string()) {
    err << "joconde: malformed_input: the node's answer has no CT VM image and 48-byte measurement"
        << hint << "\n";
    return exit_server;
  }
  // Protobuf's JSON form of bytes is base64.
  doc["tee_measurements"] = json::array(
    {{{"platform", "simulated"},
      {"image", tee["image"]},
      {"measurement", crypto::to_base64(*measurement)}}});
  c.body = doc.dump();
  auto node = tee.contains("node") && tee["node"].is_string() ? tee["node"].get<std::string>() : ep.url;
  err << "tee_measurements: simulated joconde-vm measurement " << crypto::hex(*measurement)
      << " from " << printable(node) << "\n";
  return std::nullopt;
}

/// "12:00:01.250" (UTC) of a time in milliseconds since the epoch.
std::string clock_time(std::int64_t ms) {
  auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

/// "cp1" of "cp1.joconde.test".
std::string short_node(const std::string& fqdn) {
  return printable(fqdn.substr(0, fqdn.find('.')));
}

std::string text_of(const json& doc, const char* key) {
  return doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>() : std::string{};
}

/// `cta watch UUID`: asks the node every watch_interval until the CTA ends (or has --until's status).
int run_watch(const std::string& path, const std::string& uuid, const endpoint& ep,
              const options& opts, std::ostream& out, std::ostream& err) {
  using clock = std::chrono::steady_clock;
  const auto started = clock::now();
  const auto deadline = started + opts.timeout;
  std::string status;
  std::set<std::string> vms_shown;
  std::set<std::string> events_shown;
  for (;;) {
    auto limit = std::chrono::milliseconds{10'000};
    if (opts.timeout_given)
      limit = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()),
                         std::chrono::milliseconds{100}, limit);
    auto res = http::client::send(ep.url, "GET", path, "", ep.token, client_options_of(ep, limit));
    if (!res) {
      err << "joconde: " << res.err().describe() << "\n";
      return exit_code_for_send_error(res.err().code);
    }
    if (res->status != 200) {
      err << "joconde: " << describe_http_error(*res) << "\n";
      return exit_code_for_status(res->status);
    }
    auto doc = json::parse(res->body, nullptr, false);
    if (!doc.is_object() || !doc.contains("status") || !doc["status"].is_string()) {
      err << "joconde: malformed_input: the node's answer to GET " << path << " is not a CTA\n";
      return exit_server;
    }
    auto now_status = doc["status"].get<std::string>();
    if (!opts.json) {
      if (now_status != status) {
        auto reason = text_of(doc, "reason");
        out << "CTA " << printable(uuid) << ": " << printable(now_status)
            << (reason.empty() ? "" : " (" + printable(reason) + ")") << "\n";
      }
      if (doc.contains("vms") && doc["vms"].is_array())
        for (const auto& vm : doc["vms"]) {
          if (!vm.is_object())
            continue;
          auto key = text_of(vm, "cp") + " " + text_of(vm, "client_address") + " "
                     + text_of(vm, "peer_address") + " " + text_of(vm, "mpc_address");
          if (!vms_shown.insert(key).second)
            continue;
          out << "vm " << short_node(text_of(vm, "cp")) << ": client "
              << printable(text_of(vm, "client_address")) << ", peer "
              << printable(text_of(vm, "peer_address")) << ", mpc "
              << printable(text_of(vm, "mpc_address")) << " ("
              << printable(text_of(vm, "platform")) << ")\n";
        }
      if (doc.contains("telemetry") && doc["telemetry"].is_array())
        for (const auto& ev : doc["telemetry"]) {
          if (!ev.is_object() || !events_shown.insert(ev.dump()).second)
            continue;
          std::string line = ev.contains("at_ms") && ev["at_ms"].is_number_integer()
                               ? clock_time(ev["at_ms"].get<std::int64_t>())
                               : std::string{"--:--:--.---"};
          line += " " + short_node(text_of(ev, "cp"));
          for (const auto* key : {"kind", "subject", "value"})
            if (auto v = text_of(ev, key); !v.empty())
              line += " " + printable(v);
          out << line << "\n";
        }
      out.flush();
    }
    status = now_status;
    const bool ended = status == "finished" || status == "cancelled" || status == "erased";
    const bool reached = opts.until.empty() ? ended : status == opts.until;
    // Waiting for "erased" goes on past finished and cancelled; anything else ends the watch.
    const bool other_end = !reached && ended && opts.until != "erased";
    if (reached || other_end) {
      if (opts.json)
        out << compact_json(doc) << "\n";
      if (other_end) {
        err << "joconde: CTA " << printable(uuid) << " is " << printable(status) << ", it will not be "
            << printable(opts.until) << "\n";
        return exit_watch_other_end;
      }
      return exit_ok;
    }
    if (opts.timeout_given && clock::now() + watch_interval > deadline) {
      if (opts.json)
        out << compact_json(doc) << "\n";
      err << "joconde: timeout: CTA " << printable(uuid) << " is still " << printable(status)
          << " after " << opts.timeout.count() / 1000.0 << " s (--timeout)\n";
      return exit_watch_timeout;
    }
    std::this_thread::sleep_for(watch_interval);
  }
}

} // namespace

int run(const std::vector<std::string>& args, const environment& env, std::ostream& out,
        std::ostream& err) {
  auto opts = parse_options(args);
  if (!opts) {
    err << "joconde: " << opts.err().describe() << "\nTry 'joconde --help'.\n";
    return exit_usage;
  }
  auto words = opts->words;
  const bool help_word = !words.empty() && words.front() == "help";
  if (help_word)
    words.erase(words.begin());
  if (opts->help || help_word) {
    const auto name = command_name(words);
    if (!words.empty() && name.empty()) {
      err << "joconde: invalid_config: unknown command '" << printable(words.front())
          << "'; see joconde --help\n";
      return exit_usage;
    }
    out << usage(name);
    return exit_ok;
  }
  if (words.empty()) {
    err << usage();
    return exit_usage;
  }
  if (command_name(words) == "sql check")
    return run_sql_check(words, *opts, out, err);
  auto c = make_call(words, *opts);
  if (!c) {
    err << "joconde: " << c.err().describe() << "\n";
    // A task whose algorithm does not compile is invalid, not a usage error; nothing was sent.
    auto code = c.err().code;
    return code == errc::compile_error || code == errc::unsupported ? exit_invalid : exit_usage;
  }
  auto ep = resolve_endpoint(*opts, env);
  if (!ep) {
    err << "joconde: " << ep.err().describe() << "\n";
    return exit_usage;
  }
  const auto name = command_name(words);
  if (name == "cta watch")
    return run_watch(c->path, words[2], *ep, *opts, out, err);
  if (name == "cta create")
    if (auto failed = fill_tee_measurements(*c, *ep, *opts, err))
      return *failed;
  const auto what = c->method + " " + c->path;
  if (opts->verbose)
    err << "joconde: " << what << " at " << ep->url << " (" << ep->source << ")\n";
  auto timeout = opts->timeout;
  if ((name == "upload" || name == "download") && !opts->timeout_given)
    timeout = std::chrono::seconds{600};
  http::client::progress_fn progress;
  if (name == "upload") {
    err << "joconde: sending " << c->body.size() << " bytes to " << ep->url
        << "; the node checks, attests, shares and uploads them\n";
    if (&err == &std::cerr && ::isatty(STDERR_FILENO) == 1)  // a bar only on a terminal
      progress = [&err, last = -1](size_t sent, size_t total) mutable {
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
  auto options = client_options_of(*ep, timeout);
  options.progress = progress;
  auto res = http::client::send(ep->url, c->method, c->path, c->body, ep->token, options);
  if (!res) {
    err << "joconde: " << res.err().describe() << "\n";
    return exit_code_for_send_error(res.err().code);
  }
  if (opts->verbose)
    err << "joconde: " << what << ": HTTP " << res->status << ", " << res->body.size()
        << " bytes\n";
  if (res->status < 200 || res->status >= 300) {
    err << "joconde: " << describe_http_error(*res) << "\n";
    return exit_code_for_status(res->status);
  }
  auto doc = json::parse(res->body, nullptr, false);
  if (doc.is_discarded()) {
    err << "joconde: malformed_input: the node's answer to " << what << " is not JSON\n";
    return exit_server;
  }
  if (opts->json) {
    out << compact_json(doc) << "\n";
    return exit_ok;
  }
  auto text = c->render(doc);
  if (!text) {
    err << "joconde: " << text.err().describe() << " (" << what << ")\n";
    return exit_server;
  }
  out << *text;
  return exit_ok;
}

} // namespace joconde::cli
