#pragma once

// The commands of the `joconde` client, one entry each in one table (cli_commands.cpp): a command's
// words, arguments, options, texts and handler. The parser (cli_parse.cpp) builds CLI11's
// subcommands, the usage texts and the checks of a command line from that table, and run() calls
// the handler; adding a command is adding its entry and its handler. Below the table: what the
// handlers share, the API call a command makes, how it is sent, and the checks of arguments and
// input files. Internal to the client library.

#include "cli/cli_client.hpp"

#include "joconde/runtime/http_client.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::cli {

// -- the table --

/// One run of a command: what was given, and where its answers and diagnostics go.
struct invocation {
  /// The options of the whole command line.
  const options& opts;
  /// The command's arguments: the words after its name, as many as its entry names.
  std::vector<std::string> args;
  /// Where JOCONDE_URL, JOCONDE_TOKEN and JOCONDE_CA_FILE are read.
  const environment& env;
  /// Answers.
  std::ostream& out;
  /// Diagnostics ("joconde: CODE: MESSAGE") and progress.
  std::ostream& err;
};

/// One `joconde` command.
struct command {
  /// Its words, e.g. "cta sign"; a first word shared by several commands names a group ("cta").
  std::string_view name = {};
  /// What follows its name in the usage texts: its arguments and options.
  std::string_view synopsis = {};
  /// What it does, for the list of commands in `joconde --help`; lines after the first are
  /// indented there.
  std::string_view summary = {};
  /// The text of `joconde NAME --help` after the usage line.
  std::string_view help = {};
  /// The names of its arguments, each required.
  std::vector<std::string_view> arguments = {};
  /// The long names of the options only some commands take that this one takes ("peer").
  std::vector<std::string_view> options = {};
  /// Does it, once its arguments are counted and its options checked; returns the exit code.
  int (*handler)(const invocation&) = nullptr;
};

/// Every command, in the order `joconde --help` lists them.
const std::vector<command>& commands();

// -- the command line (cli_parse.cpp) --

/// The command that `words` name, checked against its entry: an unknown command or sub-command, a
/// wrong number of arguments or an option the command does not take is a usage error.
result<const command*> resolve_command(const std::vector<std::string>& words, const options& opts);

/// The usage text for `joconde help WORDS` or `joconde WORDS --help`: the command's or group's that
/// the words start with, the general one for no words; invalid_config for an unknown command.
result<std::string> help_for(const std::vector<std::string>& words);

// -- the handlers, per family --

// cli_commands.cpp: about the node and the client itself.
int run_whoami(const invocation& in);
int run_status(const invocation& in);
int run_sql_check(const invocation& in);
int run_task_init(const invocation& in);
int run_task_show(const invocation& in);
int run_ctsa_init(const invocation& in);

// cli_cta.cpp: a CTA and its agreement.
int run_cta_create(const invocation& in);
int run_cta_list(const invocation& in);
int run_cta_show(const invocation& in);
int run_ctsa_submit(const invocation& in);
int run_cta_sign(const invocation& in);
int run_cta_approve(const invocation& in);
int run_cta_reject(const invocation& in);
int run_cta_cancel(const invocation& in);
int run_node_revoke(const invocation& in);
int run_cta_override(const invocation& in);

// cli_watch.cpp: following a CT.
int run_cta_watch(const invocation& in);

// cli_data.cpp: the people's keys and their data.
int run_pak_create(const invocation& in);
int run_upload(const invocation& in);
int run_download(const invocation& in);

// -- the API call of a command (cli_client.cpp) --

/// One API call a command makes and how its answer is printed.
struct call {
  std::string method;
  std::string path;
  std::string body;
  /// The text printed for the node's JSON answer unless --json; an error when the answer lacks
  /// what the command prints.
  std::function<result<std::string>(const nlohmann::json&)> render;
  /// The time limit when --timeout is not given; unset: default_timeout.
  std::optional<std::chrono::milliseconds> timeout = std::nullopt;
  /// A line said on stderr just before the request is sent (upload: what happens to the file).
  std::string notice = {};
  /// Told of the request body's bytes sent (upload).
  http::progress_fn progress = {};
};

/// Reports `e`, an argument, option or input file refused before anything was sent, and returns
/// the exit code: exit_invalid for an algorithm that does not compile, else exit_usage.
int refuse(const invocation& in, const error& e);

/// Sends `c` to `ep`, prints the answer (or the node's error) and returns the exit code.
int exchange(const invocation& in, const endpoint& ep, const call& c);

/// What a command does with its call once the node is known, before the call is sent: completes
/// it, or ends the command with the exit code returned (having said why on stderr).
using before_send = std::function<std::optional<int>(call& c, const endpoint& ep)>;

/// What most commands do: refuse `c` if it is an error, else find the node, let `before` complete
/// the call and exchange it.
int send(const invocation& in, result<call> c, const before_send& before = {});

// -- talking to the node (cli_endpoint.cpp) --

/// The exit code for an error of http::client::send.
int exit_code_for_send_error(errc code);

/// How to reach `ep` within `timeout` (its CA file for https://).
http::client_options client_options_of(const endpoint& ep, std::chrono::milliseconds timeout);

/// "CODE: MESSAGE" from a node's error answer, or a description of the bare status.
std::string describe_http_error(const http::response& res);

// -- arguments and input files (cli_client.cpp) --

/// A usage error of command `name`: what is wrong, then the command's usage text.
error usage_error(std::string_view name, std::string_view what);

/// A path segment with everything but unreserved characters percent-encoded.
std::string encode_segment(std::string_view s);

/// "/v1/ctas/UUID" for the CTA `uuid`, an argument of command `name`; a usage error for an empty,
/// "." or ".." UUID (a UUID is one path segment).
result<std::string> cta_path(std::string_view name, const std::string& uuid);

/// True if `s` holds nothing but spaces and control characters.
bool blank(std::string_view s);

/// A request body as JSON text; invalid_config if a string in it (from the command line or a file
/// name) is not UTF-8.
result<std::string> request_body(const nlohmann::json& body);

/// Reads a whole file, or io_error.
result<std::string> slurp(const std::filesystem::path& path);

/// Reads the input file `path`, which `what` names in errors ("task file"), as bytes; io_error if
/// it is missing, not a regular file or unreadable, too_large if it holds more than `limit` bytes.
result<std::string> read_input_file(const std::string& path, std::string_view what,
                                    std::uintmax_t limit);

/// Reads a task or CTSA file (`file` names it in errors): a JSON object (`what` says of what);
/// returns its text unchanged.
result<std::string> read_json_object(const std::string& path, std::string_view file,
                                     std::string_view what);

/// Writes `bytes` to the new file `path`, created with mode 0600; io_error if it exists or cannot
/// be written: a key or output file is never overwritten and no one else may read it.
result<void> write_new_file(const std::string& path, std::string_view bytes);

} // namespace joconde::cli
