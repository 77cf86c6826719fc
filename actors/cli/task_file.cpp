// The readable task and CTSA files (docs/task-files.md): TOML read with toml++ (Debian's
// libtomlplusplus), every key checked, into the v1::Ctsc and v1::Ctsa the Protobuf JSON forms
// give. Errors say FILE:LINE:COLUMN and the field.

#include "cli/task_file.hpp"

#include "joconde/runtime/crypto.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

namespace joconde::cli {

namespace {

/// The largest file an attachment or identification document may be: the node's request limit
/// leaves room for the rest of the task.
constexpr std::uintmax_t max_document_bytes = 8u << 20;

/// Reads the TOML tree of one file and the fields in it, each error naming its place.
class reader {
public:
  reader(std::string_view text, std::string file) : text_(text), file_(std::move(file)) {
    // nop
  }

  const std::string& file() const { return file_; }

  /// "FILE:LINE:COLUMN: " of a place in the file.
  std::string at(const toml::source_region& where) const {
    return file_ + ":" + std::to_string(where.begin.line) + ":" + std::to_string(where.begin.column) + ": ";
  }

  error bad(const toml::source_region& where, const std::string& message) const {
    return fail(errc::malformed_input, at(where) + message);
  }

  /// Refuses a key of `t` that is not in `allowed`, naming the keys that are.
  result<void> only(const toml::table& t, std::initializer_list<std::string_view> allowed,
                    const std::string& where) const {
    for (auto&& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end())
        continue;
      std::string known;
      for (auto a : allowed)
        known += (known.empty() ? "" : ", ") + std::string{a};
      return bad(k.source(), "unknown field `" + std::string{k.str()} + "` in " + where + " (its fields: " + known
                               + ")");
    }
    return ok();
  }

  /// The string `key` of `t`; empty when absent and not `required`.
  result<std::string> text(const toml::table& t, std::string_view key, const std::string& where,
                           bool required) const {
    const auto* n = t.get(key);
    if (n == nullptr) {
      if (required)
        return bad(t.source(), where + " needs `" + std::string{key} + "`");
      return std::string{};
    }
    if (!n->is_string())
      return bad(n->source(), "`" + std::string{key} + "` in " + where + " is a text, in quotes");
    return n->value<std::string>().value();
  }

  /// The whole number `key` of `t`, from 1 to `most`; 0 when absent.
  result<std::uint64_t> count(const toml::table& t, std::string_view key, const std::string& where,
                              std::int64_t most) const {
    const auto* n = t.get(key);
    if (n == nullptr)
      return std::uint64_t{0};
    auto v = n->value_exact<std::int64_t>();
    if (!v || *v < 1 || *v > most)
      return bad(n->source(), "`" + std::string{key} + "` in " + where + " is a whole number from 1 to "
                                + std::to_string(most));
    return static_cast<std::uint64_t>(*v);
  }

  /// The array of strings `key` of `t`; empty when absent and not `required`.
  result<std::vector<std::string>> texts(const toml::table& t, std::string_view key, const std::string& where,
                                         bool required) const {
    const auto* n = t.get(key);
    if (n == nullptr) {
      if (required)
        return bad(t.source(), where + " needs `" + std::string{key} + "`, a list such as [\"a\", \"b\"]");
      return std::vector<std::string>{};
    }
    const auto* arr = n->as_array();
    if (arr == nullptr || (required && arr->empty()))
      return bad(n->source(), "`" + std::string{key} + "` in " + where + " is a list of texts, such as [\"a\", \"b\"]");
    std::vector<std::string> out;
    for (const auto& e : *arr) {
      if (!e.is_string())
        return bad(e.source(), "`" + std::string{key} + "` in " + where + " holds texts only, in quotes");
      out.push_back(e.value<std::string>().value());
    }
    return out;
  }

  /// The array of tables `key` of the document (`[[key]]` sections).
  result<std::vector<const toml::table*>> sections(const toml::table& doc, std::string_view key) const {
    std::vector<const toml::table*> out;
    const auto* n = doc.get(key);
    if (n == nullptr)
      return out;
    const auto* arr = n->as_array();
    if (arr == nullptr || !arr->is_array_of_tables())
      return bad(n->source(), "`" + std::string{key} + "` is a list of sections, each headed [[" + std::string{key}
                                + "]]");
    for (const auto& e : *arr)
      out.push_back(e.as_table());
    return out;
  }

  /// Where the text of a string value begins: after its opening quotes, or on the next line when a
  /// multi-line string's quotes end their line (TOML drops that line break).
  source_place sql_start(const toml::node& n) const {
    auto where = n.source().begin;
    source_place out{static_cast<std::int64_t>(where.line), static_cast<std::int64_t>(where.column)};
    std::size_t line_start = 0;
    for (std::int64_t l = 1; l < out.line && line_start != std::string_view::npos; ++l) {
      line_start = text_.find('\n', line_start);
      if (line_start != std::string_view::npos)
        ++line_start;
    }
    if (line_start == std::string_view::npos)
      return out;
    auto line_end = text_.find('\n', line_start);
    auto line = text_.substr(line_start, line_end == std::string_view::npos ? std::string_view::npos
                                                                               : line_end - line_start);
    auto from = static_cast<std::size_t>(out.column - 1);
    if (from >= line.size())
      return out;
    auto quotes = line.substr(from, 3);
    if (quotes == "\"\"\"" || quotes == "'''") {
      auto rest = line.substr(from + 3);
      if (rest.find_first_not_of(" \t\r") == std::string_view::npos)
        return {out.line + 1, 1};
      out.column += 3;
    } else {
      out.column += 1;
    }
    return out;
  }

  /// The contents of the file `path`, at most 8 MiB. What a file names is sent to every member of
  /// the CTA, so it may only name files beside it or below (`base`): a task file written by
  /// someone else cannot attach ~/.ssh/id_ed25519 or ../../etc/shadow.
  result<std::string> document(const toml::node& n, const std::string& path, const std::filesystem::path& base) const {
    const std::filesystem::path given{path};
    bool climbs = false;
    for (const auto& part : given)
      climbs = climbs || part == "..";
    if (path.empty() || given.is_absolute() || climbs)
      return fail(errc::malformed_input, at(n.source()) + "'" + path + "': a file is named relative to this file, "
                                         "in its directory or below (no absolute path, no '..'), since it is sent "
                                         "to every member of the task");
    if (base.empty())
      return fail(errc::malformed_input, at(n.source()) + "'" + path + "': a task sent as text names no "
                                         "file; give the document in the JSON form (base64 data) instead");
    auto full = base / given;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(full, ec))
      return fail(errc::io_error, at(n.source()) + "cannot read '" + full.string() + "': not a regular file");
    auto size = std::filesystem::file_size(full, ec);
    if (ec)
      return fail(errc::io_error, at(n.source()) + "cannot read '" + full.string() + "': " + ec.message());
    if (size > max_document_bytes)
      return fail(errc::too_large, at(n.source()) + "'" + full.string() + "' is larger than 8 MiB; "
                                   "attach its SHA-256 in the JSON form instead");
    std::ifstream in{full, std::ios::binary};
    std::ostringstream buf;
    buf << in.rdbuf();
    if (!in)
      return fail(errc::io_error, at(n.source()) + "cannot read '" + full.string() + "'");
    return buf.str();
  }

private:
  std::string_view text_;
  std::string file_;
};

/// The file `path` that the field `field` of section `t` names, with the section's media_type or
/// one guessed from the file's extension: an [[attachment]] or a signatory's identification.
result<void> read_document(const reader& r, const toml::table& t, std::string_view field, const std::string& where,
                           const std::string& path, const std::filesystem::path& base, v1::Document& out) {
  auto data = r.document(*t.get(field), path, base);
  if (!data)
    return data.err();
  auto media = r.text(t, "media_type", where, false);
  if (!media)
    return media.err();
  out.set_name(std::filesystem::path{path}.filename().string());
  out.set_media_type(media->empty() ? media_type_for(std::filesystem::path{path}.filename().string()) : *media);
  out.set_data(std::move(*data));
  return ok();
}

// -- deadlines --

/// One deadline: a TOML date or date-time, or a text holding an ISO 8601 time or duration (counted
/// from `previous`).
result<std::int64_t> deadline(const reader& r, const toml::table& t, std::string_view key, std::int64_t previous) {
  const auto* n = t.get(key);
  if (n == nullptr)
    return r.bad(t.source(), "[deadlines] needs `" + std::string{key}
                               + "`: a date (2031-01-31), a date-time (2031-01-31T17:00:00Z) or a duration after "
                               + (key == "approval" ? std::string{"now"} : "the previous deadline") + " (\"P14D\")");
  std::string text;
  if (const auto* d = n->as_date()) {
    auto v = d->get();
    text = std::to_string(v.year) + "-" + (v.month < 10 ? "0" : "") + std::to_string(v.month) + "-"
           + (v.day < 10 ? "0" : "") + std::to_string(v.day);
  } else if (const auto* dt = n->as_date_time()) {
    std::ostringstream s;
    s << dt->get();
    text = s.str();
  } else if (n->is_string()) {
    text = n->value<std::string>().value();
  } else {
    return r.bad(n->source(), "`" + std::string{key} + "` in [deadlines] is a date, a date-time or a duration "
                                "in quotes (\"P14D\")");
  }
  if (!text.empty() && text[0] == 'P') {
    auto s = parse_iso_duration(text);
    if (!s)
      return r.bad(n->source(), "`" + std::string{key} + "`: " + s.err().message);
    return previous + *s * 1000;
  }
  auto ms = parse_iso_time(text);
  if (!ms)
    return r.bad(n->source(), "`" + std::string{key} + "`: " + ms.err().message);
  return *ms;
}

result<void> read_deadlines(const reader& r, const toml::table& doc, std::int64_t now_ms, v1::TemporalSpec& out) {
  const auto* t = doc.get_as<toml::table>("deadlines");
  if (t == nullptr)
    return r.bad(doc.source(), "the task needs a [deadlines] section: approval, input, execution, output "
                               "and retention");
  if (auto ok = r.only(*t, {"approval", "input", "execution", "output", "retention"}, "[deadlines]"); !ok)
    return ok;
  std::int64_t previous = now_ms;
  std::int64_t values[4] = {};
  const std::string_view keys[] = {"approval", "input", "execution", "output"};
  for (int i = 0; i < 4; ++i) {
    auto v = deadline(r, *t, keys[i], previous);
    if (!v)
      return v.err();
    if (*v <= previous)
      return r.bad(t->get(keys[i])->source(),
                   "`" + std::string{keys[i]} + "` must come after "
                     + (i == 0 ? std::string{"now"} : "the " + std::string{keys[i - 1]} + " deadline"));
    values[i] = previous = *v;
  }
  out.set_approval_deadline_ms(values[0]);
  out.set_input_deadline_ms(values[1]);
  out.set_execution_deadline_ms(values[2]);
  out.set_output_deadline_ms(values[3]);
  const auto* keep = t->get("retention");
  if (keep == nullptr)
    return r.bad(t->source(), "[deadlines] needs `retention`: how long after the output deadline every node "
                              "keeps the task's records, a duration such as \"P30D\"");
  std::int64_t seconds = 0;
  if (keep->is_string()) {
    auto s = parse_iso_duration(keep->value<std::string>().value());
    if (!s)
      return r.bad(keep->source(), "`retention`: " + s.err().message);
    seconds = *s;
  } else {
    return r.bad(keep->source(), "`retention` is a duration in quotes, such as \"P30D\"");
  }
  out.set_data_retention_s(seconds);
  return ok();
}

// -- peers, schemas, engine --

/// The FQDN a peer reference names: a short name of [peers] or an FQDN.
struct peer_names {
  std::map<std::string, std::string> fqdn_of;  ///< short name -> FQDN
  std::set<std::string> declared;              ///< the FQDNs [peers] lists
};

result<std::string> peer_of(const reader& r, const peer_names& names, const toml::node& at, const std::string& ref) {
  if (auto it = names.fqdn_of.find(ref); it != names.fqdn_of.end())
    return it->second;
  if (ref.find('.') != std::string::npos)
    return ref;
  return r.bad(at.source(), "no peer is called `" + ref + "`: name it in [peers] (" + ref
                              + " = \"its-node.example.org\") or give its node's FQDN");
}

result<table_definition> read_table(const reader& r, const toml::table& t, const std::string& where, bool input) {
  const auto* n = t.get("table");
  if (n == nullptr || !n->is_string())
    return r.bad(n == nullptr ? t.source() : n->source(),
                 where + " needs `table`: its schema as one SQL statement, \"CREATE TABLE name (column TYPE, ...)\"");
  auto place = r.sql_start(*n);
  return parse_create_table(n->value<std::string>().value(), r.file(), place.line, place.column, input);
}

/// What an [[input]] and an [[output]] section share: the table of its `table` (its name unique
/// among every input and output, `keys`) and its `max_rows`.
struct slot_section {
  std::string name;
  std::vector<v1::Column> columns;
  std::uint64_t max_rows = 0;
};

result<slot_section> read_slot(const reader& r, const toml::table& t, bool input, std::set<std::string>& keys) {
  const std::string where = input ? "[[input]]" : "[[output]]";
  auto table = read_table(r, t, where, input);
  if (!table)
    return std::move(table).err();
  if (!keys.insert(table->name).second)
    return r.bad(t.source(), "table `" + table->name + "` is defined twice (every input and output has a name "
                               "of its own)");
  auto rows = r.count(t, "max_rows", where + " " + table->name, 1'000'000'000);
  if (!rows)
    return std::move(rows).err();
  return slot_section{std::move(table->name), std::move(table->columns), *rows};
}

result<void> read_engine(const reader& r, const toml::table& doc, v1::MpcEngine& out) {
  const auto* t = doc.get_as<toml::table>("engine");
  if (t == nullptr)
    return r.bad(doc.source(), "the task needs an [engine] section: name = \"rss3\", version = \"1.0.0\"");
  if (auto ok = r.only(*t, {"name", "version", "parameters"}, "[engine]"); !ok)
    return ok;
  auto name = r.text(*t, "name", "[engine]", true);
  if (!name)
    return name.err();
  auto version = r.text(*t, "version", "[engine]", true);
  if (!version)
    return version.err();
  out.set_name(*name);
  out.set_version(*version);
  if (const auto* p = t->get("parameters")) {
    const auto* params = p->as_table();
    if (params == nullptr)
      return r.bad(p->source(), "`parameters` in [engine] is a table such as { ring_bits = 64 }");
    for (auto&& [k, v] : *params) {
      auto* e = out.add_parameters();
      e->set_name(std::string{k.str()});
      if (auto i = v.value_exact<std::int64_t>())
        e->set_value(std::to_string(*i));
      else if (v.is_string())
        e->set_value(v.value<std::string>().value());
      else
        return r.bad(v.source(), "engine parameter `" + std::string{k.str()} + "` is a whole number or a text");
    }
  }
  return ok();
}

result<void> read_measurements(const reader& r, const toml::table& doc, v1::Ctsc& out) {
  auto tees = r.sections(doc, "tee");
  if (!tees)
    return tees.err();
  for (const auto* t : *tees) {
    if (auto ok = r.only(*t, {"platform", "image", "measurement"}, "[[tee]]"); !ok)
      return ok;
    auto* m = out.add_tee_measurements();
    auto platform = r.text(*t, "platform", "[[tee]]", true);
    if (!platform)
      return platform.err();
    auto image = r.text(*t, "image", "[[tee]]", true);
    if (!image)
      return image.err();
    m->set_platform(*platform);
    m->set_image(*image);
    auto hex = r.text(*t, "measurement", "[[tee]]", true);
    if (!hex)
      return hex.err();
    auto bytes = crypto::from_hex(*hex);
    if (!bytes || bytes->empty())
      return r.bad(t->get("measurement")->source(), "`measurement` in [[tee]] is the measurement in hex, as "
                                                     "`joconde cta create` prints it");
    m->set_measurement(std::string(bytes->begin(), bytes->end()));
  }
  return ok();
}

/// Every peer of the task with the role its inputs and outputs give it, in order of first mention.
result<void> add_peers(const reader& r, const toml::table& doc, const peer_names& names,
                       const std::vector<std::pair<std::string, bool>>& mentions, v1::Ctsc& out) {
  std::vector<std::string> order;
  std::map<std::string, int> role;  // bit 1: input, bit 2: output
  for (const auto& [fqdn, input] : mentions) {
    if (!role.count(fqdn))
      order.push_back(fqdn);
    role[fqdn] |= input ? 1 : 2;
  }
  for (const auto& [name, fqdn] : names.fqdn_of)
    if (!role.count(fqdn))
      return r.bad(doc.get("peers")->as_table()->get(name)->source(),
                   "peer `" + name + "` takes no part: give it an [[input]] or make it a reader of an [[output]]");
  for (const auto& fqdn : order) {
    auto* p = out.add_peers();
    p->set_fqdn(fqdn);
    p->set_role(role[fqdn] == 3   ? v1::PEER_ROLE_INPUT_OUTPUT
                : role[fqdn] == 1 ? v1::PEER_ROLE_INPUT
                                  : v1::PEER_ROLE_OUTPUT);
  }
  return ok();
}

result<void> read_inputs_and_outputs(const reader& r, const toml::table& doc, const peer_names& names,
                                     readable_task& task) {
  auto& ctsc = task.ctsc;
  std::vector<std::pair<std::string, bool>> mentions;
  auto inputs = r.sections(doc, "input");
  if (!inputs)
    return inputs.err();
  if (inputs->empty())
    return r.bad(doc.source(), "the task needs at least one [[input]] section");
  std::set<std::string> keys;
  for (const auto* t : *inputs) {
    if (auto ok = r.only(*t, {"peer", "table", "max_rows", "check"}, "[[input]]"); !ok)
      return ok;
    auto table = read_slot(r, *t, true, keys);
    if (!table)
      return table.err();
    auto* in = ctsc.add_inputs();
    in->set_key(table->name);
    in->set_max_rows(table->max_rows);
    for (auto& c : table->columns)
      *in->add_schema() = std::move(c);
    auto peer = r.text(*t, "peer", "[[input]] " + table->name, true);
    if (!peer)
      return peer.err();
    auto fqdn = peer_of(r, names, *t->get("peer"), *peer);
    if (!fqdn)
      return fqdn.err();
    in->set_peer(*fqdn);
    mentions.emplace_back(*fqdn, true);
    if (const auto* check = t->get("check")) {
      if (!check->is_string())
        return r.bad(check->source(), "`check` of [[input]] " + table->name + " is its data-quality check in SQL, "
                                      "in quotes");
      in->mutable_data_quality()->set_language("joconde-sql/1");
      in->mutable_data_quality()->set_source(check->value<std::string>().value());
      task.checks[table->name] = r.sql_start(*check);
    }
  }
  auto outputs = r.sections(doc, "output");
  if (!outputs)
    return outputs.err();
  if (outputs->empty())
    return r.bad(doc.source(), "the task needs at least one [[output]] section");
  for (const auto* t : *outputs) {
    if (auto ok = r.only(*t, {"readers", "table", "max_rows"}, "[[output]]"); !ok)
      return ok;
    auto table = read_slot(r, *t, false, keys);
    if (!table)
      return table.err();
    auto* o = ctsc.add_outputs();
    o->set_key(table->name);
    o->set_max_rows(table->max_rows);
    for (auto& c : table->columns)
      *o->add_schema() = std::move(c);
    auto readers = r.texts(*t, "readers", "[[output]] " + table->name, true);
    if (!readers)
      return readers.err();
    for (const auto& ref : *readers) {
      auto fqdn = peer_of(r, names, *t->get("readers"), ref);
      if (!fqdn)
        return fqdn.err();
      o->add_peers(*fqdn);
      mentions.emplace_back(*fqdn, false);
    }
  }
  return add_peers(r, doc, names, mentions, ctsc);
}

result<peer_names> read_peer_names(const reader& r, const toml::table& doc) {
  peer_names out;
  const auto* n = doc.get("peers");
  if (n == nullptr)
    return out;
  const auto* t = n->as_table();
  if (t == nullptr)
    return r.bad(n->source(), "[peers] gives each peer a short name: a = \"client-a.example.org\"");
  for (auto&& [k, v] : *t) {
    if (!v.is_string() || v.value<std::string>()->find('.') == std::string::npos)
      return r.bad(v.source(), "peer `" + std::string{k.str()} + "` is the FQDN of its node, in quotes "
                                                                  "(\"client-a.example.org\")");
    auto fqdn = v.value<std::string>().value();
    if (!out.declared.insert(fqdn).second)
      return r.bad(v.source(), "two names in [peers] stand for " + fqdn);
    out.fqdn_of[std::string{k.str()}] = fqdn;
  }
  return out;
}

result<void> read_attachments(const reader& r, const toml::table& doc, const std::filesystem::path& base,
                              v1::Ctsc& out) {
  auto sections = r.sections(doc, "attachment");
  if (!sections)
    return sections.err();
  for (const auto* t : *sections) {
    if (auto ok = r.only(*t, {"title", "description", "file", "media_type"}, "[[attachment]]"); !ok)
      return ok;
    auto* a = out.add_attachments();
    auto title = r.text(*t, "title", "[[attachment]]", true);
    if (!title)
      return title.err();
    auto description = r.text(*t, "description", "[[attachment]]", false);
    if (!description)
      return description.err();
    auto file = r.text(*t, "file", "[[attachment]]", true);
    if (!file)
      return file.err();
    a->set_title(*title);
    a->set_description(*description);
    if (auto ok = read_document(r, *t, "file", "[[attachment]]", *file, base, *a->mutable_content()); !ok)
      return ok;
  }
  return ok();
}

/// The TOML tree of `text`, or its syntax error with line and column.
result<toml::table> parse_toml(std::string_view text, const std::string& file, std::string_view what) {
  try {
    return toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    return fail(errc::malformed_input,
                file + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column)
                  + ": " + std::string{e.description()} + " (the readable " + std::string{what}
                  + " is TOML: docs/task-files.md)");
  }
}

} // namespace

std::string media_type_for(std::string_view file_name) {
  auto ext = std::filesystem::path{file_name}.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::map<std::string, std::string, std::less<>> types{
    {".pdf", "application/pdf"},
    {".asice", "application/vnd.etsi.asic-e+zip"},
    {".sce", "application/vnd.etsi.asic-e+zip"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".txt", "text/plain"},
  };
  auto i = types.find(ext);
  return i == types.end() ? std::string{"application/octet-stream"} : i->second;
}

bool is_json_form(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && text[first] == '{';
}

result<readable_task> parse_task_file(std::string_view text, const std::string& file, std::int64_t now_ms,
                                      const std::filesystem::path& base_dir) {
  auto parsed = parse_toml(text, file, "task file");
  if (!parsed)
    return std::move(parsed).err();
  const auto& doc = *parsed;
  reader r{text, file};
  if (auto ok = r.only(doc, {"title", "description", "computing_parties", "peers", "deadlines", "engine", "tee",
                             "input", "output", "algorithm", "attachment"},
                       "the task file");
      !ok)
    return ok.err();
  readable_task task;
  auto& ctsc = task.ctsc;
  auto title = r.text(doc, "title", "the task file", true);
  if (!title)
    return std::move(title).err();
  auto description = r.text(doc, "description", "the task file", false);
  if (!description)
    return std::move(description).err();
  ctsc.set_title(*title);
  ctsc.set_description(*description);
  if (auto ok = read_deadlines(r, doc, now_ms, *ctsc.mutable_temporal()); !ok)
    return ok.err();
  if (auto ok = read_engine(r, doc, *ctsc.mutable_engine()); !ok)
    return ok.err();
  if (auto ok = read_measurements(r, doc, ctsc); !ok)
    return ok.err();
  auto names = read_peer_names(r, doc);
  if (!names)
    return std::move(names).err();
  if (auto ok = read_inputs_and_outputs(r, doc, *names, task); !ok)
    return ok.err();
  auto parties = r.texts(doc, "computing_parties", "the task file", true);
  if (!parties)
    return std::move(parties).err();
  for (const auto& cp : *parties)
    ctsc.add_computing_parties()->set_fqdn(cp);
  const auto* algo = doc.get_as<toml::table>("algorithm");
  if (algo == nullptr)
    return r.bad(doc.source(), "the task needs an [algorithm] section with its SQL: source = \"\"\"INSERT INTO ...\"\"\"");
  if (auto ok = r.only(*algo, {"language", "source"}, "[algorithm]"); !ok)
    return ok.err();
  auto language = r.text(*algo, "language", "[algorithm]", false);
  if (!language)
    return std::move(language).err();
  auto source = r.text(*algo, "source", "[algorithm]", true);
  if (!source)
    return std::move(source).err();
  ctsc.mutable_main_algorithm()->set_language(language->empty() ? "joconde-sql/1" : *language);
  ctsc.mutable_main_algorithm()->set_source(*source);
  task.algorithm = r.sql_start(*algo->get("source"));
  if (auto ok = read_attachments(r, doc, base_dir, ctsc); !ok)
    return ok.err();
  return task;
}

result<v1::Ctsa> parse_ctsa_file(std::string_view text, const std::string& file,
                                 const std::filesystem::path& base_dir) {
  auto parsed = parse_toml(text, file, "CTSA file");
  if (!parsed)
    return std::move(parsed).err();
  const auto& doc = *parsed;
  reader r{text, file};
  if (auto ok = r.only(doc, {"signatory", "data_custodian", "data_analyst"}, "the CTSA file"); !ok)
    return ok.err();
  v1::Ctsa ctsa;
  auto signatories = r.sections(doc, "signatory");
  if (!signatories)
    return std::move(signatories).err();
  if (signatories->empty())
    return r.bad(doc.source(), "the CTSA needs at least one [[signatory]] section: name = \"...\"");
  for (const auto* t : *signatories) {
    if (auto ok = r.only(*t, {"name", "identification", "media_type"}, "[[signatory]]"); !ok)
      return ok.err();
    auto name = r.text(*t, "name", "[[signatory]]", true);
    if (!name)
      return std::move(name).err();
    auto* s = ctsa.add_signatories();
    s->set_name(*name);
    auto id = r.text(*t, "identification", "[[signatory]]", false);
    if (!id)
      return std::move(id).err();
    if (!id->empty())
      if (auto ok = read_document(r, *t, "identification", "[[signatory]]", *id, base_dir, *s->mutable_identification()); !ok)
        return ok.err();
  }
  for (bool custodian : {true, false}) {
    const char* section = custodian ? "data_custodian" : "data_analyst";
    const char* keys = custodian ? "inputs" : "outputs";
    auto people = r.sections(doc, section);
    if (!people)
      return std::move(people).err();
    for (const auto* t : *people) {
      auto where = "[[" + std::string{section} + "]]";
      if (auto ok = r.only(*t, {"name", "pak", keys}, where); !ok)
        return ok.err();
      auto name = r.text(*t, "name", where, true);
      if (!name)
        return std::move(name).err();
      auto pak_file = r.text(*t, "pak", where, true);
      if (!pak_file)
        return std::move(pak_file).err();
      auto pem = r.document(*t->get("pak"), *pak_file, base_dir);
      if (!pem)
        return std::move(pem).err();
      auto key = crypto::public_key::from_pem(*pem);
      if (!key)
        return r.bad(t->get("pak")->source(), "'" + *pak_file + "' is not a PEM public key (make it from the key "
                                                               "file: openssl pkey -in KEY_FILE -pubout)");
      auto slots = r.texts(*t, keys, where, true);
      if (!slots)
        return std::move(slots).err();
      auto spki = key->to_der();
      std::string der(spki.begin(), spki.end());
      if (custodian) {
        auto* dc = ctsa.add_data_custodians();
        dc->set_name(*name);
        dc->set_pak(der);
        for (const auto& k : *slots)
          dc->add_input_keys(k);
      } else {
        auto* da = ctsa.add_data_analysts();
        da->set_name(*name);
        da->set_pak(der);
        for (const auto& k : *slots)
          da->add_output_keys(k);
      }
    }
  }
  return ctsa;
}

std::string in_file_lines(const std::string& message, const std::string& file, source_place at) {
  // The compiler's place is the first "L:C: " that starts the message or follows a space
  // ("main algorithm: 2:8: ...", "quality check of `x`, 1:5: ...").
  auto digits_from = [&](std::size_t i) {
    std::size_t j = i;
    while (j < message.size() && j - i < 9 && std::isdigit(static_cast<unsigned char>(message[j])))
      ++j;
    return j;
  };
  for (std::size_t start = 0; start < message.size(); ++start) {
    if (start > 0 && message[start - 1] != ' ')
      continue;
    auto colon1 = digits_from(start);
    if (colon1 == start || colon1 >= message.size() || message[colon1] != ':')
      continue;
    auto colon2 = digits_from(colon1 + 1);
    if (colon2 == colon1 + 1 || colon2 >= message.size() || message[colon2] != ':')
      continue;
    auto line = std::stoll(message.substr(start, colon1 - start));
    auto column = std::stoll(message.substr(colon1 + 1, colon2 - colon1 - 1));
    auto file_line = at.line + line - 1;
    auto file_column = line == 1 ? at.column + column - 1 : column;
    return message.substr(0, start) + file + ":" + std::to_string(file_line) + ":" + std::to_string(file_column)
           + message.substr(colon2);
  }
  return message;
}

} // namespace joconde::cli
