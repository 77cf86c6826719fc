#pragma once

// The bridge between an agreement's CTSC (proto, messages/proto/joconde/artefacts.proto) and the
// engines: its schemas as task-language schemas, and the algorithm check that CTSC validation runs
// (DESIGN.md §9: a node refuses a CTSC whose engine it does not have or whose algorithm does not
// compile for it; what the algorithm discloses must be stated in the CTSC for the peers to read
// before they sign).

#include "joconde/artefacts.pb.h"
#include "joconde/engines/schema.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/messages/result.hpp"

#include <cstdint>
#include <string>

namespace joconde::engines {

/// Rows of an input or output whose CTSC sets no max_rows.
inline constexpr std::uint64_t default_max_rows = 1'000'000;

/// The task-language schema of a CTSC input or output: the types map one to one, ranges are parsed
/// in the column's own notation. malformed_input saying what is wrong.
result<table_schema> schema_of(const std::string& key,
                               const google::protobuf::RepeatedPtrField<v1::Column>& columns,
                               std::uint64_t max_rows);

/// Compiles the CTSC's main algorithm and the data-quality checks of its inputs against its
/// schemas. compile_error ("main algorithm: 3:7: ..."), unsupported (wrong language) or
/// malformed_input (a schema) otherwise.
result<sql::program> compile_ctsc(const v1::Ctsc& ctsc);

/// The check CTSC validation runs: the engine exists, the algorithm compiles and the engine can
/// run it, and `main_algorithm.disclosures` states exactly what the compiler says the program
/// discloses (in its order). The error says what to change, quoting the expected statements.
result<void> check_algorithm(const v1::Ctsc& ctsc);

} // namespace joconde::engines
