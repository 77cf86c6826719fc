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

/// Asks the io_service and turns its answer into the HTTP response.
template <class... Ts>
http::response ask_io(node_context& ctx, Ts&&... xs) {
  http::response out = http::response::error(504, "timeout", "the IO service did not answer in time");
  caf::scoped_actor self{*ctx.sys};
  self->request(ctx.io, std::chrono::minutes{30}, std::forward<Ts>(xs)...)
    .receive([&](std::string& doc) { out = http::response::json(200, json::parse(doc)); },
             [&](caf::error& err) { out = refuse(error{code_of(err), message_of(err)}); });
  return out;
}

} // namespace

http::response upload_input(node_context& ctx, const http::request& req, const user& who) {
  auto auth = authorization_of(req);
  if (!auth)
    return refuse(auth.err());
  return ask_io(ctx, upload_atom::value, req.params.at("uuid"), req.params.at("key"), req.body, *auth, who.name);
}

http::response download_output(node_context& ctx, const http::request& req, const user& who) {
  auto auth = authorization_of(req);
  if (!auth)
    return refuse(auth.err());
  return ask_io(ctx, download_atom::value, req.params.at("uuid"), req.params.at("key"), *auth, who.name);
}

} // namespace joconde
