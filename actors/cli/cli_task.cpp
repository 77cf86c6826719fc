#include "cli/cli_task.hpp"

#include "cli/cli_command.hpp"

#include "joconde/artefacts.pb.h"
#include "joconde/engines/ctsc.hpp"
#include "joconde/engines/engine.hpp"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include <chrono>

namespace joconde::cli {

namespace {

/// The most bytes a task file may hold: the node's request limit.
constexpr std::uintmax_t max_task_bytes = 16u << 20;

result<v1::Ctsc> parse_task(const std::string& task_json) {
  v1::Ctsc ctsc;
  auto status = google::protobuf::util::JsonStringToMessage(task_json, &ctsc);
  if (!status.ok())
    return fail(errc::malformed_input, "the task file is not a CTSC: " + status.ToString());
  return ctsc;
}

/// A compiler error told in the lines of the readable file it came from.
error in_file(const task_text& task, error e) {
  if (!task.readable || e.code != errc::compile_error)
    return e;
  const auto& r = *task.readable;
  if (e.message.rfind("quality check of `", 0) == 0) {
    auto end = e.message.find('`', 18);
    auto key = end == std::string::npos ? std::string{} : e.message.substr(18, end - 18);
    if (auto it = r.checks.find(key); it != r.checks.end())
      e.message = in_file_lines(e.message, task.file, it->second);
    return e;
  }
  e.message = in_file_lines(e.message, task.file, r.algorithm);
  return e;
}

} // namespace

namespace {

/// The readable task `text` as the CTSC's JSON; attachments relative to `base` (empty: none).
result<task_text> readable_task_text(std::string_view text, const std::string& name, std::int64_t now_ms,
                                     const std::filesystem::path& base) {
  auto task = parse_task_file(text, name, now_ms, base);
  if (!task)
    return std::move(task).err();
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  if (auto status = google::protobuf::util::MessageToJsonString(task->ctsc, &json, opts); !status.ok())
    return fail(errc::malformed_input, name + ": the task does not make a CTSC: " + status.ToString());
  return task_text{name, std::move(json), std::move(*task)};
}

} // namespace

result<task_text> read_task_file(const std::string& path, std::int64_t now_ms) {
  auto text = read_input_file(path, "task file", max_task_bytes);
  if (!text)
    return std::move(text).err();
  if (is_json_form(*text) || std::filesystem::path{path}.extension() == ".json") {
    auto json = read_json_object(path, "task file", "a CTA task");
    if (!json)
      return std::move(json).err();
    return task_text{path, std::move(*json), std::nullopt};
  }
  return readable_task_text(*text, path, now_ms, std::filesystem::path{path}.parent_path());
}

result<task_text> read_task_text(std::string_view text, const std::string& name, std::int64_t now_ms) {
  if (text.size() > max_task_bytes)
    return fail(errc::too_large, name + " is larger than " + std::to_string(max_task_bytes) + " bytes");
  if (!is_json_form(text))
    return readable_task_text(text, name, now_ms, {});
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return fail(errc::malformed_input, name + " is not a JSON object (a CTA task)");
  return task_text{name, doc.dump(), std::nullopt};
}

result<std::string> read_ctsa_file(const std::string& path) {
  auto text = read_input_file(path, "CTSA file", max_task_bytes);
  if (!text)
    return std::move(text).err();
  if (is_json_form(*text) || std::filesystem::path{path}.extension() == ".json")
    return read_json_object(path, "CTSA file", "a CTSA");
  auto ctsa = parse_ctsa_file(*text, path, std::filesystem::path{path}.parent_path());
  if (!ctsa)
    return std::move(ctsa).err();
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  if (auto status = google::protobuf::util::MessageToJsonString(*ctsa, &json, opts); !status.ok())
    return fail(errc::malformed_input, path + ": the file does not make a CTSA: " + status.ToString());
  return json;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

result<task_check> check_task(const task_text& task) {
  auto ctsc = parse_task(task.json);
  if (!ctsc)
    return std::move(ctsc).err();
  const auto* engine = engines::find_engine(ctsc->engine().name());
  if (engine == nullptr)
    return fail(errc::unsupported, "the task names the MPC engine '" + ctsc->engine().name()
                                     + "', which this build does not have");
  auto prog = engines::compile_ctsc(*ctsc);
  if (!prog)
    return in_file(task, std::move(prog).err());
  if (auto r = engine->supports(*prog); !r)
    return r.err();
  return task_check{engine->caps().name, prog->features(), prog->disclosures(), prog->approximate_columns()};
}

result<std::string> with_disclosures(const task_text& task) {
  auto check = check_task(task);
  if (!check)
    return std::move(check).err();
  auto doc = nlohmann::json::parse(task.json, nullptr, false);
  if (!doc.is_object())
    return fail(errc::malformed_input, "the task file is not a JSON object");
  doc["main_algorithm"]["disclosures"] = check->disclosures;
  return doc.dump();
}

std::string indented_ctsc(const std::string& json) {
  v1::Ctsc ctsc;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::JsonStringToMessage(json, &ctsc).ok()
      || !google::protobuf::util::MessageToJsonString(ctsc, &out, opts).ok())
    return json + "\n";
  // Protobuf's own indentation is one space and escapes '<' and '>': re-indented by field order.
  return nlohmann::ordered_json::parse(out).dump(2) + "\n";
}

} // namespace joconde::cli
