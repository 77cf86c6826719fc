// The joins of a joconde-sql/1 statement (docs/task-language.md §4.2): each ON resolved against the
// tables already in the statement and the joined input, the side whose key is unique (so the side
// whose rows the result has), the key width the sort needs, and the uniqueness and row bound of
// the table built so far.

#include "joconde/engines/sql/checker.hpp"

#include <algorithm>

namespace joconde::engines::sql {

namespace {

/// What the checker knows of one table of the accumulated row.
struct table_state {
  const table_schema* schema = nullptr;
  bool united = false;        ///< the FROM input's UNION ALL: its values may repeat across inputs
  bool once = true;           ///< each of its rows is on one accumulated row at most
  std::vector<bool> unique;   ///< per column: declared UNIQUE, or a legacy one-to-one join key
  position repeated_at;       ///< once == false: the join that may repeat its rows
};

/// Whether column `c` of `t` has distinct values among the accumulated rows.
bool unique_here(const table_state& t, std::size_t c) {
  return !t.united && t.once && t.unique[c];
}

std::vector<std::string> column_names(const table_schema& t) {
  std::vector<std::string> out;
  for (const auto& c : t.columns)
    out.push_back(c.name);
  return out;
}

/// 1 if ON operand `r` names the joined input `right`, 0 if it names a table already in `sc`;
/// throws if it names neither or is ambiguous between them.
int side_of(const column_ref& r, const scope& sc, const table_schema& right) {
  std::vector<std::string> tables;
  for (const auto& t : sc.tables)
    tables.push_back(t.schema->name);
  if (r.qualifier == right.name)
    return 1;
  if (!r.qualifier.empty()) {
    bool known = std::find(tables.begin(), tables.end(), r.qualifier) != tables.end()
                 || std::find(sc.united.begin(), sc.united.end(), r.qualifier) != sc.united.end();
    if (known)
      return 0;
    tables.push_back(right.name);
    throw sql_error(r.pos, "unknown table `" + r.qualifier + "` in ON" + suggestion(r.qualifier, tables)
                             + "; the tables here are " + listing(tables));
  }
  const column_schema* found = nullptr;
  std::string owner;
  for (const auto& t : sc.tables)
    if ((found = t.schema->find(r.name)) != nullptr) {
      owner = t.schema->name;
      break;
    }
  bool in_right = right.find(r.name) != nullptr;
  if (found != nullptr && in_right)
    throw sql_error(r.pos, "`" + r.name + "` is ambiguous: qualify it as `" + owner + "." + r.name + "` or `"
                             + right.name + "." + r.name + "`");
  if (found == nullptr && !in_right) {
    std::vector<std::string> names = column_names(right);
    for (const auto& t : sc.tables)
      for (const auto& c : t.schema->columns)
        names.push_back(c.name);
    tables.push_back(right.name);
    throw sql_error(r.pos, "unknown column `" + r.name + "` in ON; none of " + listing(tables) + " has it"
                             + suggestion(r.name, names));
  }
  return in_right ? 1 : 0;
}

/// The number of bits b with |v| < 2^b for every value of integer join column `c` (at least 1).
unsigned bits_of(const column_schema& c) {
  auto magnitude = static_cast<std::uint64_t>(std::max(-static_cast<int128>(*c.min), static_cast<int128>(*c.max)));
  unsigned b = 1;
  while (b < 63 && (magnitude >> b) != 0)
    ++b;
  return b;
}

/// Checks that the ON columns can be compared (two keys, or two integers with RANGEs inside
/// +-2^59) and returns the key width of `j`.
unsigned key_width(const join_step& j, const column_schema& lc, const column_schema& rc) {
  const std::string left = "`" + j.left_table + "." + lc.name + "`";
  const std::string right = "`" + j.name + "." + rc.name + "`";
  bool keys = lc.type == column_type::key && rc.type == column_type::key;
  bool ints = lc.type == column_type::integer && rc.type == column_type::integer;
  if (!keys && !ints)
    throw sql_error(j.left.pos, "a join compares two key columns or two integer columns; " + left + " is "
                                  + std::string{to_string(lc.type)} + " and " + right + " is "
                                  + std::string{to_string(rc.type)});
  if (keys)
    return 58;  // the first 58 bits of a SHA-256 (schema.hpp)
  const auto limit = std::int64_t{1} << 59;
  for (const auto* c : {&lc, &rc})
    if (!c->min || !c->max || *c->min <= -limit || *c->max >= limit)
      throw sql_error(c == &lc ? j.left.pos : j.right.pos,
                      "the integer join column " + (c == &lc ? left : right)
                        + " needs a declared RANGE inside +-2^59 (the join sorts on its values); declare one");
  return std::max(bits_of(lc), bits_of(rc));
}

/// Resolves the ON of `j` against the tables of `sc` (left) and the input `right`: afterwards
/// j.left is the operand of a table already in the statement (its column the index in the
/// accumulated row), j.right that of the joined input (its column the index in the input).
/// Returns the index in `sc.tables` of the left operand's table and sets `lc` to its schema.
std::size_t resolve_on(join_step& j, const scope& sc, const table_schema& right, const column_schema*& lc) {
  int a = side_of(j.left, sc, right);
  int b = side_of(j.right, sc, right);
  if (a == b) {
    std::vector<std::string> tables;
    for (const auto& t : sc.tables)
      tables.push_back(t.schema->name);
    throw sql_error(j.right.pos, "ON must compare a column of a table already in this statement ("
                                   + listing(tables) + ") with a column of `" + right.name + "`");
  }
  if (a == 1)
    std::swap(j.left, j.right);
  j.left.column = resolve(sc, j.left.qualifier, j.left.name, j.left.pos, lc);
  const auto* rc = right.find(j.right.name);
  if (rc == nullptr)
    throw sql_error(j.right.pos, "`" + right.name + "` has no column `" + j.right.name + "`"
                                   + suggestion(j.right.name, column_names(right)));
  j.right.column = static_cast<std::size_t>(rc - right.columns.data());
  for (const auto& [c, at] : {std::pair{lc, &j.left}, std::pair{rc, &j.right}})
    if (c->nullable)
      throw sql_error(at->pos, "`" + at->name + "` is declared NULL (its values may be missing), but a join compares "
                                 "keys, which a row always has; join on a key or integer column without NULL");
  std::size_t t = sc.tables.size() - 1;
  while (sc.tables[t].offset > j.left.column)
    --t;
  j.left_table = sc.tables[t].schema->name;
  j.left_table_column = j.left.column - sc.tables[t].offset;
  return t;
}

/// The refusal of a join neither of whose keys is unique, saying what to declare.
[[noreturn]] void refuse_no_unique_side(const join_step& j, const table_state& left) {
  const std::string x = "`" + j.left_table + "." + j.left.name + "`";
  const std::string y = "`" + j.name + "." + j.right.name + "`";
  std::string why;
  if (left.united)
    why = "; " + x + " cannot be the unique side: the inputs of a UNION ALL may repeat its values";
  else if (!left.once)
    why = "; " + x + " cannot be the unique side: the rows of `" + j.left_table
          + "` may repeat after the join at " + where_str(left.repeated_at) + ", where it is the unique side";
  const bool either = why.empty();
  throw sql_error(j.on_pos, "the join with `" + j.name + "` needs a unique key on one side: declare " + y
                              + (either ? " (or " + x + ")" : "")
                              + " UNIQUE in its input's schema, so that each of its values is on one row at most "
                                "(the custodian's node checks it at upload)"
                              + why);
}

/// Decides which side of `j` is unique and how the uniqueness of every table changes.
void choose_sides(join_step& j, std::vector<table_state>& tables, std::size_t lt, std::uint64_t left_rows,
                  const table_schema& right, bool first) {
  table_state r{&right, false, true, {}, {}};
  for (const auto& c : right.columns)
    r.unique.push_back(c.unique);
  const bool x_unique = unique_here(tables[lt], j.left_table_column);
  if (right.columns[j.right.column].unique) {
    // The input is the unique side; the accumulated rows stay as they are.
    j.one_to_one = x_unique;
    j.many_is_left = !j.one_to_one || left_rows <= right.max_rows;
    r.once = j.one_to_one;
  } else if (x_unique) {
    // The accumulated table is the unique side: its rows may repeat, once per matching input row.
    j.many_is_left = false;
    for (auto& t : tables)
      if (t.once) {
        t.once = false;
        t.repeated_at = j.pos;
      }
  } else if (first && !tables[lt].united) {
    // Legacy: two single inputs whose keys are both taken as unique, checked at upload and here.
    j.one_to_one = true;
    j.implicit = true;
    j.many_is_left = left_rows <= right.max_rows;
    tables[lt].unique[j.left_table_column] = true;
    r.unique[j.right.column] = true;
  } else {
    refuse_no_unique_side(j, tables[lt]);
  }
  if (!r.once)
    r.repeated_at = j.pos;
  tables.push_back(std::move(r));
}

} // namespace

void check_joins(select_stmt& s, const program_impl& prog, scope& sc) {
  std::vector<table_state> tables{{sc.tables[0].schema, !s.unions.empty(), true, {}, {}}};
  for (const auto& c : sc.tables[0].schema->columns)
    tables[0].unique.push_back(c.unique);
  std::size_t width = sc.tables[0].schema->columns.size();
  for (std::size_t k = 0; k < s.joins.size(); ++k) {
    auto& j = s.joins[k];
    j.index = find_table(prog.inputs, j.name, j.pos, "input");
    if (const auto* earlier = named_before(s, j.index, s.unions.size(), k))
      throw sql_error(j.pos, "`" + j.name + "` is joined with itself (it is already in this statement, at "
                               + where_str(*earlier) + "); each input may appear once in a statement, so join "
                                                       "different inputs");
    const auto& right = prog.inputs[j.index];
    const column_schema* lc = nullptr;
    auto lt = resolve_on(j, sc, right, lc);
    j.key_bits = key_width(j, *lc, right.columns[j.right.column]);
    choose_sides(j, tables, lt, s.max_rows, right, k == 0);
    j.max_rows = j.many_is_left ? s.max_rows : right.max_rows;
    j.offset = width;
    sc.tables.push_back(scope_table{&right, width});
    width += right.columns.size();
    s.max_rows = j.max_rows;
  }
}

} // namespace joconde::engines::sql
