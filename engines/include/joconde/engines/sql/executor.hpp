#pragma once

// Runs a compiled program on one party's backend. The same code runs on the reference engine (clear
// values) and on every MPC backend: it only calls backend and kernel operations.

#include "joconde/engines/backend.hpp"
#include "joconde/engines/sql/compiler.hpp"

#include <map>
#include <set>
#include <string>

namespace joconde::engines::sql {

/// What a run produced at this party.
struct run_result {
  std::map<std::string, secret_table> outputs;  ///< this party's shares of each output, by name
  std::map<std::string, bool> quality;          ///< data-quality verdicts (revealed), by input name
};

/// Which part of a program a run does (spec §4.4.1.1: the data-quality check of an input runs when
/// its upload completes, the main algorithm once every input is in).
struct run_scope {
  /// Non-empty: only the data-quality check of this input runs (`inputs` need hold only it); the
  /// result has its verdict and no outputs. A name with no check gives an empty result.
  std::string check_only;
  /// The inputs whose data-quality checks passed already (at upload): not run again.
  std::set<std::string> checked;
};

/// Runs the data-quality checks (those `scope` leaves), then, if every check passed, the main
/// algorithm (unless `scope.check_only`). `inputs` holds this party's shares of every input table by
/// name, columns in schema order; their `valid` flags are ignored: every uploaded row counts (the row
/// count of an input is public). Throws engine_failure on a protocol failure or if the inputs do not
/// match the program's schemas (row count over max_rows, missing table, wrong column count or
/// lengths).
run_result run(const program& prog, backend& b, const std::map<std::string, secret_table>& inputs,
               const run_scope& scope = {});

} // namespace joconde::engines::sql
