#pragma once

// Files and commands in tests: read and write whole files, split text and files into lines, a fresh
// temporary directory, and a shell command's exit status and output. Header-only and without CAF, so that unit, actor and integration tests and
// benchmarks can all use it.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace joconde::test {

/// The bytes of `file`; empty when it cannot be read.
inline std::string read_all(const std::filesystem::path& file) {
  std::ifstream in{file, std::ios::binary};
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// Writes (or replaces) `file` with `text`.
inline void write_all(const std::filesystem::path& file, const std::string& text) {
  std::ofstream{file, std::ios::binary | std::ios::trunc} << text;
}

/// The lines of `text`, without their newlines.
inline std::vector<std::string> lines_in(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

/// The lines of `file`, without their newlines; none when it cannot be read.
inline std::vector<std::string> file_lines(const std::filesystem::path& file) { return lines_in(read_all(file)); }

/// A new, empty directory joconde-NAME-PID under the temporary directory (an old one is removed).
inline std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("joconde-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// A fresh directory (as fresh_dir makes it), removed with all it holds when the object goes.
struct scoped_dir {
  std::filesystem::path path;

  explicit scoped_dir(const std::string& name) : path{fresh_dir(name)} {}
  scoped_dir(const scoped_dir&) = delete;
  scoped_dir& operator=(const scoped_dir&) = delete;
  ~scoped_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

/// Runs `command` with the shell: its exit status (-1 if it did not exit) and its standard output
/// (add " 2>&1" to the command for both streams).
inline std::pair<int, std::string> run_capture(const std::string& command) {
  auto* p = ::popen(command.c_str(), "r");
  if (p == nullptr)
    return {-1, {}};
  std::string out;
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  auto status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

} // namespace joconde::test
