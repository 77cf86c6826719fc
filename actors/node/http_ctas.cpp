#include "http_ctas.hpp"

#include "cta_json.hpp"

#include "../cplane/artefact_manager.hpp"
#include "../mplane/user_directory.hpp"

#include "joconde/agreement.pb.h"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/log.hpp"

#include <caf/scoped_actor.hpp>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <optional>

namespace joconde {

namespace {

using nlohmann::json;
constexpr auto ask_timeout = std::chrono::seconds{5};
/// For a request the root answers: the artefact manager's own wait, and a little more.
constexpr auto root_timeout = registration_timeout + std::chrono::seconds{5};

/// Reads `text` in Protobuf's JSON form into `out`, unknown fields refused; the 400 to answer (the
/// parser's reason after `what`) if it is not one.
std::optional<http::response> read_json(const std::string& text, google::protobuf::Message& out,
                                        const std::string& what) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  if (auto status = google::protobuf::util::JsonStringToMessage(text, &out, opts); !status.ok())
    return http::response::error(400, "malformed_input", what + status.ToString());
  return std::nullopt;
}

/// Renders what the artefact manager answers (cta_json.hpp); an error if its own record does not parse.
result<json> render(const cta_receipt& r) { return receipt_json(r); }
result<json> render(const proto_bytes<v1::PakRecord>& p) {
  auto pak = proto::parse(p);
  if (!pak)
    return fail(errc::malformed_input, "the PAK record the artefact manager made does not parse: " + pak.err().describe());
  return pak_json(*pak);
}
result<json> render(const proto_bytes<v1::TrustOverride>& o) {
  auto made = proto::parse(o);
  if (!made)
    return fail(errc::malformed_input, "the trust override the artefact manager made does not parse: "
                                  + made.err().describe());
  return override_json(*made);
}

/// Asks the artefact manager for a `Reply` and answers it as JSON with `status`, the fields of
/// `extra` added; or its error (500 if its answer cannot be rendered).
template <class Reply, class Timeout, class... Ts>
http::response ask_artefacts(node_context& ctx, Timeout timeout, int status, const json& extra, Ts&&... xs) {
  http::response out;
  caf::scoped_actor self{*ctx.sys};
  self->request(ctx.artefacts, timeout, std::forward<Ts>(xs)...)
    .receive(
      [&](Reply& reply) {
        auto doc = render(reply);
        if (!doc) {
          log::error("http", doc.err().describe());
          out = http::response::error(500, "internal_error", doc.err().describe());
          return;
        }
        doc->update(extra);
        out = http::response::json(status, *doc);
      },
      [&](caf::error& err) { out = error_response(err); });
  return out;
}

/// No fields to add to an answer.
const json nothing = json::object();

} // namespace

http::response post_cta(node_context& ctx, const http::request& req, const user& who) {
  v1::Ctsc draft;
  if (auto refused = read_json(req.body, draft, "the task file is not a CTSC: "))
    return *refused;
  return ask_artefacts<cta_receipt>(ctx, root_timeout, 201, nothing, create_atom::value, proto::wrap(draft),
                                    who.name);
}

http::response post_ctsa(node_context& ctx, const http::request& req, const user& who) {
  v1::Ctsa ctsa;
  if (auto refused = read_json(req.body, ctsa, "not a CTSA: "))
    return *refused;
  return ask_artefacts<cta_receipt>(ctx, root_timeout, 200, nothing, submit_atom::value, req.params.at("uuid"),
                                    proto::wrap(ctsa), who.name);
}

http::response post_signature(node_context& ctx, const http::request& req, const user& who) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("signatory") || !body["signatory"].is_number_unsigned()
      || body["signatory"].get<uint64_t>() > std::numeric_limits<uint32_t>::max()
      || !body.contains("document") || !body["document"].is_object())
    return http::response::error(400, "malformed_input",
                                 "give {\"signatory\": INDEX, \"document\": {name, media_type, data}}");
  v1::SignatorySignature sig;
  sig.set_signatory(body["signatory"].get<uint32_t>());
  if (auto refused = read_json(body["document"].dump(), *sig.mutable_document(), "not a document: "))
    return *refused;
  return ask_artefacts<cta_receipt>(ctx, root_timeout, 200, json{{"signatory", body["signatory"]}},
                                    countersign_atom::value, req.params.at("uuid"), proto::wrap(sig),
                                    who.name);
}

http::response post_decision(node_context& ctx, const http::request& req, const user& who) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("peer") || !body["peer"].is_string() || !body.contains("approve")
      || !body["approve"].is_boolean() || (body.contains("reason") && !body["reason"].is_string()))
    return http::response::error(400, "malformed_input",
                                 "give {\"peer\": NAME, \"approve\": true|false, \"reason\": TEXT}");
  return ask_artefacts<cta_receipt>(ctx, ask_timeout, 200, nothing, decide_atom::value, req.params.at("uuid"),
                       body["peer"].get<std::string>(), body["approve"].get<bool>(),
                       body.value("reason", std::string{}), who.name);
}

http::response post_cancel(node_context& ctx, const http::request& req, const user& who) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("reason") || !body["reason"].is_string())
    return http::response::error(400, "malformed_input", "give {\"reason\": TEXT}");
  // A peer's Task Organiser or General Manager at a peer's node (spec §4.1.1: the General Manager
  // manages the organisation's CTs); the System Operator's approver or General Manager at the root.
  bool at_root = ctx.fqdn == ctx.domain;
  bool may = who.has(user_role::general_manager)
             || (at_root ? who.has(user_role::approver) : who.has(user_role::task_organiser));
  if (!may)
    return http::response::error(403, "forbidden",
                                 at_root ? "at the root, the System Operator's approver or general manager cancels"
                                         : "at a peer, its Task Organiser or General Manager cancels");
  return ask_artefacts<cta_receipt>(ctx, root_timeout, 200, nothing, cancel_atom::value, req.params.at("uuid"),
                                    body["reason"].get<std::string>(), who.name);
}

http::response post_override(node_context& ctx, const http::request& req, const user& who) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("member") || !body["member"].is_string() || !body.contains("reason")
      || !body["reason"].is_string())
    return http::response::error(400, "malformed_input",
                                 "give {\"member\": NAME, \"reason\": TEXT}: the member of "
                                 "the CTA to accept unconfirmed, and why");
  return ask_artefacts<proto_bytes<v1::TrustOverride>>(
    ctx, ask_timeout, 201, nothing, override_atom::value, req.params.at("uuid"),
    resolve(ctx, body["member"].get<std::string>()), body["reason"].get<std::string>(), who.name);
}

// The body is a DataCustodian or a DataAnalyst in Protobuf's JSON form (pak in base64).
http::response post_pak(node_context& ctx, const http::request& req, const user& who) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object())
    return http::response::error(400, "malformed_input", "the body must be a JSON object");
  bool custodian = body.contains("input_keys");
  if (custodian == body.contains("output_keys"))
    return http::response::error(400, "malformed_input", "give input_keys (a data custodian) or "
                                                         "output_keys (a data analyst)");
  if (!who.has(custodian ? user_role::data_custodian : user_role::data_analyst))
    return http::response::error(403, "forbidden", custodian ? "input keys are for data custodians"
                                                             : "output keys are for data analysts");
  v1::PakRecord pak;
  pak.set_custodian(custodian);
  if (custodian) {
    v1::DataCustodian dc;
    if (auto refused = read_json(req.body, dc, "give {name, pak, input_keys}: "))
      return *refused;
    pak.set_name(dc.name());
    pak.set_pak(dc.pak());
    *pak.mutable_keys() = dc.input_keys();
  } else {
    v1::DataAnalyst da;
    if (auto refused = read_json(req.body, da, "give {name, pak, output_keys}: "))
      return *refused;
    pak.set_name(da.name());
    pak.set_pak(da.pak());
    *pak.mutable_keys() = da.output_keys();
  }
  return ask_artefacts<proto_bytes<v1::PakRecord>>(ctx, ask_timeout, 201, nothing, pak_atom::value,
                                                   req.params.at("uuid"), proto::wrap(pak), who.name);
}

http::response get_ctas(node_context& ctx, const std::string& uuid) {
  http::response out;
  caf::scoped_actor self{*ctx.sys};
  self->request(ctx.artefacts, ask_timeout, query_atom::value, uuid)
    .receive(
      [&](cta_view& view) {
        out = http::response::json(200, uuid.empty() ? cta_list_json(view)
                                                        : cta_json(view, ctx.fqdn, ctx.fqdn == ctx.domain));
      },
      [&](caf::error& err) { out = error_response(err); });
  return out;
}

} // namespace joconde
