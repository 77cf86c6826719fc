#include "http_io.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/metrics.hpp"

#include <caf/scoped_actor.hpp>

#include <nlohmann/json.hpp>

namespace joconde {

namespace {

using nlohmann::json;

http::response refuse(const error& e) {
  return http::response::error(http_status(e.code), std::string{to_string(e.code)}, e.message);
}

/// The serialized SignedAuthorization of ?authorization=HEX (the task policy of each VM checks it).
result<std::string> authorization_of(const http::request& req) {
  auto it = req.query.find("authorization");
  if (it == req.query.end() || it->second.empty())
    return fail(errc::malformed_input, "give ?authorization=HEX: the SignedAuthorization the person's PAK "
                                       "signed (joconde upload / download make it)");
  if (it->second.size() > 32 * 1024)
    return fail(errc::too_large, "the authorization is too large");
  auto raw = crypto::from_hex(it->second);
  if (!raw)
    return error{errc::malformed_input, "authorization: " + raw.err().message};
  return std::string{raw->begin(), raw->end()};
}

/// An upload's or download's receipt as the API shows it.
json receipt_json(const io_receipt& r, bool upload) {
  json timings = json::object();
  for (const auto& [step, ms] : r.timings_ms)
    timings[step] = ms;
  json out{{"uuid", r.uuid}, {upload ? "input" : "output", r.key}, {"rows", r.rows}};
  if (upload) {
    out["phase"] = r.phase;
    if (!r.quality.empty())
      out["data_quality"] = r.quality;
  } else {
    out.update({{"suppressed", r.suppressed}, {"confidential", r.confidential}, {"csv", r.csv}});
  }
  out.update({{"simulated", r.simulated},
              {"platform", r.simulated ? "simulated (trusted by configuration)" : "hardware"},
              {"timings_ms", timings}});
  return out;
}

/// Whether a transfer refused with `code` was refused by the attestation of the CT VMs.
bool attestation_refusal(errc code) {
  switch (code) {
    case errc::measurement_mismatch:
    case errc::host_data_mismatch:
    case errc::debug_enabled:
    case errc::tcb_outdated:
    case errc::untrusted_chain:
      return true;
    default:
      return false;
  }
}

/// Asks the io_service and turns its answer into the HTTP response; counts it in the node's
/// upload/download and attestation metrics.
template <class Atom>
http::response ask_io(node_context& ctx, Atom what, io_request req) {
  bool upload = what == upload_atom::value;
  double sent = static_cast<double>(req.csv.size());
  auto started = std::chrono::steady_clock::now();
  http::response out = http::response::error(504, "timeout", "the IO service did not answer in time");
  std::string result = "timeout";
  double bytes = 0;
  caf::scoped_actor self{*ctx.sys};
  self->request(ctx.io, std::chrono::minutes{30}, what, std::move(req))
    .receive(
      [&](io_receipt& r) {
        result = "ok";
        bytes = upload ? sent : static_cast<double>(r.csv.size());
        out = http::response::json(200, receipt_json(r, upload));
      },
      [&](caf::error& err) {
        auto code = code_of(err);
        result = std::string{to_string(code)};
        if (ctx.metrics && attestation_refusal(code))
          ctx.metrics->attestations(result).Increment();
        out = refuse(error{code, message_of(err)});
      });
  if (ctx.metrics) {
    ctx.metrics->transfer(upload, result, bytes,
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (result == "ok")
      ctx.metrics->attestations("ok").Increment();
  }
  return out;
}

/// The request of `who` for CT ?uuid and slot ?key, signed by the person's PAK.
result<io_request> io_request_of(const http::request& req, const user& who) {
  auto auth = authorization_of(req);
  if (!auth)
    return auth.err();
  return io_request{req.params.at("uuid"), req.params.at("key"), {std::move(*auth)}, who.name, {}};
}

} // namespace

http::response upload_input(node_context& ctx, const http::request& req, const user& who) {
  auto r = io_request_of(req, who);
  if (!r)
    return refuse(r.err());
  r->csv = req.body;
  return ask_io(ctx, upload_atom::value, std::move(*r));
}

http::response download_output(node_context& ctx, const http::request& req, const user& who) {
  auto r = io_request_of(req, who);
  if (!r)
    return refuse(r.err());
  return ask_io(ctx, download_atom::value, std::move(*r));
}

} // namespace joconde
