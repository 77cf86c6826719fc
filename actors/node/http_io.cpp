#include "http_io.hpp"

#include "../cplane/io_service.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"

#include <joconde/agreement.pb.h>
#include <joconde/vm.pb.h>

#include <caf/send.hpp>

#include <nlohmann/json.hpp>

#include <fstream>

namespace joconde {

namespace {

using nlohmann::json;

int status_of(errc code) {
  switch (code) {
    case errc::malformed_input:
    case errc::too_large:
    case errc::bad_signature:
      return 400;
    case errc::forbidden:
    case errc::measurement_mismatch:
    case errc::host_data_mismatch:
    case errc::debug_enabled:
    case errc::tcb_outdated:
    case errc::untrusted_chain:
    case errc::certificate_revoked:
    case errc::certificate_expired:
      return 403;
    case errc::not_found:
      return 404;
    case errc::already_exists:
    case errc::invalid_state:
    case errc::replayed:
      return 409;
    case errc::unsupported:
      return 422;
    case errc::timeout:
      return 504;
    case errc::io_error:
      return 502;
    default:
      return 500;
  }
}

http::response refuse(const error& e) {
  return http::response::error(status_of(e.code), std::string{to_string(e.code)}, e.message);
}

/// The CT as this node holds it, with every VM address, and the platform roots it trusts.
struct loaded_target {
  v1::CtaRecord record;
  io::io_target target;
};

result<loaded_target> load_target(const node_context& ctx, const std::string& uuid) {
  auto txn = ctx.store.env->begin_read();
  if (!txn)
    return txn.err();
  auto bytes = txn->get(ctx.store.ctas, uuid);
  if (!bytes)
    return bytes.err();
  if (!bytes->has_value())
    return fail(errc::not_found, "this node holds no CTA " + uuid.substr(0, 64));
  auto rec = proto::parse<v1::CtaRecord>(**bytes, std::size_t{64} << 20);
  if (!rec)
    return rec.err();
  if (!rec->has_final())
    return fail(errc::invalid_state, "CTA " + uuid + " is not final yet");
  if (rec->status() != "instantiated")
    return fail(errc::invalid_state, "CT " + uuid + " is " + rec->status());
  loaded_target out;
  out.record = std::move(*rec);
  out.target.final = &out.record.final();
  for (const auto& vm : out.record.vms())
    out.target.vms.push_back({vm.cp_index(), vm.client_address()});
  std::ifstream in{ctx.cfg.tee_trusted_roots};
  if (!in)
    return fail(errc::invalid_config, "this node trusts no TEE platform: tee.trusted-roots ("
                                        + ctx.cfg.tee_trusted_roots.string() + ") cannot be read");
  std::string pem{std::istreambuf_iterator<char>{in}, {}};
  auto roots = crypto::certificate::chain_from_pem(pem);
  if (!roots)
    return error{errc::invalid_config, "tee.trusted-roots: " + roots.err().message};
  for (const auto& r : *roots)
    out.target.trusted_roots.push_back(r.to_der());
  // The only platform back-end today is the simulated one: trusting its roots is the explicit
  // configuration that accepts it (DESIGN.md §8); every use is audited as such.
  out.target.allow_simulated = true;
  return out;
}

result<v1::SignedAuthorization> authorization_of(const http::request& req) {
  auto it = req.query.find("authorization");
  if (it == req.query.end() || it->second.empty())
    return fail(errc::malformed_input, "give ?authorization=HEX: the SignedAuthorization the person's PAK "
                                       "signed (joconde upload / download make it)");
  if (it->second.size() > 32 * 1024)
    return fail(errc::too_large, "the authorization is too large");
  auto raw = crypto::from_hex(it->second);
  if (!raw)
    return error{errc::malformed_input, "authorization: " + raw.err().message};
  v1::SignedAuthorization sa;
  if (!sa.ParseFromArray(raw->data(), static_cast<int>(raw->size())))
    return fail(errc::malformed_input, "the authorization is not a SignedAuthorization");
  return sa;
}

void audit(node_context& ctx, const std::string& event, std::vector<std::string> fields) {
  caf::anon_send(ctx.audit, audit_atom::value, std::string{"io"}, event, std::move(fields));
}

} // namespace

http::response upload_input(node_context& ctx, const http::request& req, const user& who) {
  const auto& uuid = req.params.at("uuid");
  const auto& key = req.params.at("key");
  auto sa = authorization_of(req);
  if (!sa)
    return refuse(sa.err());
  auto t = load_target(ctx, uuid);
  if (!t)
    return refuse(t.err());
  auto rep = io::upload(t->target, key, req.body, *sa);
  if (!rep) {
    audit(ctx, "ct.upload.refused", {"uuid", uuid, "input", key, "user", who.name, "reason",
                                     std::string{to_string(rep.err().code)}});
    log::warning("io", "upload of " + key + " to " + uuid + " refused: " + rep.err().describe());
    return refuse(rep.err());
  }
  audit(ctx, "ct.upload", {"uuid", uuid, "input", key, "user", who.name, "rows", std::to_string(rep->rows),
                           "platform", rep->simulated ? "simulated (trusted by configuration)" : "hardware"});
  return http::response::json(
    200, json{{"uuid", uuid},
              {"input", key},
              {"rows", rep->rows},
              {"phase", rep->phase},
              {"simulated", rep->simulated},
              {"timings_ms",
               {{"parse", rep->parse_ms}, {"attest", rep->attest_ms}, {"share", rep->share_ms},
                {"transfer", rep->transfer_ms}}}});
}

http::response download_output(node_context& ctx, const http::request& req, const user& who) {
  const auto& uuid = req.params.at("uuid");
  const auto& key = req.params.at("key");
  auto sa = authorization_of(req);
  if (!sa)
    return refuse(sa.err());
  auto t = load_target(ctx, uuid);
  if (!t)
    return refuse(t.err());
  auto rep = io::download(t->target, key, *sa);
  if (!rep) {
    audit(ctx, "ct.download.refused", {"uuid", uuid, "output", key, "user", who.name, "reason",
                                       std::string{to_string(rep.err().code)}});
    log::warning("io", "download of " + key + " from " + uuid + " refused: " + rep.err().describe());
    return refuse(rep.err());
  }
  audit(ctx, "ct.download", {"uuid", uuid, "output", key, "user", who.name, "rows", std::to_string(rep->rows),
                             "platform", rep->simulated ? "simulated (trusted by configuration)" : "hardware"});
  return http::response::json(
    200, json{{"uuid", uuid},
              {"output", key},
              {"rows", rep->rows},
              {"suppressed", rep->suppressed},
              {"csv", rep->csv},
              {"simulated", rep->simulated},
              {"timings_ms",
               {{"attest", rep->attest_ms}, {"transfer", rep->transfer_ms}, {"rebuild", rep->rebuild_ms}}}});
}

} // namespace joconde
