#pragma once

// The readable forms of a task file and a CTSA file (docs/task-files.md): TOML with the schemas
// written as SQL `CREATE TABLE` statements, deadlines as ISO 8601 dates or durations, peers by
// name and the algorithm inline. They become the same v1::Ctsc and v1::Ctsa as the Protobuf JSON
// forms, which stay accepted. No CAF, no network: the `joconde` client reads them before it asks a
// node anything.

#include "joconde/artefacts.pb.h"
#include "joconde/messages/result.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::cli {

/// The media type of a document named `file_name` (`cta sign` without --media-type, a readable
/// file's attachment without media_type), from its extension in any case: .pdf, .asice/.sce
/// (ASiC-E), .png, .jpg/.jpeg, .txt, else application/octet-stream.
std::string media_type_for(std::string_view file_name);

/// True when `text` is a JSON object (its first character other than white space is `{`): the
/// Protobuf JSON form. Anything else is read as the readable form, unless its file ends in .json.
bool is_json_form(std::string_view text);

/// Where a piece of SQL starts in its file: its first character's line and column (1-based).
struct source_place {
  std::int64_t line = 1;
  std::int64_t column = 1;
};

/// A task read from its readable form: the CTSC draft and where its SQL texts start, so that the
/// compiler's line:column can be told in the file's own lines.
struct readable_task {
  v1::Ctsc ctsc;
  source_place algorithm;                      ///< the main algorithm's source
  std::map<std::string, source_place> checks;  ///< each input's data-quality check, by input key
};

/// The CTSC draft written in the readable task form. `file` names the file in errors
/// ("task.toml:12:3: ..."); durations count from `now_ms`; attachments are read relative to
/// `base_dir` (empty: the task may name no file). malformed_input (with line:column and the field) or io_error (an attachment).
result<readable_task> parse_task_file(std::string_view text, const std::string& file, std::int64_t now_ms,
                                      const std::filesystem::path& base_dir);

/// A compiler message "L:C: ..." about SQL that starts at `at` in `file`, told as
/// "FILE:L':C': ..." in the file's lines; other messages as they are.
std::string in_file_lines(const std::string& message, const std::string& file, source_place at);

/// The CTSA written in the readable CTSA form, with documents read relative to `base_dir`.
result<v1::Ctsa> parse_ctsa_file(std::string_view text, const std::string& file,
                                 const std::filesystem::path& base_dir);

/// The columns of one `CREATE TABLE name (column type [RANGE [min, max]] [UNIQUE], ...)`
/// statement and its name. With `implied_ranges` (an input's schema) a DECIMAL(p, s) without RANGE
/// gets the range its p digits allow. Errors name the line and column counted from `line` and
/// `column`, the statement's place in its file.
struct table_definition {
  std::string name;
  std::vector<v1::Column> columns;
};
result<table_definition> parse_create_table(std::string_view sql, const std::string& file, std::int64_t line,
                                            std::int64_t column, bool implied_ranges);

/// Milliseconds since the Unix epoch of an ISO 8601 date-time with a zone ("2031-01-01T12:00:00Z",
/// "...+01:00") or a date ("2031-01-01": 00:00 UTC). malformed_input otherwise.
result<std::int64_t> parse_iso_time(std::string_view text);

/// Seconds of an ISO 8601 duration in weeks, days, hours, minutes and seconds ("P7D", "PT12H",
/// "P1W2DT3H"); years and months are refused (their length varies). malformed_input otherwise.
result<std::int64_t> parse_iso_duration(std::string_view text);

/// The commented template `joconde task init` writes: a complete task that `sql check` accepts.
std::string task_template();

/// The commented template `joconde ctsa init` writes.
std::string ctsa_template();

} // namespace joconde::cli
