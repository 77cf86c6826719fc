// joconde-engine-run: runs a task's main algorithm on clear CSV files, through the plaintext
// reference engine or through rss3 in three local processes, and writes each output's valid rows
// as CSV, so that a demo's result can be checked against an independent computation
// (ops/demo-data compare).
//
// Usage: joconde-engine-run TASK.json INPUT=FILE.csv... [--engine reference|rss3] [--out DIR]
//                           [--timeout SECONDS]
//   TASK.json  a CTA task (CTSC draft JSON, as config/examples/task.json)
//   INPUT=FILE one per input of the task, by its key
//   --engine   reference (default) or rss3 (three processes on loopback, split and rebuilt here)
//   --out DIR  write DIR/<output>.csv; without it, the single output goes to standard output
//   --timeout  the longest an rss3 run may take (default 600)
// Timings and the number of dropped (invalid) rows go to standard error. Exit codes: 0 ok,
// 1 the task, a file or the run failed, 2 usage.

#include "joconde/artefacts.pb.h"
#include "joconde/engines/csv.hpp"
#include "joconde/engines/ctsc.hpp"
#include "joconde/engines/engine.hpp"

#include "engines/three_parties.hpp"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace joconde;
using namespace joconde::engines;

namespace {

constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

/// Clear columns by table name.
using clear_tables = std::map<std::string, std::vector<std::vector<word>>>;

/// An output as the analyst rebuilds it: its columns and its valid flags.
struct clear_output {
  std::vector<std::vector<word>> columns;
  std::vector<word> valid;
};

using clear_outputs = std::map<std::string, clear_output>;

result<std::string> read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return fail(errc::io_error, "cannot open " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

result<clear_outputs> run_reference(const sql::program& prog, const clear_tables& data) {
  activation act;
  for (const auto& [name, cols] : data) {
    auto& t = act.inputs[name];
    t.rows = cols.empty() ? 0 : cols[0].size();
    for (const auto& c : cols)
      t.columns.push_back(secret{c, {}});
  }
  auto report = find_engine("reference")->activate(prog, std::move(act));
  if (!report)
    return std::move(report).err();
  clear_outputs out;
  for (auto& [name, t] : report->outputs) {
    auto& o = out[name];
    for (auto& c : t.columns)
      o.columns.push_back(std::move(c.a));
    o.valid = std::move(t.valid.a);
  }
  return out;
}

/// Appends a length-prefixed share file.
void put_blob(std::vector<std::uint8_t>& out, const secret& s) {
  auto bytes = encode_shares(s);
  auto n = static_cast<std::uint64_t>(bytes.size());
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), bytes.begin(), bytes.end());
}

result<secret> get_blob(const std::vector<std::uint8_t>& in, std::size_t& pos) {
  if (pos + 8 > in.size())
    return fail(errc::malformed_input, "a party's result is truncated");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= std::uint64_t{in[pos + static_cast<std::size_t>(i)]} << (8 * i);
  pos += 8;
  if (n > in.size() - pos)
    return fail(errc::malformed_input, "a party's result is truncated");
  auto s = decode_shares(std::span{in}.subspan(pos, n), std::size_t{1} << 32);
  pos += n;
  return s;
}

result<clear_outputs> run_rss3(const sql::program& prog, const clear_tables& data,
                               std::chrono::seconds timeout) {
  const engine* rss3 = find_engine("rss3");
  // Each column is split as a Data Custodian's client does.
  std::array<std::map<std::string, secret_table>, 3> shares;
  for (const auto& [name, cols] : data)
    for (const auto& c : cols) {
      auto parts = rss3->split(c);
      for (unsigned p = 0; p < 3; ++p) {
        shares[p][name].rows = c.size();
        shares[p][name].columns.push_back(std::move(parts[p]));
      }
    }
  test::three_options opts;
  opts.io_timeout = timeout;
  opts.overall = timeout;
  for (unsigned p = 0; p < 3; ++p)
    opts.replace[p] = [&, p](const rss3::options& o) {
      activation act;
      act.party = p;
      act.endpoints = o.endpoints;
      act.keys = o.keys;
      act.listen_fd = o.listen_fd;
      act.io_timeout = timeout;
      act.inputs = std::move(shares[p]);
      auto report = rss3->activate(prog, std::move(act));
      if (!report)
        throw engine_failure(report.err());
      std::vector<std::uint8_t> out;
      for (const auto& schema : prog.outputs()) {
        const auto& t = report->outputs.at(schema.name);
        for (const auto& c : t.columns)
          put_blob(out, c);
        put_blob(out, t.valid);
      }
      return out;
    };
  auto outcomes = test::run_three_parties({}, opts);
  for (unsigned p = 0; p < 3; ++p)
    if (!outcomes[p].ok)
      return fail(errc::protocol_error, "rss3 party " + std::to_string(p) + ": "
                                          + outcomes[p].error);
  clear_outputs out;
  std::array<std::size_t, 3> pos{0, 0, 0};
  auto rebuild = [&]() -> result<std::vector<word>> {
    std::array<secret, 3> parts;
    for (unsigned p = 0; p < 3; ++p) {
      auto s = get_blob(outcomes[p].bytes, pos[p]);
      if (!s)
        return std::move(s).err();
      parts[p] = std::move(*s);
    }
    return rss3->rebuild(parts);
  };
  for (const auto& schema : prog.outputs()) {
    auto& o = out[schema.name];
    // A column per word (three for a value beyond the ring), the published flags of a
    // confidentiality rule, then the valid flags.
    const auto words = prog.output_words(schema.name);
    std::size_t ncols = prog.confidentiality(schema.name).flagged ? 1 : 0;
    for (std::size_t c = 0; c < schema.columns.size(); ++c)
      ncols += c < words.size() ? words[c] : 1;
    for (std::size_t c = 0; c <= ncols; ++c) {
      auto values = rebuild();
      if (!values)
        return std::move(values).err();
      if (c < ncols)
        o.columns.push_back(std::move(*values));
      else
        o.valid = std::move(*values);
    }
  }
  return out;
}

int usage(const std::string& why) {
  std::cerr << "joconde-engine-run: " << why
            << "\nusage: joconde-engine-run TASK.json INPUT=FILE.csv... [--engine reference|rss3] "
               "[--out DIR] [--timeout SECONDS]\n";
  return exit_usage;
}

int failed(const error& e) {
  std::cerr << "joconde-engine-run: " << e.describe() << "\n";
  return exit_failed;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string task_path;
  std::string out_dir;
  std::string engine_name = "reference";
  long timeout_s = 600;
  std::map<std::string, std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--out" || a == "--engine" || a == "--timeout") {
      if (i + 1 == args.size())
        return usage(a + " needs a value");
      const auto& v = args[++i];
      if (a == "--out")
        out_dir = v;
      else if (a == "--engine")
        engine_name = v;
      else if (timeout_s = std::atol(v.c_str()); timeout_s <= 0)
        return usage("--timeout needs a positive number of seconds");
    } else if (auto eq = a.find('='); eq != std::string::npos && !task_path.empty()) {
      files[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (task_path.empty()) {
      task_path = a;
    } else {
      return usage("unexpected argument '" + a + "'");
    }
  }
  if (task_path.empty())
    return usage("no task file");
  if (engine_name != "reference" && engine_name != "rss3")
    return usage("--engine is reference or rss3");

  auto json = read_file(task_path);
  if (!json)
    return failed(json.err());
  v1::Ctsc ctsc;
  if (auto st = google::protobuf::util::JsonStringToMessage(*json, &ctsc); !st.ok())
    return failed(fail(errc::malformed_input, task_path + " is not a CTSC: " + st.ToString()));
  auto prog = compile_ctsc(ctsc);
  if (!prog)
    return failed(prog.err());
  if (out_dir.empty() && prog->outputs().size() != 1)
    return usage("the task has several outputs: give --out DIR");

  clear_tables data;
  for (const auto& schema : prog->inputs()) {
    auto f = files.find(schema.name);
    if (f == files.end())
      return usage("no file for input `" + schema.name + "` (give " + schema.name + "=FILE.csv)");
    auto text = read_file(f->second);
    if (!text)
      return failed(text.err());
    auto t0 = std::chrono::steady_clock::now();
    auto table = parse_csv(*text, schema, header_only::allowed);
    if (!table)
      return failed(fail(table.err().code, f->second + ": " + table.err().message));
    std::cerr << "input `" << schema.name << "`: " << table->rows << " rows parsed in "
              << ms_since(t0) << " ms\n";
    data[schema.name] = std::move(table->columns);
    files.erase(f);
  }
  if (!files.empty())
    return usage("the task has no input `" + files.begin()->first + "`");

  auto t0 = std::chrono::steady_clock::now();
  auto outputs = engine_name == "rss3" ? run_rss3(*prog, data, std::chrono::seconds{timeout_s})
                                       : run_reference(*prog, data);
  if (!outputs)
    return failed(outputs.err());
  std::cerr << engine_name << ": ran in " << ms_since(t0) << " ms\n";

  for (const auto& schema : prog->outputs()) {
    auto it = outputs->find(schema.name);
    if (it == outputs->end())
      return failed(fail(errc::invalid_state, "no output `" + schema.name
                                                + "`: a data-quality check failed"));
    // The analyst keeps the valid rows only; invalid ones are all zeros (docs/engines.md).
    const auto& o = it->second;
    std::vector<std::vector<word>> columns(o.columns.size());
    std::size_t rows = 0;
    for (std::size_t r = 0; r < o.valid.size(); ++r) {
      if (o.valid[r] == 0)
        continue;
      for (std::size_t c = 0; c < o.columns.size(); ++c)
        columns[c].push_back(o.columns[c][r]);
      ++rows;
    }
    std::cerr << "output `" << schema.name << "`: " << rows << " valid rows, "
              << o.valid.size() - rows << " invalid (dropped)\n";
    const auto words = prog->output_words(schema.name);
    const auto flags = prog->confidentiality(schema.name);
    auto csv = flags.flagged ? format_flagged_csv(schema, columns, rows, words, flags)
                             : format_csv(schema, columns, rows, words);
    if (out_dir.empty()) {
      std::cout << csv;
      continue;
    }
    auto path = out_dir + "/" + schema.name + ".csv";
    std::ofstream out{path, std::ios::binary};
    if (!(out << csv))
      return failed(fail(errc::io_error, "cannot write " + path));
  }
  return 0;
}
