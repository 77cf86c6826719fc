#pragma once

// CSV files of data slots (spec §4.4.1.2 "Input Specification"): a Data Custodian's node checks an
// uploaded file against the input's schema before anything leaves the node, and says which line and
// column is wrong; a Data Analyst's client writes a rebuilt output table as CSV. RFC 4180: comma
// separator, optional double quotes ("" inside quotes is one quote), CRLF or LF line ends, a header
// line naming the schema's columns in order.

#include "joconde/engines/schema.hpp"

#include <cstddef>
#include <string>
#include <span>
#include <string_view>
#include <vector>

namespace joconde::engines {

/// A table as encoded ring values, one vector per schema column (in schema order).
struct csv_table {
  std::vector<std::vector<word>> columns;
  std::size_t rows = 0;
  std::vector<std::size_t> lines;  ///< the physical line each record starts on (parse_csv fills it)
};

/// What a file with a header and no data rows is.
enum class header_only {
  refused, ///< an error: a custodian's upload of it is a mistake (the default)
  allowed, ///< an empty table (local tools that run a task on files)
};

/// Parses `text` (UTF-8, an optional BOM is skipped) against `schema`: the header must name
/// exactly the schema's columns in order, every record must have one field per column, and each
/// field is encoded with encode_value. Empty lines are refused except at the end; a NUL byte is
/// refused anywhere; zero data rows are refused unless `empty` allows them. Errors:
/// malformed_input "line L, column C (name): reason" (L the 1-based physical line, the header
/// being line 1; C the 1-based column), "line L: ..." for a whole-line problem, "the file has a
/// header but no data rows ..." for a header-only file refused; too_large
/// "line L: more than N rows ..." as soon as a record beyond schema.max_rows starts. No message
/// quotes a field of the file: a refused value is confidential and messages reach logs.
result<csv_table> parse_csv(std::string_view text, const table_schema& schema,
                            header_only empty = header_only::refused);

/// Checks that `column` of `table` (parsed against `schema`) holds no value twice, as a column
/// declared UNIQUE or a join key on a side that must be unique requires. malformed_input "lines L1
/// and L2, column C (name): the same value twice; ..." naming the first two records of the repeated
/// value that occurs first; no value is quoted. O(n log n).
result<void> check_unique(const csv_table& table, const table_schema& schema, std::string_view column);

/// Writes a header line and `rows` records of `columns` (one vector per word of each schema
/// column, each at least `rows` long) with decode_value, or decode_wide for a column of three
/// words (`words[c]` == 3, as sql::program::output_words gives; missing entries are 1); quotes fields
/// holding a comma, quote, CR or LF. LF line ends, including after the last record. The caller
/// drops invalid output rows first.
std::string format_csv(const table_schema& schema, const std::vector<std::vector<word>>& columns,
                       std::size_t rows, std::span<const unsigned> words = {});

/// As format_csv, for an output with a confidentiality rule: `columns` ends with the published
/// codes (1 published, 0 withheld by the minimum-frequency rule, 2 by the dominance rule, 3 by
/// ROLLUP's secondary suppression). Two columns follow the schema's, CONF_STATUS ("F"; "D" for code
/// 3, secondary confidentiality; "C" for any other withheld row) and CONF_RULE (the rule that
/// withheld it, `flags.secondary_rule` for code 3, `flags.dominance_rule` for code 2, else
/// `flags.rule`; empty for a published row); a withheld row keeps its group columns (`flags.shown`)
/// and leaves the others empty.
std::string format_flagged_csv(const table_schema& schema, const std::vector<std::vector<word>>& columns,
                               std::size_t rows, std::span<const unsigned> words, const output_flags& flags);

} // namespace joconde::engines
