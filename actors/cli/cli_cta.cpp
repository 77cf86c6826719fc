// The `joconde` commands on a CTA and its agreement: cta create, list, show, cancel; a peer's
// ctsa submit and cta sign; the SO's cta approve and reject; an IT administrator's cta override.

#include "cli/cli_command.hpp"
#include "cli/cli_task.hpp"

#include "joconde/runtime/crypto.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <optional>
#include <ostream>

namespace joconde::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// The call of `cta create` with the task in `task_file`, its disclosures filled in. A readable
/// task says on `err` when its deadlines fall, which it may have given as durations from now.
result<call> create_call(const std::string& task_file, std::ostream& err) {
  auto task = read_task_file(task_file, now_ms());
  if (!task)
    return std::move(task).err();
  // The root requires the disclosures the compiler states; they are filled in here. A JSON task
  // this client cannot read as a CTSC goes to the node as it is, which says what is wrong.
  auto body = with_disclosures(*task);
  if (!body && (body.err().code == errc::compile_error || task->readable))
    return std::move(body).err();
  if (!body)
    body = task->json;
  if (task->readable) {
    const auto& t = task->readable->ctsc.temporal();
    err << "joconde: " << printable(task_file) << ": deadlines approval " << format_utc_ms(t.approval_deadline_ms())
        << ", input " << format_utc_ms(t.input_deadline_ms()) << ", execution " << format_utc_ms(t.execution_deadline_ms())
        << ", output " << format_utc_ms(t.output_deadline_ms()) << " (joconde task show prints the whole CTSC)\n";
  }
  return call{"POST", "/v1/ctas", std::move(*body), [](const json& doc) -> result<std::string> {
                if (!doc.is_object() || !doc.contains("uuid") || !doc["uuid"].is_string()
                    || doc["uuid"].get_ref<const std::string&>().empty())
                  return fail(errc::malformed_input, "the node's answer has no \"uuid\"");
                return printable(doc["uuid"].get_ref<const std::string&>()) + "\n";
              }};
}

/// `cta create` of a task without "tee_measurements": asks the node for the measurement of its CT
/// VM image (GET /v1/tee) and puts it into the task, saying so on stderr. The exit code when that
/// fails (nothing was created), else nullopt.
std::optional<int> fill_tee_measurements(call& c, const endpoint& ep, const invocation& in) {
  auto doc = json::parse(c.body, nullptr, false);
  if (!doc.is_object() || doc.contains("tee_measurements"))
    return std::nullopt;
  const std::string hint = " (GET /v1/tee; give \"tee_measurements\" in the task file instead)";
  auto res = http::client::send(ep.url, "GET", "/v1/tee", "", ep.token,
                                client_options_of(ep, in.opts.timeout));
  if (!res) {
    in.err << "joconde: " << res.err().describe() << hint << "\n";
    return exit_code_for_send_error(res.err().code);
  }
  if (res->status != 200) {
    in.err << "joconde: " << describe_http_error(*res) << hint << "\n";
    return exit_code_for_status(res->status);
  }
  auto tee = json::parse(res->body, nullptr, false);
  std::optional<crypto::bytes> measurement;
  if (tee.is_object() && tee.contains("measurement") && tee["measurement"].is_string())
    if (auto m = crypto::from_hex(tee["measurement"].get<std::string>()); m && m->size() == 48)
      measurement = std::move(*m);
  if (!measurement || !tee.contains("image") || !tee["image"].is_string()) {
    in.err << "joconde: malformed_input: the node's answer has no CT VM image and 48-byte "
              "measurement"
           << hint << "\n";
    return exit_server;
  }
  // Protobuf's JSON form of bytes is base64.
  doc["tee_measurements"] = json::array(
    {{{"platform", "simulated"},
      {"image", tee["image"]},
      {"measurement", crypto::to_base64(*measurement)}}});
  c.body = doc.dump();
  auto node = tee.contains("node") && tee["node"].is_string() ? tee["node"].get<std::string>()
                                                              : ep.url;
  in.err << "tee_measurements: simulated joconde-vm measurement " << crypto::hex(*measurement)
         << " from " << printable(node) << "\n";
  return std::nullopt;
}

/// A signatory's index: decimal digits only, at most UINT32_MAX (the CTSA's field is a uint32).
std::optional<std::uint32_t> parse_index(std::string_view s) {
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front())) || ec != std::errc{}
      || end != s.data() + s.size())
    return std::nullopt;
  return n;
}

/// True for a media type of the form TYPE/SUBTYPE without spaces or control characters.
bool valid_media_type(std::string_view s) {
  const auto slash = s.find('/');
  return slash != 0 && slash != std::string_view::npos && slash + 1 < s.size()
         && std::none_of(s.begin(), s.end(), [](char c) {
              auto u = static_cast<unsigned char>(c);
              return u <= 0x20 || u == 0x7f;
            });
}

/// The call of `cta sign`: reads and encodes the document.
result<call> sign_call(const invocation& in) {
  const auto& opts = in.opts;
  auto path = cta_path("cta sign", in.args[0]);
  if (!path)
    return std::move(path).err();
  if (opts.signatory.empty() || opts.document.empty())
    return usage_error("cta sign", "cta sign needs --signatory N and --document FILE");
  const auto index = parse_index(opts.signatory);
  if (!index)
    return usage_error("cta sign", "--signatory wants the signatory's index in the CTSA, a "
                                   "non-negative integer, not '" + printable(opts.signatory) + "'");
  if (!opts.media_type.empty() && !valid_media_type(opts.media_type))
    return usage_error("cta sign", "--media-type wants TYPE/SUBTYPE, e.g. application/pdf, not '"
                                     + printable(opts.media_type) + "'");
  auto bytes = read_input_file(opts.document, "document", max_document_bytes);
  if (!bytes)
    return std::move(bytes).err();
  const auto file_name = fs::path{opts.document}.filename().string();
  auto body = request_body(json{
    {"signatory", *index},
    {"document",
     {{"name", file_name},
      {"media_type", opts.media_type.empty() ? media_type_for(file_name) : opts.media_type},
      {"data", crypto::to_base64(*bytes)}}}});
  if (!body)
    return std::move(body).err();
  return call{"POST", *path + "/signatures", std::move(*body), render_signature};
}

/// The call of `cta approve` or `cta reject`, the SO's decision.
result<call> decision_call(const invocation& in, bool approve) {
  const std::string name = approve ? "cta approve" : "cta reject";
  auto path = cta_path(name, in.args[0]);
  if (!path)
    return std::move(path).err();
  if (in.opts.peer.empty())
    return usage_error(name, name + " needs --peer NAME");
  json decision{{"peer", in.opts.peer}, {"approve", approve}};
  if (!approve) {
    if (blank(in.opts.reason))
      return usage_error(name, "cta reject needs --reason TEXT saying what the peer must fix");
    decision["reason"] = in.opts.reason;
  }
  auto body = request_body(decision);
  if (!body)
    return std::move(body).err();
  return call{"POST", *path + "/decisions", std::move(*body),
              [approve](const json& doc) { return render_decision(doc, approve); }};
}

/// The call of `cta cancel`.
result<call> cancel_call(const invocation& in) {
  auto path = cta_path("cta cancel", in.args[0]);
  if (!path)
    return std::move(path).err();
  if (blank(in.opts.reason))
    return usage_error("cta cancel", "cta cancel needs --reason TEXT saying why");
  auto body = request_body(json{{"reason", in.opts.reason}});
  if (!body)
    return std::move(body).err();
  return call{"POST", *path + "/cancel", std::move(*body), [](const json& doc) -> result<std::string> {
                if (!doc.is_object() || !doc.contains("status") || !doc["status"].is_string())
                  return fail(errc::malformed_input, "the node's answer has no \"status\"");
                return "CTA " + printable(doc.value("uuid", std::string{})) + ": "
                       + printable(doc["status"].get<std::string>()) + "\n";
              }};
}

/// The call of `cta override`.
result<call> override_call(const invocation& in) {
  auto path = cta_path("cta override", in.args[0]);
  if (!path)
    return std::move(path).err();
  if (blank(in.opts.member) || blank(in.opts.reason))
    return usage_error("cta override", "cta override needs --member NAME and --reason TEXT saying "
                                       "why the risk is accepted");
  auto body = request_body(json{{"member", in.opts.member}, {"reason", in.opts.reason}});
  if (!body)
    return std::move(body).err();
  return call{"POST", *path + "/overrides", std::move(*body), render_override};
}

/// The call of `ctsa submit`: the CTSA file as it is, or its readable form as JSON.
result<call> ctsa_call(const invocation& in) {
  auto path = cta_path("ctsa submit", in.args[0]);
  if (!path)
    return std::move(path).err();
  auto body = read_ctsa_file(in.args[1]);
  if (!body)
    return std::move(body).err();
  return call{"POST", *path + "/ctsa", std::move(*body), render_ctsa_submitted};
}

} // namespace

int run_cta_create(const invocation& in) {
  return send(in, create_call(in.args[0], in.err), [&in](call& c, const endpoint& ep) {
    return fill_tee_measurements(c, ep, in);
  });
}

int run_cta_list(const invocation& in) {
  return send(in, call{"GET", "/v1/ctas", {}, render_cta_list});
}

int run_cta_show(const invocation& in) {
  auto path = cta_path("cta show", in.args[0]);
  if (!path)
    return refuse(in, path.err());
  return send(in, call{"GET", *path, {}, render_cta});
}

int run_ctsa_submit(const invocation& in) {
  return send(in, ctsa_call(in));
}

int run_cta_sign(const invocation& in) {
  return send(in, sign_call(in));
}

int run_cta_approve(const invocation& in) {
  return send(in, decision_call(in, true));
}

int run_cta_reject(const invocation& in) {
  return send(in, decision_call(in, false));
}

int run_cta_cancel(const invocation& in) {
  return send(in, cancel_call(in));
}

int run_cta_override(const invocation& in) {
  return send(in, override_call(in));
}

} // namespace joconde::cli
