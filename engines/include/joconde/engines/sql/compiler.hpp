#pragma once

// The task language "joconde-sql/1": a SQL dialect for official statistics (DESIGN.md §9, spec
// §4.3.3.1). A program is compiled against the CTSC's input and output schemas; compilation
// type-checks it, proves from the declared ranges that no intermediate overflows the ring (or
// refuses, saying where) and states everything the program reveals beyond its declared outputs.

#include "joconde/engines/schema.hpp"
#include "joconde/messages/result.hpp"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::engines::sql {

/// The language name and version, as CTSCs carry it (proto Algorithm.language).
inline constexpr std::string_view language = "joconde-sql/1";

struct program_impl;

/// A compiled, checked program: the main algorithm plus the data-quality check of each input that
/// has one. Immutable; cheap to copy.
class program {
public:
  /// The input schemas it was compiled against, in CTSC order.
  const std::vector<table_schema>& inputs() const noexcept;
  /// The output schemas it was compiled against, in CTSC order.
  const std::vector<table_schema>& outputs() const noexcept;
  /// What running it reveals beyond its declared outputs, one plain-English statement each, e.g.
  /// "the data-quality check of `persons` reveals whether it passed". Shown in the CTSC.
  const std::vector<std::string>& disclosures() const noexcept;
  /// The language features it uses (names from all_features()); engines check them in supports().
  const std::vector<std::string>& features() const noexcept;
  /// The output columns ("output.column", in statement and column order) written from a fixed-point
  /// value: a division or statistic inside an expression, or one whose exact form does not fit
  /// (docs/task-language.md §3.1). Each is within its documented bound, then rounded; every other
  /// published value is exact up to its rounding.
  std::vector<std::string> approximate_columns() const;
  /// The columns of input `input` whose values must be distinct among its rows (declared UNIQUE,
  /// or a key of a legacy one-to-one join), in schema order; the custodian's node checks them at
  /// upload (check_unique in csv.hpp).
  std::vector<std::string> unique_columns(std::string_view input) const;

  /// Words per row of each column of output `output`, in schema order (empty for an unknown
  /// name): 1, or 3 (wide_words) for an aggregate beyond the ring, which the run writes
  /// as three columns h, m, l with m and l in [0, 2^32), for the value h 2^64 + m 2^32 + l
  /// (format_csv's `words`). The output's shares carry one column per word, then the valid flags.
  std::vector<unsigned> output_words(std::string_view output) const;

  /// The confidentiality rules of output `output` (format_flagged_csv's `flags`): with HAVING, every
  /// group is a row (with ORDER BY ... LIMIT k, the first k: published groups before withheld ones),
  /// and the run writes one more column after the words, the published code: 1 where the group is
  /// published, 0 where HAVING COUNT(*) >= k withholds it, 2 where DOMINANCE(x, n) <= p does (its
  /// count passing), 3 where GROUP BY ROLLUP's secondary suppression does (the rules pass but a
  /// withheld cell would follow from its margin); a withheld group's values are zeroed, its group
  /// columns kept.
  output_flags confidentiality(std::string_view output) const;

  /// Internal representation, for the executor.
  const program_impl& impl() const noexcept { return *impl_; }

  explicit program(std::shared_ptr<const program_impl> impl) : impl_(std::move(impl)) {
    // nop
  }

private:
  std::shared_ptr<const program_impl> impl_;
};

/// Every language feature name a program can use ("select", "where", "group_by",
/// "group_by.expression" (a GROUP BY key that is a CASE or WIDTH_BUCKET), "group_by.rollup"
/// (GROUP BY ROLLUP: margins and totals, with secondary suppression under HAVING), "join",
/// "join.one_to_many", "join.several", "join.union", "union", "having" (any HAVING rule, and so the
/// published column), "having.dominance" (the dominance rule), "order_by_limit", "case",
/// "width_bucket", "null" (missing values: a column declared NULL read where it may be missing, or
/// IS [NOT] NULL), "aggregate.count", "aggregate.count_distinct", ..., "aggregate.wide" (an
/// aggregate computed beyond the 64-bit ring), "quality_check").
std::vector<std::string> all_features();

/// Compiles `main_source` (writing every output) and, for each input named in `quality_sources`,
/// its data-quality check. compile_error with "line:column: message" (and the check's input name
/// for a data-quality source) for any syntax, type, name, overflow or schema mismatch error;
/// malformed_input if a schema itself is invalid.
result<program> compile(std::string_view main_source, std::vector<table_schema> inputs,
                        std::vector<table_schema> outputs,
                        const std::map<std::string, std::string>& quality_sources = {});

} // namespace joconde::engines::sql
