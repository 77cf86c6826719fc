// libFuzzer target: the readable task and CTSA files a statistician writes (actors/cli/task_file*.cpp,
// docs/task-files.md), TOML with SQL `CREATE TABLE` schemas and ISO 8601 deadlines, read by the
// `joconde` client before anything is sent. The first byte picks the reader: even, the task file;
// odd, the CTSA file. Attachments resolve in an empty directory, so a name in the file reads
// nothing. A file that reads must give a CTSC or CTSA that serialises.

#include "fuzz_input.hpp"

#include "cli/task_file.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

/// An empty directory of this process, the base of every attachment path; removed when the
/// process ends.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "joconde-fuzz-task-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      std::abort();
    path = tmpl;
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

const std::filesystem::path& empty_dir() {
  static const scratch_dir dir;
  return dir.path;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  joconde::fuzz::input in{data, size};
  const bool ctsa = (in.byte() & 1) != 0;
  auto text = in.rest();
  // A fixed "now", so that durations give the same deadlines every run.
  constexpr std::int64_t now_ms = 1'800'000'000'000;
  if (ctsa) {
    auto r = joconde::cli::parse_ctsa_file(text, "ctsa.toml", empty_dir());
    if (r) {
      std::string bytes;
      joconde::fuzz::require(r->SerializeToString(&bytes), "a CTSA that reads serialises");
    } else {
      joconde::fuzz::require(r.err().code == joconde::errc::malformed_input || r.err().code == joconde::errc::io_error,
                             "a refusal is malformed_input or io_error");
    }
    return 0;
  }
  auto r = joconde::cli::parse_task_file(text, "task.toml", now_ms, empty_dir());
  if (r) {
    std::string bytes;
    joconde::fuzz::require(r->ctsc.SerializeToString(&bytes), "a CTSC that reads serialises");
  } else {
    // The file's faults say FILE:LINE:COLUMN; only an attachment that cannot be read is io_error.
    joconde::fuzz::require(r.err().code == joconde::errc::malformed_input || r.err().code == joconde::errc::io_error,
                           "a refusal is malformed_input or io_error");
    joconde::fuzz::require(r.err().code != joconde::errc::malformed_input || r.err().message.rfind("task.toml:", 0) == 0,
                           "a fault of the file names the file");
  }
  return 0;
}
