#include "http_io.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/crypto.hpp"

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

/// Asks the io_service and turns its answer into the HTTP response.
template <class Atom>
http::response ask_io(node_context& ctx, Atom what, io_request req) {
  http::response out = http::response::error(504, "timeout", "the IO service did not answer in time");
  caf::scoped_actor self{*ctx.sys};
  self->request(ctx.io, std::chrono::minutes{30}, what, std::move(req))
    .receive([&](io_receipt& r) { out = http::response::json(200, receipt_json(r, what == upload_atom::value)); },
             [&](caf::error& err) { out = refuse(error{code_of(err), message_of(err)}); });
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
