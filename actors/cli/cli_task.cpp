#include "cli/cli_task.hpp"

#include "joconde/artefacts.pb.h"
#include "joconde/engines/ctsc.hpp"
#include "joconde/engines/engine.hpp"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

namespace joconde::cli {

namespace {

result<v1::Ctsc> parse_task(const std::string& task_json) {
  v1::Ctsc ctsc;
  auto status = google::protobuf::util::JsonStringToMessage(task_json, &ctsc);
  if (!status.ok())
    return fail(errc::malformed_input, "the task file is not a CTSC: " + status.ToString());
  return ctsc;
}

} // namespace

result<task_check> check_task(const std::string& task_json) {
  auto ctsc = parse_task(task_json);
  if (!ctsc)
    return std::move(ctsc).err();
  const auto* engine = engines::find_engine(ctsc->engine().name());
  if (engine == nullptr)
    return fail(errc::unsupported, "the task names the MPC engine '" + ctsc->engine().name()
                                     + "', which this build does not have");
  auto prog = engines::compile_ctsc(*ctsc);
  if (!prog)
    return std::move(prog).err();
  if (auto r = engine->supports(*prog); !r)
    return r.err();
  return task_check{engine->caps().name, prog->features(), prog->disclosures()};
}

result<std::string> with_disclosures(const std::string& task_json) {
  auto check = check_task(task_json);
  if (!check)
    return std::move(check).err();
  auto doc = nlohmann::json::parse(task_json, nullptr, false);
  if (!doc.is_object())
    return fail(errc::malformed_input, "the task file is not a JSON object");
  doc["main_algorithm"]["disclosures"] = check->disclosures;
  return doc.dump();
}

} // namespace joconde::cli
