#pragma once

// What the `joconde` client does with a CTA task file on its own, before any node is asked: it
// reads the file in either form (Protobuf JSON, or the readable form of docs/task-files.md), compiles
// the task's algorithm for its engine (`joconde sql check`) and fills in the disclosures the CTSC
// must state (`joconde cta create`). No CAF, no network.

#include "cli/task_file.hpp"

#include "joconde/messages/result.hpp"

#include <cstdint>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

namespace joconde::cli {

/// A task file as the client sends it.
struct task_text {
  std::string file;                    ///< the path it was read from, for errors
  std::string json;                    ///< the CTSC draft in Protobuf's JSON form
  std::optional<readable_task> readable;  ///< set for the readable form: where its SQL starts
};

/// Reads the task file `path`: a JSON object goes as it is; anything else is read as the readable
/// form, its durations counted from `now_ms`, and becomes the CTSC's JSON. io_error, too_large or
/// malformed_input (FILE:LINE:COLUMN and the field).
result<task_text> read_task_file(const std::string& path, std::int64_t now_ms);

/// The task file's `text` as read_task_file reads a file, `name` naming it in errors; the readable
/// form may attach no file (a task sent to a node reads nothing from the node's disk).
result<task_text> read_task_text(std::string_view text, const std::string& name, std::int64_t now_ms);

/// What the compiler says about a task's algorithm.
struct task_check {
  std::string engine;                    ///< the engine it compiled for ("rss3")
  std::vector<std::string> features;     ///< language features it uses
  std::vector<std::string> disclosures;  ///< what it reveals beyond its outputs
  std::vector<std::string> approximate;  ///< output columns written from a fixed-point value
};

/// Compiles the main algorithm and data-quality checks of `task` for its engine. malformed_input
/// (not a CTSC), compile_error (with line:column, in the file's lines for the readable form),
/// unsupported (engine or language) otherwise.
result<task_check> check_task(const task_text& task);

/// The task's JSON with main_algorithm.disclosures set to the compiler's statements, as the root
/// requires them; the same errors as check_task.
result<std::string> with_disclosures(const task_text& task);

/// Reads the CTSA file `path`: a JSON object goes as it is; the readable form becomes the CTSA's
/// JSON, its documents read relative to the file. The errors of read_task_file.
result<std::string> read_ctsa_file(const std::string& path);

/// Milliseconds since the Unix epoch, now: where a readable task's durations count from.
std::int64_t now_ms();

/// The CTSC draft `json` indented for people, keys in the order of the CTSC's fields.
std::string indented_ctsc(const std::string& json);

} // namespace joconde::cli
