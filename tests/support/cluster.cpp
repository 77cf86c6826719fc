#include "cluster.hpp"
#include "support/files.hpp"

#include "joconde/runtime/http_client.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace joconde::test {

namespace fs = std::filesystem;

namespace {

using test::read_all;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

} // namespace

cluster::cluster(const std::string& tag, const std::string& up_args) {
  dir_ = fs::temp_directory_path() / ("joconde-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(dir_);
  if (ops(up_args.empty() ? "up" : "up " + up_args) != 0)
    throw std::runtime_error("ops/cluster up failed in " + dir_.string());
  reload();
}

cluster::~cluster() {
  ops("down");
  if (std::getenv("JOCONDE_KEEP_CLUSTER") != nullptr)
    return;
  fs::remove_all(dir_);
  // The ops/cluster log goes with the cluster; when a call failed its end is shown first (CTest
  // keeps a failed test's output).
  const auto log = dir_.string() + ".ops.log";
  if (ops_failed_) {
    auto text = read_all(log);
    std::fprintf(stderr, "-- the end of %s (an ops/cluster call failed):\n%s\n", log.c_str(),
                 text.substr(text.size() > 4096 ? text.size() - 4096 : 0).c_str());
  }
  std::error_code ec;
  fs::remove(log, ec);
}

int cluster::ops(const std::string& args) const {
  auto cmd = "JOCONDE_NODE_BIN=" + shell_quote(std::string{JOCONDE_BINARY_DIR} + "/bin/joconde-node")
             + " " + shell_quote(std::string{JOCONDE_SOURCE_DIR} + "/ops/cluster") + " " + args
             + " --dir " + shell_quote(dir_.string()) + " >> " + shell_quote(dir_.string() + ".ops.log")
             + " 2>&1";
  auto rc = std::system(cmd.c_str());
  auto status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
  ops_failed_ = ops_failed_ || (status != 0 && args != "down");
  return status;
}

void cluster::reload() {
  doc_ = nlohmann::json::parse(read_all(dir_ / "cluster.json"));
}

nlohmann::json cluster::node(const std::string& name) const {
  for (const auto& n : doc_["nodes"])
    if (n["name"] == name)
      return n;
  throw std::runtime_error("no node " + name + " in cluster.json");
}

std::string cluster::vm_remains(const std::string& cp, const std::string& uuid, std::chrono::seconds limit) const {
  auto dir = data_dir(cp);
  std::vector<std::string> left;
  wait_until(
    [&] {
      left.clear();
      if (auto pid = vm_pid(cp, uuid); pid != 0)
        left.push_back("its VM process " + std::to_string(pid) + " runs");
      if (fs::exists(dir / "ct" / uuid))
        left.push_back("ct/" + uuid + " exists");
      if (!fs::exists(dir / "ct-logs" / (uuid + "-" + cp + ".log")))
        left.push_back("no archived log ct-logs/" + uuid + "-" + cp + ".log");
      if (auto n = count_lines_with_all(dir / "audit.log", {"event=\"ct.vm.erased\"", uuid, "record=\""}); n != 1)
        left.push_back(std::to_string(n) + " erasure records in audit.log (not 1)");
      return left.empty();
    },
    limit);
  std::string out;
  for (const auto& what : left)
    out += (out.empty() ? "" : "; ") + what;
  return out;
}

fs::path cluster::data_dir(const std::string& name) const {
  return node(name)["data_dir"].get<std::string>();
}

std::pair<int, nlohmann::json> cluster::call(const std::string& name, const std::string& method,
                                             const std::string& path, const nlohmann::json& body) const {
  auto n = node(name);
  auto token = read_all(n["admin_token_file"].get<std::string>());
  token = token.substr(0, token.find('\n'));
  return call_as(name, {}, method, path, body, token);
}

std::pair<int, nlohmann::json> cluster::call_as(const std::string& name, const std::string& role,
                                                const std::string& method, const std::string& path,
                                                const nlohmann::json& body,
                                                const std::string& given_token) const {
  auto n = node(name);
  auto token = role.empty() ? given_token : n["users"][role]["token"].get<std::string>();
  http::client_options options;
  options.ca_file = n["root_ca"].get<std::string>(); // the node's HTTPS certificate chains to it
  options.timeout = std::chrono::seconds{60};         // beyond the node's own 30 s waits
  auto res = http::client::send(n["http_url"].get<std::string>(), method, path,
                                body.is_null() ? std::string{} : body.dump(), token, options);
  if (!res)
    return {0, nlohmann::json{{"error", res.err().describe()}}};
  auto doc = nlohmann::json::parse(res->body, nullptr, false);
  return {res->status, doc.is_discarded() ? nlohmann::json{{"raw", res->body}} : doc};
}

std::set<std::string> cluster::inbox_ids(const std::string& name, const std::string& topic) const {
  auto [status, doc] = call(name, "GET", "/v1/inbox?topic=" + topic);
  std::set<std::string> ids;
  if (status == 200 && doc.contains("entries"))
    for (const auto& e : doc["entries"])
      ids.insert(e.value("id", std::string{}));
  return ids;
}

pid_t cluster::vm_pid(const std::string& cp, const std::string& uuid) const {
  auto needle = (data_dir(cp) / "").string();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator{"/proc", ec}) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in{entry.path() / "cmdline", std::ios::binary};
    std::string args{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    if (args.rfind("joconde-vm", 0) == 0 && args.find(needle) != std::string::npos
        && args.find(uuid) != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return 0;
}

std::string cluster::metrics(const std::string& name) const {
  auto res = http::client::send(node(name)["metrics_url"].get<std::string>(), "GET", "/metrics", {},
                                {}, std::chrono::seconds{5});
  return res ? res->body : std::string{};
}

double cluster::metric(const std::string& name, const std::string& sample) const {
  std::istringstream in{metrics(name)};
  std::string line;
  double total = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto space = line.rfind(' ');
    auto key = line.substr(0, space);
    // Match the metric name and every label given in `sample`, in any order.
    auto brace = sample.find('{');
    auto metric_name = sample.substr(0, brace);
    if (key.substr(0, key.find('{')) != metric_name)
      continue;
    bool all = true;
    if (brace != std::string::npos) {
      auto labels = sample.substr(brace + 1, sample.size() - brace - 2);
      std::istringstream ls{labels};
      std::string label;
      while (std::getline(ls, label, ','))
        all = all && key.find(label) != std::string::npos;
    }
    if (all)
      total += std::stod(line.substr(space + 1));
  }
  return total;
}

bool cluster::wait_until(const std::function<bool()>& pred, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  return pred();
}

bool any_file_contains(const fs::path& dir, const std::string& needle) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator{dir, ec}; it != fs::recursive_directory_iterator{};
       it.increment(ec)) {
    if (ec || !it->is_regular_file())
      continue;
    if (read_all(it->path()).find(needle) != std::string::npos)
      return true;
  }
  return false;
}

size_t count_lines(const fs::path& file, const std::string& needle) {
  return count_lines_with_all(file, {needle});
}

size_t count_lines_with_all(const fs::path& file, const std::vector<std::string>& needles) {
  std::ifstream in{file};
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    bool all = true;
    for (const auto& needle : needles)
      all = all && line.find(needle) != std::string::npos;
    n += all ? 1 : 0;
  }
  return n;
}

} // namespace joconde::test
