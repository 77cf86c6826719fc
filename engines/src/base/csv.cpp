// parse_csv and format_csv: RFC 4180 fields over a string_view, one pass, no allocation per field
// except for quoted fields holding a doubled quote.

#include "joconde/engines/csv.hpp"
#include "joconde/messages/text.hpp"

#include <algorithm>
#include <cstring>

namespace joconde::engines {

namespace {

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

/// How a field ended.
enum class field_end { comma, line_end, text_end };

/// One field: its text (a view into the file, or into the reader's scratch buffer for a quoted
/// field with "" escapes, valid until the next field) and the physical line it starts on.
struct field {
  std::string_view text;
  field_end end = field_end::text_end;
  std::size_t line = 1;
};

/// "id,region,age", for messages.
std::string header_of(const table_schema& schema) {
  std::string s;
  for (const auto& c : schema.columns)
    s += (s.empty() ? "" : ",") + c.name;
  return s;
}

/// Splits a file into fields, counting physical lines.
class field_reader {
public:
  explicit field_reader(std::string_view text) : text_(text) {
    // nop
  }

  bool at_end() const noexcept { return pos_ >= text_.size(); }
  std::size_t line() const noexcept { return line_; }

  /// Whether the cursor stands on a line end (LF or CRLF), i.e. at an empty line.
  bool at_line_end() const noexcept {
    return pos_ < text_.size()
           && (text_[pos_] == '\n'
               || (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n'));
  }

  /// Whether everything from the cursor on is line ends.
  bool only_line_ends_left() const noexcept {
    return std::all_of(text_.begin() + static_cast<std::ptrdiff_t>(pos_), text_.end(),
                       [](char c) { return c == '\n' || c == '\r'; });
  }

  /// Reads the field at the cursor; on a syntax error returns false and sets `why`.
  bool next(field& f, std::string& why) {
    f.line = line_;
    if (pos_ < text_.size() && text_[pos_] == '"') {
      if (!quoted(f, why))
        return false;
    } else {
      const auto start = pos_;
      while (pos_ < text_.size()) {
        const char c = text_[pos_];
        if (c == ',' || c == '\n' || c == '\r' || c == '"')
          break;
        ++pos_;
      }
      if (pos_ < text_.size() && text_[pos_] == '"') {
        why = "a double quote inside an unquoted field; enclose the whole field in double quotes "
              "and write the quote twice (\"\")";
        return false;
      }
      f.text = text_.substr(start, pos_ - start);
    }
    if (f.text.find('\0') != std::string_view::npos) {
      why = "a NUL byte (0x00); a CSV file is text: save it as UTF-8 text";
      return false;
    }
    return terminator(f, why);
  }

private:
  bool quoted(field& f, std::string& why) {
    ++pos_;
    std::size_t start = pos_;
    bool escaped = false;
    for (;;) {
      auto q = text_.find('"', pos_);
      if (q == std::string_view::npos) {
        why = "the quoted field is not closed: a double quote is missing";
        return false;
      }
      line_ += static_cast<std::size_t>(
        std::count(text_.begin() + static_cast<std::ptrdiff_t>(pos_),
                   text_.begin() + static_cast<std::ptrdiff_t>(q), '\n'));
      if (q + 1 < text_.size() && text_[q + 1] == '"') {
        if (!escaped)
          scratch_.clear();
        escaped = true;
        scratch_.append(text_.substr(start, q + 1 - start));
        pos_ = q + 2;
        start = pos_;
        continue;
      }
      if (escaped) {
        scratch_.append(text_.substr(start, q - start));
        f.text = scratch_;
      } else {
        f.text = text_.substr(start, q - start);
      }
      pos_ = q + 1;
      if (pos_ < text_.size() && text_[pos_] != ',' && !at_line_end()) {
        why = "a closing double quote must be followed by a comma or the end of the line";
        return false;
      }
      return true;
    }
  }

  bool terminator(field& f, std::string& why) {
    if (pos_ >= text_.size()) {
      f.end = field_end::text_end;
      return true;
    }
    const char c = text_[pos_];
    if (c == ',') {
      ++pos_;
      f.end = field_end::comma;
      return true;
    }
    if (c == '\n' || (c == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n')) {
      pos_ += c == '\n' ? 1 : 2;
      ++line_;
      f.end = field_end::line_end;
      return true;
    }
    why = "a carriage return not followed by a line feed; end lines with LF or CRLF";
    return false;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  std::string scratch_;
};

error at(std::size_t line, std::size_t column, const column_schema* col, const std::string& why) {
  std::string where = "line " + std::to_string(line) + ", column " + std::to_string(column);
  if (col != nullptr)
    where += " (" + col->name + ")";
  return fail(errc::malformed_input, where + ": " + why);
}

error at_line(std::size_t line, const std::string& why) {
  return fail(errc::malformed_input, "line " + std::to_string(line) + ": " + why);
}

/// Checks the header line against the schema's column names. The messages say what is expected,
/// never what was found: a file that lacks its header has a data record there.
result<void> read_header(field_reader& in, const table_schema& schema) {
  const auto expected = header_of(schema);
  if (in.at_end() || in.at_line_end())
    return at_line(1, "the first line must be the header " + expected + ", found "
                        + (in.at_end() ? "an empty file" : "an empty line"));
  const auto& cols = schema.columns;
  field f;
  std::string why;
  for (std::size_t i = 0;; ++i) {
    if (!in.next(f, why))
      return at(f.line, i + 1, nullptr, why);
    auto name = text::trim(f.text);
    if (i >= cols.size())
      return at(f.line, i + 1, nullptr, "the header has an extra column; it must be " + expected);
    if (name != cols[i].name)
      return at(f.line, i + 1, nullptr,
                "the header must name `" + cols[i].name + "` here; it must be " + expected
                  + " (is the header line missing?)");
    if (f.end != field_end::comma) {
      if (i + 1 < cols.size())
        return at_line(f.line, "the header lacks column `" + cols[i + 1].name
                                 + "`; it must be " + expected);
      return ok();
    }
  }
}

/// The reason of an encode_value error without its "column `name`: " prefix (the caller names
/// the column itself).
std::string reason_of(const column_schema& col, std::string message) {
  const auto prefix = "column `" + col.name + "`: ";
  if (message.rfind(prefix, 0) == 0)
    message.erase(0, prefix.size());
  return message;
}

bool needs_quotes(std::string_view s) {
  return s.find_first_of(",\"\r\n") != std::string_view::npos;
}

void append_field(std::string& out, std::string_view s) {
  if (!needs_quotes(s)) {
    out.append(s);
    return;
  }
  out.push_back('"');
  for (char c : s) {
    if (c == '"')
      out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

} // namespace

result<csv_table> parse_csv(std::string_view text, const table_schema& schema, header_only empty) {
  if (text.substr(0, utf8_bom.size()) == utf8_bom)
    text.remove_prefix(utf8_bom.size());
  const auto& cols = schema.columns;
  if (cols.empty())
    return fail(errc::malformed_input, "table `" + schema.name + "` has no columns");
  field_reader in{text};
  if (auto r = read_header(in, schema); !r)
    return r.err();

  csv_table t;
  t.columns.resize(cols.size());
  // One row per line end is an upper bound for ordinary files (quoted line breaks aside).
  const auto lines = static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  const auto reserve = static_cast<std::size_t>(std::min(lines, schema.max_rows));
  for (auto& c : t.columns)
    c.reserve(reserve);
  t.lines.reserve(reserve);

  field f;
  std::string why;
  while (!in.at_end()) {
    const auto line = in.line();
    if (in.at_line_end()) {
      if (in.only_line_ends_left())
        break;
      return at_line(line, "empty line; only the end of the file may have empty lines");
    }
    if (t.rows >= schema.max_rows)
      return fail(errc::too_large, "line " + std::to_string(line) + ": more than "
                                     + std::to_string(schema.max_rows) + " rows; `" + schema.name
                                     + "` accepts at most " + std::to_string(schema.max_rows));
    for (std::size_t c = 0; c < cols.size(); ++c) {
      if (!in.next(f, why))
        return at(f.line, c + 1, &cols[c], why);
      auto v = encode_value(cols[c], f.text);
      if (!v)
        return at(f.line, c + 1, &cols[c], reason_of(cols[c], std::move(v).err().message));
      t.columns[c].push_back(*v);
      const bool last = c + 1 == cols.size();
      if (!last && f.end != field_end::comma)
        return at_line(line, std::to_string(c + 1) + " field" + (c == 0 ? "" : "s") + ", expected "
                               + std::to_string(cols.size()) + ": `" + cols[c + 1].name
                               + "` is missing");
      if (last && f.end == field_end::comma)
        return at(f.line, c + 2, nullptr, "more than " + std::to_string(cols.size())
                                            + " fields; the header has " + header_of(schema));
    }
    t.lines.push_back(line);
    ++t.rows;
  }
  if (t.rows == 0 && empty == header_only::refused)
    return fail(errc::malformed_input, "the file has a header but no data rows; `" + schema.name
                                         + "` needs at least one record");
  return t;
}

result<void> check_unique(const csv_table& table, const table_schema& schema, std::string_view column) {
  const column_schema* col = schema.find(column);
  if (col == nullptr)
    return fail(errc::invalid_state, "`" + schema.name + "` has no column `" + std::string{column} + "`");
  const auto c = static_cast<std::size_t>(col - schema.columns.data());
  const auto& values = table.columns[c];
  // Rows in order of their value, then of their position: a repeated value shows as neighbours,
  // and the first pair found names the earliest repeat of that value.
  std::vector<std::size_t> order(table.rows);
  for (std::size_t r = 0; r < order.size(); ++r)
    order[r] = r;
  std::sort(order.begin(), order.end(),
            [&](std::size_t x, std::size_t y) { return values[x] != values[y] ? values[x] < values[y] : x < y; });
  std::size_t first = table.rows;
  std::size_t second = table.rows;
  for (std::size_t i = 1; i < order.size(); ++i)
    if (values[order[i]] == values[order[i - 1]] && (first == table.rows || order[i - 1] < first)) {
      first = order[i - 1];
      second = order[i];
    }
  if (first == table.rows)
    return ok();
  auto line = [&](std::size_t r) { return r < table.lines.size() ? table.lines[r] : r + 2; };
  return fail(errc::malformed_input,
              "lines " + std::to_string(line(first)) + " and " + std::to_string(line(second)) + ", column "
                + std::to_string(c + 1) + " (" + col->name + "): the same value twice; `" + col->name
                + "` must be unique in `" + schema.name + "` (each of its values on one row only: "
                + (col->unique ? "it is declared UNIQUE" : "it is a join key that must be unique")
                + "): remove or merge the repeated rows");
}

namespace {

std::string write_csv(const table_schema& schema, const std::vector<std::vector<word>>& columns,
                      std::size_t rows, std::span<const unsigned> words, const output_flags* flags) {
  std::string out;
  out.reserve((schema.columns.size() * 12 + 1) * (rows + 1));
  for (std::size_t c = 0; c < schema.columns.size(); ++c) {
    if (c > 0)
      out.push_back(',');
    append_field(out, schema.columns[c].name);
  }
  if (flags != nullptr)
    out += ",CONF_STATUS,CONF_RULE";
  out.push_back('\n');
  // Where each schema column's words start among `columns`.
  std::vector<std::size_t> first(schema.columns.size());
  std::size_t published_at = 0;  // the published codes follow the last word
  for (std::size_t c = 0; c < first.size(); ++c) {
    first[c] = published_at;
    published_at += c < words.size() ? words[c] : 1;
  }
  for (std::size_t r = 0; r < rows; ++r) {
    const auto code = flags != nullptr ? columns.at(published_at)[r] : word{1};
    const bool withheld = code != 1;
    for (std::size_t c = 0; c < schema.columns.size(); ++c) {
      if (c > 0)
        out.push_back(',');
      if (withheld && !(c < flags->shown.size() && flags->shown[c]))
        continue;  // an empty field
      const auto& col = schema.columns[c];
      const auto at = first[c];
      append_field(out, c < words.size() && words[c] == wide_words
                          ? decode_wide(col, columns[at][r], columns[at + 1][r], columns[at + 2][r])
                          : decode_value(col, columns[at][r]));
    }
    if (flags != nullptr) {
      out += !withheld ? ",F," : code == 3 ? ",D," : ",C,";
      if (withheld)
        append_field(out, code == 3 ? flags->secondary_rule : code == 2 ? flags->dominance_rule : flags->rule);
    }
    out.push_back('\n');
  }
  return out;
}

} // namespace

std::string format_csv(const table_schema& schema, const std::vector<std::vector<word>>& columns,
                       std::size_t rows, std::span<const unsigned> words) {
  return write_csv(schema, columns, rows, words, nullptr);
}

std::string format_flagged_csv(const table_schema& schema, const std::vector<std::vector<word>>& columns,
                               std::size_t rows, std::span<const unsigned> words, const output_flags& flags) {
  return write_csv(schema, columns, rows, words, flags.flagged ? &flags : nullptr);
}

} // namespace joconde::engines
