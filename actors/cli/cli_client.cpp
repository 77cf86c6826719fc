#include "cli/cli_client.hpp"
#include "cli/cli_command.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <ostream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace joconde::cli {

namespace fs = std::filesystem;
using nlohmann::json;

// -- running --

environment process_environment() {
  return [](const std::string& name) {
    const char* value = std::getenv(name.c_str());
    return value == nullptr ? std::string{} : std::string{value};
  };
}

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
    auto text = help_for(words);
    if (!text) {
      err << "joconde: " << text.err().describe() << "\n";
      return exit_usage;
    }
    out << *text;
    return exit_ok;
  }
  if (words.empty()) {
    err << usage();
    return exit_usage;
  }
  auto cmd = resolve_command(words, *opts);
  if (!cmd) {
    err << "joconde: " << cmd.err().describe() << "\n";
    return exit_usage;
  }
  const auto& name = (*cmd)->name;
  const auto args_at = words.begin() + 1 + std::count(name.begin(), name.end(), ' ');
  return (*cmd)->handler(invocation{*opts, {args_at, words.end()}, env, out, err});
}

// -- the API call of a command --

int refuse(const invocation& in, const error& e) {
  in.err << "joconde: " << e.describe() << "\n";
  // A task whose algorithm does not compile is invalid, not a usage error; nothing was sent.
  return e.code == errc::compile_error || e.code == errc::unsupported ? exit_invalid : exit_usage;
}

int exchange(const invocation& in, const endpoint& ep, const call& c) {
  const auto what = c.method + " " + c.path;
  if (in.opts.verbose)
    in.err << "joconde: " << what << " at " << ep.url << " (" << ep.source << ")\n";
  in.err << c.notice;
  auto options = client_options_of(ep, in.opts.timeout_given ? in.opts.timeout
                                                             : c.timeout.value_or(in.opts.timeout));
  options.progress = c.progress;
  auto res = http::client::send(ep.url, c.method, c.path, c.body, ep.token, options);
  if (!res) {
    in.err << "joconde: " << res.err().describe() << "\n";
    return exit_code_for_send_error(res.err().code);
  }
  if (in.opts.verbose)
    in.err << "joconde: " << what << ": HTTP " << res->status << ", " << res->body.size()
           << " bytes\n";
  if (res->status < 200 || res->status >= 300) {
    in.err << "joconde: " << describe_http_error(*res) << "\n";
    return exit_code_for_status(res->status);
  }
  auto doc = json::parse(res->body, nullptr, false);
  if (doc.is_discarded()) {
    in.err << "joconde: malformed_input: the node's answer to " << what << " is not JSON\n";
    return exit_server;
  }
  if (in.opts.json) {
    in.out << compact_json(doc) << "\n";
    return exit_ok;
  }
  auto text = c.render(doc);
  if (!text) {
    in.err << "joconde: " << text.err().describe() << " (" << what << ")\n";
    return exit_server;
  }
  in.out << *text;
  return exit_ok;
}

int send(const invocation& in, result<call> c, const before_send& before) {
  if (!c)
    return refuse(in, c.err());
  auto ep = resolve_endpoint(in.opts, in.env);
  if (!ep)
    return refuse(in, ep.err());
  if (before)
    if (auto failed = before(*c, *ep))
      return *failed;
  return exchange(in, *ep, *c);
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

// -- arguments and input files --

error usage_error(std::string_view name, std::string_view what) {
  return fail(errc::invalid_config, std::string{what} + "\n" + usage(name));
}

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

result<std::string> cta_path(std::string_view name, const std::string& uuid) {
  if (uuid.empty() || uuid == "." || uuid == "..")
    return usage_error(name, "'" + printable(uuid) + "' is not a CTA's UUID");
  return "/v1/ctas/" + encode_segment(uuid);
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) <= 0x20; });
}

result<std::string> request_body(const json& body) {
  try {
    return body.dump();
  } catch (const json::type_error&) {
    return fail(errc::invalid_config,
                "a file name, --peer, --member or --reason is not valid UTF-8; JSON cannot carry it");
  }
}

result<std::string> slurp(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return fail(errc::io_error, "cannot read " + path.string());
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

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

result<void> write_new_file(const std::string& path, std::string_view bytes) {
  // Created 0600 and exclusively: no one else may read it, nothing is overwritten.
  auto fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    return fail(errc::io_error, "cannot create " + path + ": " + std::strerror(errno));
  auto written = ::write(fd, bytes.data(), bytes.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(bytes.size()))
    return fail(errc::io_error, "cannot write " + path);
  return ok();
}

} // namespace joconde::cli
