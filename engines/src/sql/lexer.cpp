// The tokenizer of joconde-sql/1: identifiers, numbers, 'text' literals, symbols, `--` comments.

#include "joconde/engines/sql/ast.hpp"

#include <cctype>

namespace joconde::engines::sql {

namespace {

bool ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_';
}

bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

bool digit(char c) {
  return c >= '0' && c <= '9';
}

/// Scans the identifier or keyword at src[i] into `t`; returns the index just past it.
std::size_t scan_identifier(std::string_view src, std::size_t i, token& t) {
  std::size_t j = i;
  while (j < src.size() && ident_char(src[j]))
    ++j;
  t.kind = token_kind::identifier;
  t.text = std::string{src.substr(i, j - i)};
  return j;
}

/// Scans the integer or decimal number at src[i] into `t`; returns the index just past it.
std::size_t scan_number(std::string_view src, std::size_t i, token& t) {
  std::size_t j = i;
  while (j < src.size() && digit(src[j]))
    ++j;
  t.kind = token_kind::integer;
  if (j < src.size() && src[j] == '.') {
    ++j;
    if (j >= src.size() || !digit(src[j]))
      throw sql_error(t.pos, "a decimal number needs digits after the point (write 1.0, not 1.)");
    while (j < src.size() && digit(src[j]))
      ++j;
    t.kind = token_kind::decimal;
  }
  if (j < src.size() && ident_char(src[j]))
    throw sql_error(t.pos, "a number runs into letters here; put a blank between them");
  t.text = std::string{src.substr(i, j - i)};
  return j;
}

/// Scans the 'text' literal at src[i] ('' is a quote) into `t`; returns the index just past it.
std::size_t scan_text(std::string_view src, std::size_t i, token& t) {
  std::size_t j = i + 1;
  std::string text;
  bool closed = false;
  while (j < src.size()) {
    if (src[j] == '\'') {
      if (j + 1 < src.size() && src[j + 1] == '\'') {
        text += '\'';
        j += 2;
        continue;
      }
      closed = true;
      ++j;
      break;
    }
    if (src[j] == '\n')
      break;
    text += src[j++];
  }
  if (!closed)
    throw sql_error(t.pos, "text literal not closed: end it with ' on the same line");
  t.kind = token_kind::text;
  t.text = std::move(text);
  return j;
}

/// Scans the one- or two-character symbol at src[i] into `t`; returns the index just past it.
std::size_t scan_symbol(std::string_view src, std::size_t i, token& t) {
  static constexpr std::string_view two[] = {"<>", "!=", "<=", ">="};
  const char c = src[i];
  t.kind = token_kind::symbol;
  for (auto s : two)
    if (src.substr(i, 2) == s)
      t.text = std::string{s};
  if (t.text.empty()) {
    static constexpr std::string_view one = "(),;.*+-/=<>";
    if (one.find(c) == std::string_view::npos) {
      std::string shown = std::isprint(static_cast<unsigned char>(c)) != 0
                            ? "'" + std::string(1, c) + "'"
                            : "byte " + std::to_string(static_cast<unsigned char>(c));
      throw sql_error(t.pos, "unexpected character " + shown + " outside a text literal");
    }
    t.text = std::string(1, c);
  }
  return i + t.text.size();
}

/// Scans the token starting at src[i] (not a blank or comment) into `t`; returns its end.
std::size_t scan_token(std::string_view src, std::size_t i, token& t) {
  const char c = src[i];
  if (ident_start(c))
    return scan_identifier(src, i, t);
  if (digit(c))
    return scan_number(src, i, t);
  if (c == '\'')
    return scan_text(src, i, t);
  return scan_symbol(src, i, t);
}

} // namespace

std::vector<token> lex(std::string_view src) {
  std::vector<token> out;
  position pos;
  std::size_t i = 0;
  auto advance = [&](std::size_t n) {
    for (std::size_t k = 0; k < n && i < src.size(); ++k, ++i) {
      if (src[i] == '\n') {
        ++pos.line;
        pos.column = 1;
      } else {
        ++pos.column;
      }
    }
    pos.offset = i;
  };
  while (i < src.size()) {
    char c = src[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      advance(1);
      continue;
    }
    if (c == '-' && i + 1 < src.size() && src[i + 1] == '-') {
      while (i < src.size() && src[i] != '\n')
        advance(1);
      continue;
    }
    token t;
    t.pos = pos;
    advance(scan_token(src, i, t) - i);
    t.end = i;
    out.push_back(std::move(t));
  }
  token end;
  end.kind = token_kind::end;
  end.pos = pos;
  end.end = i;
  out.push_back(std::move(end));
  return out;
}

} // namespace joconde::engines::sql
