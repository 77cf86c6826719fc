#pragma once

// Runs a compiled program on one party's backend. The same code runs on the reference engine (clear
// values) and on every MPC backend: it only calls backend and kernel operations.

#include "joconde/engines/backend.hpp"
#include "joconde/engines/sql/compiler.hpp"

#include <map>
#include <string>

namespace joconde::engines::sql {

/// What a run produced at this party.
struct run_result {
  std::map<std::string, secret_table> outputs;  ///< this party's shares of each output, by name
  std::map<std::string, bool> quality;          ///< data-quality verdicts (revealed), by input name
};

/// Runs the data-quality checks, then, if every check passed, the main algorithm. `inputs` holds
/// this party's shares of every input table by name, columns in schema order; their `valid` flags
/// are ignored: every uploaded row counts (the row count of an input is public). Throws engine_failure
/// on a protocol failure or if the inputs do not match the program's schemas (row count over
/// max_rows, missing table, wrong column count or lengths).
run_result run(const program& prog, backend& b, const std::map<std::string, secret_table>& inputs);

} // namespace joconde::engines::sql
