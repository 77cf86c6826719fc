// docs/openapi.yaml describes exactly the routes the node's HTTP edge registers (actors/node/http_*.cpp):
// every registered method and path is documented, and nothing documented is missing from the code.

#define BOOST_TEST_MODULE openapi
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in{p};
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << p);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// "METHOD path" of every operation under `paths:` of the OpenAPI document.
std::set<std::string> documented(const std::string& yaml) {
  std::set<std::string> out;
  std::istringstream in{yaml};
  std::string line, path;
  bool in_paths = false;
  static const std::regex path_line{R"(^  (/\S*):\s*$)"};
  static const std::regex method_line{R"(^    (get|put|post|delete|patch|head):)"};
  std::smatch m;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ') {
      in_paths = line.rfind("paths:", 0) == 0;
      continue;
    }
    if (!in_paths)
      continue;
    if (std::regex_match(line, m, path_line)) {
      path = m[1];
    } else if (std::regex_search(line, m, method_line) && !path.empty()) {
      auto method = m[1].str();
      for (auto& c : method)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.insert(method + " " + path);
    }
  }
  return out;
}

/// "METHOD path" of every route the node's HTTP edge registers.
std::set<std::string> registered(const fs::path& dir) {
  std::set<std::string> out;
  static const std::regex route{R"re((?:secured\(\s*server,\s*ctx,|server\.route\()\s*"([A-Z]+)",\s*"([^"]+)")re"};
  for (const auto& e : fs::directory_iterator{dir}) {
    auto name = e.path().filename().string();
    if (name.rfind("http_", 0) != 0 || e.path().extension() != ".cpp")
      continue;
    auto text = read(e.path());
    for (std::sregex_iterator it{text.begin(), text.end(), route}, end; it != end; ++it)
      out.insert((*it)[1].str() + " " + (*it)[2].str());
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_route_is_documented_and_every_documented_route_exists) {
  auto docs = documented(read(fs::path{JOCONDE_SOURCE_DIR} / "docs" / "openapi.yaml"));
  auto code = registered(fs::path{JOCONDE_SOURCE_DIR} / "actors" / "node");
  // The scanners must see something: an empty match on both sides proves nothing.
  BOOST_TEST(code.size() >= 25u);
  BOOST_TEST(code.count("POST /v1/sessions") == 1u);
  BOOST_TEST(code.count("POST /v1/ctas/{uuid}/inputs/{key}") == 1u);
  for (const auto& r : code)
    BOOST_TEST(docs.count(r) == 1u, r << " is registered but not in docs/openapi.yaml");
  for (const auto& d : docs)
    BOOST_TEST(code.count(d) == 1u, d << " is in docs/openapi.yaml but no route registers it");
}
