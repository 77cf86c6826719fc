// The schemas of the readable task form: one SQL `CREATE TABLE` statement per input and output
// (docs/task-files.md §3), read into the columns of a v1::InputSpec or v1::OutputSpec.

#include "cli/task_file.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

namespace joconde::cli {

namespace {

/// The most digits a DECIMAL(p, s) may declare: its values times 10^s stay below 2^63.
constexpr unsigned max_precision = 18;

enum class token_kind { word, number, text, symbol, end };

struct token {
  token_kind kind = token_kind::end;
  std::string text;  ///< the word, the number as written, the string's value or the symbol
  std::int64_t line = 0;
  std::int64_t column = 0;
};

/// Splits the statement into words, numbers, 'strings' and the symbols ( ) [ ] , ; with their
/// places in the file; `--` starts a comment to the end of the line.
class scanner {
public:
  scanner(std::string_view sql, std::string file, std::int64_t line, std::int64_t column)
    : sql_(sql), file_(std::move(file)), line_(line), column_(column) {
    // nop
  }

  result<std::vector<token>> tokens() {
    std::vector<token> out;
    for (;;) {
      skip_space();
      token t;
      t.line = line_;
      t.column = column_;
      if (pos_ == sql_.size()) {
        out.push_back(std::move(t));
        return out;
      }
      char c = sql_[pos_];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        t.kind = token_kind::word;
        while (pos_ < sql_.size() && (std::isalnum(static_cast<unsigned char>(sql_[pos_])) || sql_[pos_] == '_'))
          t.text += take();
      } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.') {
        t.kind = token_kind::number;
        t.text += take();
        // Letters too, so that 1e3 is one token, refused as a number.
        while (pos_ < sql_.size() && (std::isalnum(static_cast<unsigned char>(sql_[pos_])) || sql_[pos_] == '.'))
          t.text += take();
      } else if (c == '\'') {
        t.kind = token_kind::text;
        take();
        for (;;) {
          if (pos_ == sql_.size())
            return fail(errc::malformed_input, where(t) + "a string opened here is never closed (')");
          char d = take();
          if (d == '\'') {
            if (pos_ < sql_.size() && sql_[pos_] == '\'') {
              t.text += take();
              continue;
            }
            break;
          }
          t.text += d;
        }
      } else if (std::string_view{"()[],;"}.find(c) != std::string_view::npos) {
        t.kind = token_kind::symbol;
        t.text += take();
      } else {
        return fail(errc::malformed_input, where(t) + "unexpected character '" + std::string(1, c)
                                             + "' in the CREATE TABLE statement");
      }
      out.push_back(std::move(t));
    }
  }

  std::string where(const token& t) const {
    return file_ + ":" + std::to_string(t.line) + ":" + std::to_string(t.column) + ": ";
  }

private:
  char take() {
    char c = sql_[pos_++];
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    return c;
  }

  void skip_space() {
    while (pos_ < sql_.size()) {
      if (std::isspace(static_cast<unsigned char>(sql_[pos_]))) {
        take();
      } else if (sql_.substr(pos_, 2) == "--") {
        while (pos_ < sql_.size() && sql_[pos_] != '\n')
          take();
      } else {
        return;
      }
    }
  }

  std::string_view sql_;
  std::string file_;
  std::size_t pos_ = 0;
  std::int64_t line_;
  std::int64_t column_;
};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

/// What a token is called in an error: `word`, '(' or the end of the statement.
std::string shown(const token& t) {
  switch (t.kind) {
    case token_kind::end:
      return "the end of the statement";
    case token_kind::text:
      return "the string '" + t.text + "'";
    default:
      return "`" + t.text + "`";
  }
}

/// A signed decimal literal: [-+]digits[.digits].
bool is_decimal_literal(const std::string& s) {
  std::size_t i = s[0] == '-' || s[0] == '+' ? 1 : 0;
  auto point = s.find('.', i);
  auto whole = s.substr(i, point == std::string::npos ? std::string::npos : point - i);
  if (whole.empty() || !std::all_of(whole.begin(), whole.end(), [](unsigned char c) { return std::isdigit(c); }))
    return false;
  if (point == std::string::npos)
    return true;
  auto frac = s.substr(point + 1);
  return !frac.empty() && std::all_of(frac.begin(), frac.end(), [](unsigned char c) { return std::isdigit(c); });
}

class table_parser {
public:
  table_parser(std::vector<token> tokens, const scanner& sc, bool implied_ranges)
    : tokens_(std::move(tokens)), sc_(sc), implied_ranges_(implied_ranges) {
    // nop
  }

  result<table_definition> statement() {
    if (auto r = keyword("CREATE", "a schema is one `CREATE TABLE name (column TYPE, ...)` statement"); !r)
      return r.err();
    if (auto r = keyword("TABLE", "CREATE is followed by TABLE"); !r)
      return r.err();
    table_definition out;
    auto name = identifier("the table's name");
    if (!name)
      return std::move(name).err();
    out.name = std::move(*name);
    if (auto r = symbol("(", "the columns follow the table's name in parentheses"); !r)
      return r.err();
    for (;;) {
      const auto name_at = peek();
      auto col = column();
      if (!col)
        return std::move(col).err();
      for (const auto& c : out.columns)
        if (c.name() == col->name())
          return fail(errc::malformed_input, sc_.where(name_at) + "the column `" + col->name()
                                               + "` is declared twice in table `" + out.name + "`");
      out.columns.push_back(std::move(*col));
      if (peek().text == ",") {
        ++pos_;
        continue;
      }
      if (auto r = symbol(")", "a column definition ends with ',' or the table with ')'"); !r)
        return r.err();
      break;
    }
    if (peek().text == ";")
      ++pos_;
    if (peek().kind != token_kind::end)
      return fail(errc::malformed_input, sc_.where(peek()) + "nothing may follow the CREATE TABLE statement, found "
                                           + shown(peek()));
    return out;
  }

private:
  const token& peek(std::size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }

  error expected(const std::string& what) const {
    return fail(errc::malformed_input, sc_.where(peek()) + what + ", found " + shown(peek()));
  }

  result<void> keyword(const char* word, const std::string& hint) {
    if (peek().kind != token_kind::word || upper(peek().text) != word)
      return expected("expected " + std::string{word} + " (" + hint + ")");
    ++pos_;
    return ok();
  }

  result<void> symbol(const char* s, const std::string& hint) {
    if (peek().kind != token_kind::symbol || peek().text != s)
      return expected("expected '" + std::string{s} + "' (" + hint + ")");
    ++pos_;
    return ok();
  }

  result<std::string> identifier(const std::string& what) {
    if (peek().kind != token_kind::word)
      return expected("expected " + what);
    return tokens_[pos_++].text;
  }

  result<std::string> number(const std::string& what) {
    if (peek().kind != token_kind::number || !is_decimal_literal(peek().text))
      return expected("expected " + what + " (a number such as 0, -5 or 1000.50)");
    auto s = tokens_[pos_++].text;
    return s[0] == '+' ? s.substr(1) : s;
  }

  result<unsigned> small_count(const std::string& what, unsigned most) {
    const auto& t = peek();
    if (t.kind != token_kind::number || t.text.size() > 3
        || !std::all_of(t.text.begin(), t.text.end(), [](unsigned char c) { return std::isdigit(c); })
        || std::stoul(t.text) > most)
      return expected("expected " + what + ", a whole number from 0 to " + std::to_string(most));
    ++pos_;
    return static_cast<unsigned>(std::stoul(t.text));
  }

  result<v1::Column> column() {
    v1::Column col;
    auto name = identifier("a column name");
    if (!name)
      return std::move(name).err();
    col.set_name(*name);
    const auto type_at = peek();
    if (type_at.kind != token_kind::word)
      return expected("expected the type of column `" + *name
                      + "`: KEY, INTEGER, DECIMAL(p, s), BOOLEAN or CATEGORY ('a', 'b', ...)");
    auto type = upper(type_at.text);
    ++pos_;
    std::optional<std::pair<std::string, std::string>> implied;  // the range a DECIMAL(p, s) allows
    if (type == "KEY") {
      col.set_type(v1::Column::TYPE_TEXT_KEY);
    } else if (type == "INTEGER" || type == "INT" || type == "BIGINT") {
      col.set_type(v1::Column::TYPE_INTEGER);
    } else if (type == "BOOLEAN") {
      col.set_type(v1::Column::TYPE_BOOLEAN);
    } else if (type == "DECIMAL" || type == "NUMERIC") {
      col.set_type(v1::Column::TYPE_FIXED_POINT);
      auto range = decimal_type(col);
      if (!range)
        return std::move(range).err();
      implied = std::move(*range);
    } else if (type == "CATEGORY") {
      col.set_type(v1::Column::TYPE_CATEGORY);
      if (auto r = category_domain(col); !r)
        return r.err();
    } else {
      --pos_;
      return expected("expected the type of column `" + *name
                      + "`: KEY, INTEGER, DECIMAL(p, s), BOOLEAN or CATEGORY ('a', 'b', ...)");
    }
    bool ranged = false;
    bool nullness = false;  // NULL or NOT NULL given
    while (peek().kind == token_kind::word) {
      auto word = upper(peek().text);
      if (word == "RANGE" && !ranged && (col.type() == v1::Column::TYPE_INTEGER
                                         || col.type() == v1::Column::TYPE_FIXED_POINT)) {
        ++pos_;
        if (auto r = range(col); !r)
          return r.err();
        ranged = true;
      } else if (word == "UNIQUE" && !col.unique()) {
        ++pos_;
        col.set_unique(true);
      } else if (word == "NULL" && !nullness) {
        // NULL: values may be missing (an empty CSV field); NOT NULL, the default, may be written.
        ++pos_;
        col.set_nullable(true);
        nullness = true;
      } else if (word == "NOT" && (peek(1).kind != token_kind::word || upper(peek(1).text) != "NULL")) {
        ++pos_;
        return expected("expected NULL after NOT (NOT NULL: the column always has a value)");
      } else if (word == "NOT" && !nullness) {
        pos_ += 2;
        nullness = true;
      } else if (word == "RANGE" || word == "UNIQUE" || word == "NULL" || word == "NOT") {
        return expected(word == "UNIQUE" || word == "NULL" || word == "NOT" || ranged
                          ? "a constraint may be given once (NULL or NOT NULL, once)"
                          : "RANGE is for INTEGER and DECIMAL columns");
      } else {
        return expected("expected ',' or ')' after column `" + *name + "`, or one of its constraints "
                        "RANGE [min, max], UNIQUE, NULL and NOT NULL");
      }
    }
    if (!ranged && implied && implied_ranges_) {
      col.set_min(implied->first);
      col.set_max(implied->second);
    }
    return col;
  }

  /// DECIMAL(p, s) or DECIMAL(p): the scale, and the range its p digits allow.
  result<std::pair<std::string, std::string>> decimal_type(v1::Column& col) {
    if (auto r = symbol("(", "DECIMAL(p, s): p digits in all, s of them after the point, e.g. DECIMAL(14, 2)"); !r)
      return r.err();
    auto p = small_count("the precision p of DECIMAL(p, s)", max_precision);
    if (!p)
      return std::move(p).err();
    unsigned s = 0;
    if (peek().text == ",") {
      ++pos_;
      auto scale = small_count("the scale s of DECIMAL(p, s)", *p);
      if (!scale)
        return std::move(scale).err();
      s = *scale;
    }
    if (*p == 0)
      return fail(errc::malformed_input, sc_.where(tokens_[pos_ - 1]) + "DECIMAL(p, s) needs at least one digit (p >= 1)");
    if (auto r = symbol(")", "DECIMAL(p, s) ends with ')'"); !r)
      return r.err();
    col.set_scale(s);
    precision_ = *p;
    auto largest = std::string(*p - s, '9');
    if (largest.empty())
      largest = "0";
    if (s > 0)
      largest += "." + std::string(s, '9');
    return std::pair{"-" + largest, largest};
  }

  result<void> category_domain(v1::Column& col) {
    if (auto r = symbol("(", "CATEGORY ('a', 'b', ...) lists the values"); !r)
      return r.err();
    for (;;) {
      if (peek().kind != token_kind::text)
        return expected("expected a category value in single quotes");
      for (const auto& v : col.domain())
        if (v == peek().text)
          return fail(errc::malformed_input, sc_.where(peek()) + "the category value '" + v
                                               + "' is listed twice in column `" + col.name() + "`");
      col.add_domain(tokens_[pos_++].text);
      if (peek().text == ",") {
        ++pos_;
        continue;
      }
      return symbol(")", "the values are separated by ',' and end with ')'");
    }
  }

  /// A bound of RANGE [min, max], within what the column's type can hold.
  result<std::string> bound(const v1::Column& col, const std::string& what) {
    const auto at = peek();
    auto n = number(what);
    if (!n)
      return n;
    auto digits = n->substr(n->front() == '-' ? 1 : 0);
    auto point = digits.find('.');
    auto whole = digits.substr(0, point);
    whole.erase(0, std::min(whole.find_first_not_of('0'), whole.size() - 1));
    auto frac = point == std::string::npos ? std::string{} : digits.substr(point + 1);
    if (col.type() == v1::Column::TYPE_INTEGER ? !frac.empty() : frac.size() > col.scale())
      return fail(errc::malformed_input, sc_.where(at) + "`" + *n + "` has more digits after the point than column `"
                                           + col.name() + "` keeps ("
                                           + std::to_string(col.type() == v1::Column::TYPE_INTEGER ? 0 : col.scale())
                                           + ")");
    const auto most = col.type() == v1::Column::TYPE_INTEGER ? max_precision : precision_ - col.scale();
    if (whole != "0" && whole.size() > most)
      return fail(errc::malformed_input,
                  sc_.where(at) + "`" + *n + "` does not fit column `" + col.name() + "`: "
                    + (col.type() == v1::Column::TYPE_INTEGER
                         ? "an INTEGER's range has at most 18 digits"
                         : "DECIMAL(" + std::to_string(precision_) + ", " + std::to_string(col.scale()) + ") has "
                             + std::to_string(most) + " digit(s) before the point; raise p"));
    return n;
  }

  result<void> range(v1::Column& col) {
    if (auto r = symbol("[", "RANGE [min, max]"); !r)
      return r.err();
    auto lo = bound(col, "the smallest value");
    if (!lo)
      return lo.err();
    if (auto r = symbol(",", "RANGE [min, max]"); !r)
      return r.err();
    auto hi = bound(col, "the largest value");
    if (!hi)
      return hi.err();
    if (auto r = symbol("]", "RANGE [min, max] ends with ']'"); !r)
      return r.err();
    col.set_min(*lo);
    col.set_max(*hi);
    return ok();
  }

  std::vector<token> tokens_;
  const scanner& sc_;
  std::size_t pos_ = 0;
  unsigned precision_ = 0;  ///< p of the DECIMAL(p, s) column being read
  bool implied_ranges_;     ///< a DECIMAL(p, s) without RANGE gets the range its p digits allow
};

} // namespace

result<table_definition> parse_create_table(std::string_view sql, const std::string& file, std::int64_t line,
                                            std::int64_t column, bool implied_ranges) {
  scanner sc{sql, file, line, column};
  auto tokens = sc.tokens();
  if (!tokens)
    return std::move(tokens).err();
  return table_parser{std::move(*tokens), sc, implied_ranges}.statement();
}

} // namespace joconde::cli
