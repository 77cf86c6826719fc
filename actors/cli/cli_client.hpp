#pragma once

// The `joconde` command-line client for people and scripts (issue 3 item 4): where to talk to
// (options, environment, or a local cluster's cluster.json), one API call per command, and the exit
// codes; cli_render.hpp prints the answers. A library, so that tests drive it without spawning
// processes; joconde_main.cpp only wires it to argv, the environment and the standard streams.

#include "cli/cli_render.hpp"

#include "joconde/messages/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::cli {

// -- exit codes (the usage text and docs/cli.md list them) --

/// The command did what was asked.
constexpr int exit_ok = 0;
/// Bad options or arguments, no node to talk to, an unreadable input file, or a token that would
/// go over plain HTTP to another host; nothing was sent.
constexpr int exit_usage = 2;
/// The node could not be reached: nothing listens, the connection broke, the time limit passed, or
/// its HTTPS certificate does not verify with the CA file given.
constexpr int exit_unreachable = 3;
/// The node does not know the token (HTTP 401) or the user lacks the role (HTTP 403).
constexpr int exit_denied = 4;
/// The thing asked for does not exist (HTTP 404).
constexpr int exit_not_found = 5;
/// The node refused the request as invalid (HTTP 400, 409, 413, 422).
constexpr int exit_invalid = 6;
/// The node failed (HTTP 5xx) or answered something other than the JSON the command expects.
constexpr int exit_server = 7;
/// `cta watch`: the time limit passed before the CTA reached the awaited status.
constexpr int exit_watch_timeout = 8;
/// `cta watch`: the CTA ended in another status than the awaited one (e.g. cancelled, not finished).
constexpr int exit_watch_other_end = 9;

/// How often `cta watch` asks the node.
constexpr std::chrono::milliseconds watch_interval{500};

/// The time limit of one request unless --timeout says otherwise: creating a CTSC waits for the root.
constexpr std::chrono::milliseconds default_timeout = std::chrono::seconds{30};

/// The largest document `cta sign` sends (10 MiB); a larger file is refused before anything is sent.
constexpr std::uintmax_t max_document_bytes = std::uintmax_t{10} << 20;

/// Reads one environment variable; an empty string means it is not set.
using environment = std::function<std::string(const std::string& name)>;

/// The process environment, read with std::getenv.
environment process_environment();

// -- parsing and resolution --

/// The command line, parsed but not yet checked against a command.
struct options {
  /// --url: the node's API base URL, e.g. https://198.51.100.14:8443.
  std::string url;
  /// --ca-file: the PEM file of the CA that issued the node's HTTPS certificate (for --url).
  std::string ca_file;
  /// --token: the API token (visible in `ps`; JOCONDE_TOKEN or --cluster avoid that).
  std::string token;
  /// --cluster: a directory made by ops/cluster, holding cluster.json.
  std::string cluster_dir;
  /// --as: NODE or NODE:ROLE within the cluster.
  std::string as;
  /// --timeout: the time limit of each request (`cta watch`: of the whole watch).
  std::chrono::milliseconds timeout = default_timeout;
  /// True when --timeout was given.
  bool timeout_given = false;
  /// --json: print the node's JSON answer itself.
  bool json = false;
  /// --help or -h: print the usage text of the command given, or the general one.
  bool help = false;
  /// --verbose: describe the request and its outcome on stderr (never the token).
  bool verbose = false;
  /// --signatory (cta sign): the signatory's index in the peer's CTSA, as given.
  std::string signatory;
  /// --document (cta sign): the file the signatory signs with.
  std::string document;
  /// --media-type (cta sign): the document's media type, instead of the one its extension implies.
  std::string media_type;
  /// --peer (cta approve, cta reject): the peer whose CTSA is decided on, as given (the node
  /// resolves short names).
  std::string peer;
  /// --reason (cta reject, cta cancel, cta override): what the peer must fix, why the CTA is
  /// cancelled, why an unconfirmed member is accepted.
  std::string reason;
  /// --member (cta override): the member of the CTA accepted unconfirmed, as given (the node
  /// resolves short names).
  std::string member;
  /// --input / --output (pak create): the input or output key the person's PAK is for.
  std::string input;
  std::string output;
  /// --name (pak create): the person's display name.
  std::string name;
  /// --out (pak create): where the private key goes (PKCS#8 PEM, encrypted, mode 0600);
  /// --out or -o (download): where the output table goes (CSV; standard output without it).
  std::string out;
  /// --passphrase-file (pak create): the file whose first line encrypts the private key.
  std::string passphrase_file;
  /// --key (upload, download): the person's PAK key file (made by pak create).
  std::string key;
  /// --until (cta watch): finished, cancelled or erased; empty: any end.
  std::string until;
  /// The command's words and its arguments in their order, e.g. {"cta", "show", UUID}.
  std::vector<std::string> words;
};

/// Parses the arguments after the program name with CLI11, into the subcommands that the table of
/// commands names (cli_command.hpp): options anywhere on the line ("--key value", "--key=value",
/// flags, and `--` ending the options); invalid_config saying what is wrong for an unknown option,
/// a missing value or a bad --timeout. Which command the words name is checked later (run()).
result<options> parse_options(const std::vector<std::string>& args);

/// A node's API and the token to use there.
struct endpoint {
  /// The API base URL.
  std::string url;
  /// The trust anchors of its HTTPS certificate (PEM file); empty for a plain http:// URL.
  std::string ca_file;
  /// The bearer token.
  std::string token;
  /// Where the two came from, for --verbose; never contains the token.
  std::string source;
};

/// Finds the node to talk to: --cluster/--as (the cluster's root CA verifies the node's HTTPS
/// certificate), else --url/--token/--ca-file each falling back to JOCONDE_URL / JOCONDE_TOKEN /
/// JOCONDE_CA_FILE; invalid_config when nothing (or a contradiction) is given, io_error or
/// malformed_input when cluster.json or the admin token file cannot be used. Errors never quote
/// a token.
result<endpoint> resolve_endpoint(const options& opts, const environment& env);

// -- output --

/// The exit code for a non-2xx HTTP status (see the constants above).
int exit_code_for_status(int http_status);

/// The usage text of `command` ("whoami", "cta", "cta create", ...), or the general one for an empty
/// or unknown command.
std::string usage(std::string_view command = {});

// -- documents --


// -- running --

/// Runs one `joconde` invocation: `args` are the arguments after the program name; answers go to
/// `out`, diagnostics ("joconde: CODE: MESSAGE") to `err`. Returns the exit code.
int run(const std::vector<std::string>& args, const environment& env, std::ostream& out,
        std::ostream& err);

} // namespace joconde::cli
