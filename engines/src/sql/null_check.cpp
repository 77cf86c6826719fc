// Missing values in the checker (docs/task-language.md §3.2): which expressions may be NULL, the
// IS [NOT] NULL test, and where a value that may be NULL is refused because the output or the
// operation has no place for it.

#include "joconde/engines/sql/checker.hpp"

namespace joconde::engines::sql {

void check_is_null(expr& e) {
  e.type = value_type{};
  e.type.kind = value_kind::boolean;
  e.range = interval{0, 1, true};
}

void mark_nullable(expr& e, std::string_view source) {
  switch (e.kind) {
    case expr_kind::literal:
    case expr_kind::aggregate:  // aggregates skip missing values
    case expr_kind::is_null:    // true or false, never unknown
      e.nullable = false;
      return;
    case expr_kind::column: return;  // check_column: the column's declaration
    case expr_kind::case_when: {
      // A CASE is missing where the result it takes is: a condition that is unknown is not true,
      // so it moves on to the next WHEN (or ELSE) as a false one does.
      e.nullable = false;
      for (std::size_t i = 1; i < e.args.size(); i += 2)
        e.nullable = e.nullable || e.args[i]->nullable;
      if (e.has_else)
        e.nullable = e.nullable || e.args.back()->nullable;
      return;
    }
    case expr_kind::between:
      for (std::size_t i = 1; i < e.args.size(); ++i)
        if (e.args[i]->nullable)
          throw sql_error(e.args[i]->pos, "a bound of BETWEEN may be missing (NULL): `" + quote(*e.args[i], source)
                                            + "`; write the two comparisons (x >= low AND x <= high), whose AND "
                                              "follows SQL's rules for missing values");
      break;
    default: break;
  }
  e.nullable = false;
  for (const auto& a : e.args)
    e.nullable = e.nullable || a->nullable;
}

std::vector<std::size_t> required_present(const expr& where) {
  std::vector<std::size_t> out;
  auto walk = [&](auto& self, const expr& e) -> void {
    if (e.kind == expr_kind::binary && e.op == binary_op::logic_and) {
      self(self, *e.args[0]);
      self(self, *e.args[1]);
    } else if (e.kind == expr_kind::is_null && e.negated && e.args[0]->kind == expr_kind::column) {
      out.push_back(e.args[0]->column);
    }
  };
  walk(walk, where);
  return out;
}

void refuse_nullable(const expr& e, std::string_view source, const std::string& where, const std::string& instead) {
  if (!e.nullable)
    return;
  throw sql_error(e.pos, "`" + quote(e, source) + "` may be missing (it reads a column declared NULL), but " + where
                           + " has no place for a missing value; " + instead);
}

} // namespace joconde::engines::sql
