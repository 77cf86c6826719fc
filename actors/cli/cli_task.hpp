#pragma once

// What the `joconde` client does with a CTA task file on its own, before any node is asked: it
// compiles the task's algorithm for its engine (`joconde sql check`) and fills in the disclosures
// the CTSC must state (`joconde cta create`). No CAF, no network.

#include "joconde/messages/result.hpp"

#include <string>
#include <vector>

namespace joconde::cli {

/// What the compiler says about a task's algorithm.
struct task_check {
  std::string engine;                    ///< the engine it compiled for ("rss3")
  std::vector<std::string> features;     ///< language features it uses
  std::vector<std::string> disclosures;  ///< what it reveals beyond its outputs
};

/// Compiles the main algorithm and data-quality checks of the CTA task `task_json` (a CTSC draft
/// as JSON) for its engine. malformed_input (not a CTSC), compile_error (with line:column),
/// unsupported (engine or language) otherwise.
result<task_check> check_task(const std::string& task_json);

/// `task_json` with main_algorithm.disclosures set to the compiler's statements, as the root
/// requires them; the same errors as check_task.
result<std::string> with_disclosures(const std::string& task_json);

} // namespace joconde::cli
