// The command line of the `joconde` client: parsed with CLI11 into a tree of subcommands built from
// the table of commands (cli_commands.cpp), checked against that table, and the usage texts made
// from it.

#include "cli/cli_client.hpp"
#include "cli/cli_command.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <memory>
#include <optional>

namespace joconde::cli {

namespace {

// -- the options --

/// An option of the command line and where its value goes.
struct option_spec {
  /// Its names as CLI11 takes them, the long one first, e.g. "--out,-o".
  std::string_view names;
  /// The name of its value in usage texts; empty for a flag.
  std::string_view value;
  /// Where its value goes (an option with a value).
  std::string options::*text = nullptr;
  /// Where it goes (a flag).
  bool options::*flag = nullptr;
};

/// Every option but --timeout (a number of seconds) and --help (CLI11's own). An option that some
/// command lists is a command option: the other commands refuse it. The rest go with any command.
constexpr std::array<option_spec, 20> option_specs{{
  // Where to talk to.
  {"--url", "URL", &options::url},
  {"--ca-file", "FILE", &options::ca_file},
  {"--token", "TOKEN", &options::token},
  {"--cluster", "DIR", &options::cluster_dir},
  {"--as", "NODE[:ROLE]", &options::as},
  // How the answer is told.
  {"--json", "", nullptr, &options::json},
  {"--verbose", "", nullptr, &options::verbose},
  // The agreement: a signature, a decision, a cancellation, an override, a watch.
  {"--signatory", "N", &options::signatory},
  {"--document", "FILE", &options::document},
  {"--media-type", "TYPE", &options::media_type},
  {"--peer", "NAME", &options::peer},
  {"--reason", "TEXT", &options::reason},
  {"--member", "NAME", &options::member},
  {"--until", "STATUS", &options::until},
  // A person's key and data.
  {"--input", "KEY", &options::input},
  {"--output", "KEY", &options::output},
  {"--name", "NAME", &options::name},
  {"--out,-o", "FILE", &options::out},
  {"--passphrase-file", "FILE", &options::passphrase_file},
  {"--key", "FILE", &options::key},
}};

/// "out" of "--out,-o".
std::string_view long_name(const option_spec& o) {
  return o.names.substr(2, o.names.find(',') - 2);
}

/// True if command `c` takes the command option `name`.
bool takes(const command& c, std::string_view name) {
  return std::find(c.options.begin(), c.options.end(), name) != c.options.end();
}

/// True if some command lists the option `name`, so that the others refuse it.
bool is_command_option(std::string_view name) {
  return std::any_of(commands().begin(), commands().end(),
                     [&](const command& c) { return takes(c, name); });
}

/// The time limit of --timeout SECONDS: more than 0, at most 86400 seconds, fractions allowed.
std::optional<std::chrono::milliseconds> timeout_of(const std::string& value) {
  double seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc{} || end != value.data() + value.size() || !std::isfinite(seconds)
      || seconds <= 0 || seconds > 86400)
    return std::nullopt;
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::ceil(seconds * 1000))};
}

// -- the CLI11 application --

/// Adds a positional to `app` that takes every word beyond its named ones: words a command (or
/// the client) then refuses with its own message.
void add_other_words(CLI::App& app) {
  app.add_option("WORDS")->expected(0, -1)->allow_extra_args();
}

/// CLI11's check that the value of option `name` ("--url") is not empty, in this client's words.
CLI::Validator not_empty(std::string_view name) {
  auto check = [message = "option " + std::string{name} + " needs a value"](const std::string& value) {
    return value.empty() ? message : std::string{};
  };
  return CLI::Validator{check, ""};
}

/// CLI11's check of --timeout's value (timeout_of), in this client's words.
CLI::Validator seconds() {
  auto check = [](const std::string& value) {
    return timeout_of(value) ? std::string{}
                             : "--timeout wants a number of seconds between 0 and 86400, not '"
                                 + printable(value) + "'";
  };
  return CLI::Validator{check, ""};
}

/// Adds every option to the top level of `app`, so that it may stand anywhere on the line (the
/// subcommands fall through to it); the values go to `opts`.
void add_options(CLI::App& app, options& opts) {
  for (const auto& o : option_specs) {
    const auto name = "--" + std::string{long_name(o)};
    if (o.flag != nullptr)
      app.add_flag(std::string{o.names}, opts.*o.flag);
    else
      app.add_option(std::string{o.names}, opts.*o.text)
        ->type_name(std::string{o.value})
        ->check(not_empty(name));
  }
  auto set_timeout = [&opts](const std::string& value) {
    opts.timeout = *timeout_of(value);
    opts.timeout_given = true;
  };
  app.add_option_function<std::string>("--timeout", set_timeout)
    ->type_name("SECONDS")
    ->check(seconds());
}

/// Adds a subcommand per command word to `app`, a group's ("cta") holding its commands; a
/// command's positionals are its arguments.
void add_commands(CLI::App& app) {
  std::map<std::string_view, CLI::App*> groups;
  for (const auto& c : commands()) {
    auto* parent = &app;
    auto word = c.name;
    if (const auto space = c.name.find(' '); space != std::string_view::npos) {
      auto& group = groups[c.name.substr(0, space)];
      if (group == nullptr) {
        group = app.add_subcommand(std::string{c.name.substr(0, space)});
        add_other_words(*group);
      }
      parent = group;
      word = c.name.substr(space + 1);
    }
    auto* sub = parent->add_subcommand(std::string{word});
    for (auto argument : c.arguments)
      sub->add_option(std::string{argument});
    add_other_words(*sub);
  }
}

/// The command line as CLI11 parses it, built from the tables. Values go to `opts`.
std::unique_ptr<CLI::App> make_app(options& opts) {
  auto app = std::make_unique<CLI::App>("", "joconde");
  // As getopt: the last of a repeated option wins.
  app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app->fallthrough();
  // Inherited: once a command's words are read, a later word is an argument, never a command.
  app->require_subcommand(0, 1);
  add_options(*app, opts);
  add_other_words(*app);
  add_commands(*app);
  return app;
}

/// The words of the parsed command line in their order: the top level's positionals, then per
/// subcommand given its name and its positionals.
std::vector<std::string> words_of(const CLI::App& app) {
  std::vector<std::string> words;
  for (const auto* level = &app;;) {
    const auto positionals = level->get_options([](const CLI::Option* o) { return o->get_positional(); });
    for (const auto* o : positionals)
      words.insert(words.end(), o->results().begin(), o->results().end());
    const auto subs = level->get_subcommands();
    if (subs.empty())
      return words;
    level = subs.front();
    words.push_back(level->get_name());
  }
}

// -- errors in this client's words --

error unknown_option(const std::string& word) {
  const auto name = word.substr(0, word.find('='));
  return fail(errc::invalid_config, "unknown option '" + printable(name) + "'");
}

/// CLI11 reads `--reason=` as `--reason` and takes the next word as the value, and `--json=yes` as
/// setting the flag; this client takes an inline value as it is, so it refuses both (an empty value,
/// a value for a flag). The first such option before `--`; the values of options are skipped.
std::optional<error> inline_value_error(const std::vector<std::string>& args, const CLI::App& app) {
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--")
      break;
    const auto name = arg.substr(0, arg.find('='));
    const auto* opt = arg.size() > 1 && arg[0] == '-' ? app.get_option_no_throw(name) : nullptr;
    if (opt == nullptr)
      continue;
    const bool flag = opt->get_items_expected_max() == 0;
    if (name.size() == arg.size())
      i += flag ? 0 : 1;
    else if (flag)
      return fail(errc::invalid_config, "option " + name + " takes no value");
    else if (name.size() + 1 == arg.size())
      return fail(errc::invalid_config, "option " + name + " needs a value");
  }
  return std::nullopt;
}

/// What a CLI11 parse error says, in this client's words, which its users and tests know:
/// "unknown option '--x'", "option --url needs a value", or the message of a value's check.
error parse_error(const CLI::App& app, const CLI::ParseError& e) {
  const std::string what = e.what();
  const auto colon = what.find(": ");
  if (const auto unknown = app.remaining(true);
      dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr && !unknown.empty())
    return unknown_option(unknown.front());
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr && colon != std::string::npos)
    return fail(errc::invalid_config, "option " + what.substr(0, colon) + " needs a value");
  // CLI11 puts the option's name before the check's message, which names it already.
  if (dynamic_cast<const CLI::ValidationError*>(&e) != nullptr && colon != std::string::npos)
    return fail(errc::invalid_config, what.substr(colon + 2));
  return fail(errc::invalid_config, what);
}

// -- commands --

/// The command that `words` start with (its name's one or two words), or nullptr.
const command* find_command(const std::vector<std::string>& words) {
  for (const auto& c : commands()) {
    const bool two_words = c.name.find(' ') != std::string_view::npos;
    if (two_words ? words.size() >= 2 && c.name == words[0] + " " + words[1]
                  : !words.empty() && c.name == words[0])
      return &c;
  }
  return nullptr;
}

/// True if `word` is the first word of commands' names, like "cta".
bool is_group(std::string_view word) {
  return !word.empty() && std::any_of(commands().begin(), commands().end(), [&](const command& c) {
    return c.name.size() > word.size() && c.name.substr(0, word.size()) == word
           && c.name[word.size()] == ' ';
  });
}

error unknown_command(const std::string& word) {
  return fail(errc::invalid_config, "unknown command '" + printable(word) + "'; see joconde --help");
}

/// "an argument", "two arguments", ...
std::string arguments_count(size_t n) {
  static constexpr std::array<std::string_view, 4> counts{"no arguments", "an argument",
                                                          "two arguments", "three arguments"};
  return n < counts.size() ? std::string{counts[n]} : std::to_string(n) + " arguments";
}

// -- usage texts --

constexpr std::string_view general_head = R"(usage: joconde [OPTIONS] COMMAND [ARGS]

A client for one JOCONDE Service Node's API (JSON over HTTP with a bearer token).

Commands:
)";

constexpr std::string_view general_options = R"(
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
)";

constexpr std::string_view general_tail = R"(
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

/// Where every usage text but the general one ends.
constexpr std::string_view see_general = "\nOptions, where to talk to, exit codes: joconde --help\n";

/// Appends a line of a list in a usage text: `left`, then `text` from the column `column` (on the
/// next line when `left` is too wide), each further line of `text` indented to that column.
void list_entry(std::string& out, std::string_view left, std::string_view text,
                size_t column = 23) {
  out += "  ";
  out += left;
  out += left.size() + 2 > column ? "\n" + std::string(column + 2, ' ')
                                  : std::string(column - left.size(), ' ');
  for (size_t start = 0;;) {
    const auto end = text.find('\n', start);
    out += text.substr(start, end - start);
    out += "\n";
    if (end == std::string_view::npos)
      return;
    out += std::string(column + 2, ' ');
    start = end + 1;
  }
}

/// Appends command `c` as the lists of commands show it: its name and synopsis, then its summary.
void list_command(std::string& out, const command& c) {
  auto left = std::string{c.name};
  if (!c.synopsis.empty())
    left += " " + std::string{c.synopsis};
  list_entry(out, left, c.summary);
}

/// The usage text of `joconde --help`.
std::string general_usage() {
  std::string out{general_head};
  for (const auto& c : commands())
    list_command(out, c);
  list_entry(out, "help [COMMAND]", "this text, or a command's (also: joconde COMMAND --help)");
  out += general_options;
  for (const auto& o : option_specs) {
    if (!is_command_option(long_name(o)))
      continue;
    std::string left;
    for (size_t start = 0; start != std::string_view::npos;) {
      const auto comma = o.names.find(',', start);
      left += (left.empty() ? "" : ", ") + std::string{o.names.substr(start, comma - start)} + " "
              + std::string{o.value};
      start = comma == std::string_view::npos ? comma : comma + 1;
    }
    std::string used_by;
    for (const auto& c : commands())
      if (takes(c, long_name(o)))
        used_by += (used_by.empty() ? "" : ", ") + std::string{c.name};
    list_entry(out, left, used_by, 25);
  }
  out += general_tail;
  return out;
}

/// The usage text of a group of commands, like `joconde cta --help`.
std::string group_usage(std::string_view group) {
  std::string out = "usage: joconde " + std::string{group} + " SUB-COMMAND [ARGS] [--json]\n\n";
  for (const auto& c : commands())
    if (c.name.substr(0, c.name.find(' ')) == group)
      list_command(out, c);
  return out + std::string{see_general};
}

/// The usage text of `joconde NAME --help`.
std::string command_usage(const command& c) {
  std::string out = "usage: joconde " + std::string{c.name};
  if (!c.synopsis.empty())
    out += " " + std::string{c.synopsis};
  return out + " [--json]\n\n" + std::string{c.help} + std::string{see_general};
}

} // namespace

result<options> parse_options(const std::vector<std::string>& args) {
  options opts;
  auto app = make_app(opts);
  if (auto e = inline_value_error(args, *app))
    return std::move(*e);
  std::vector<std::string> last_first{args.rbegin(), args.rend()};  // as CLI11 takes them
  try {
    app->parse(last_first);
  } catch (const CLI::CallForHelp&) {
    // CLI11 stops at --help before it looks for unknown options; they are still refused.
    if (const auto unknown = app->remaining(true); !unknown.empty())
      return unknown_option(unknown.front());
    opts.help = true;
  } catch (const CLI::ParseError& e) {
    return parse_error(*app, e);
  }
  opts.words = words_of(*app);
  return opts;
}

result<const command*> resolve_command(const std::vector<std::string>& words, const options& opts) {
  const auto* c = find_command(words);
  if (c == nullptr && !is_group(words.front()))
    return unknown_command(words.front());
  if (c == nullptr) {
    const auto& group = words.front();
    return usage_error(group, words.size() == 1 ? group + " needs a sub-command"
                                                : "unknown " + group + " sub-command '"
                                                    + printable(words[1]) + "'");
  }
  const std::string name{c->name};
  const auto given = words.size() - 1 - std::count(name.begin(), name.end(), ' ');
  const auto wanted = c->arguments.size();
  if (given != wanted)
    return usage_error(name, given < wanted ? name + " needs " + arguments_count(wanted)
                                            : name + " takes no more arguments");
  for (const auto& o : option_specs)
    if (o.text != nullptr && !(opts.*o.text).empty() && is_command_option(long_name(o))
        && !takes(*c, long_name(o)))
      return usage_error(name, "option --" + std::string{long_name(o)} + " does not apply to "
                                 + name);
  return c;
}

result<std::string> help_for(const std::vector<std::string>& words) {
  if (words.empty())
    return general_usage();
  if (const auto* c = find_command(words))
    return command_usage(*c);
  if (is_group(words.front()))
    return group_usage(words.front());
  return unknown_command(words.front());
}

std::string usage(std::string_view command) {
  for (const auto& c : commands())
    if (c.name == command)
      return command_usage(c);
  return is_group(command) ? group_usage(command) : general_usage();
}

} // namespace joconde::cli
