#include "io_service_actor.hpp"

#include "cta_records.hpp"
#include "cta_state.hpp"
#include "io_service.hpp"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"

#include <joconde/agreement.pb.h>
#include <joconde/vm.pb.h>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <fstream>

namespace joconde {

namespace {

using nlohmann::json;

constexpr const char* component = "io_service";

/// The CT as this node holds it, with every VM address, and the platform roots it trusts.
struct loaded_target {
  v1::CtaRecord record;
  io::io_target target;
};

result<std::unique_ptr<loaded_target>> load_target(const io_service_config& cfg, const std::string& uuid) {
  auto held = load_cta_record(cfg.store, uuid);
  if (!held)
    return held.err();
  if (!held->has_value())
    return fail(errc::not_found, "this node holds no CTA " + uuid.substr(0, 64));
  auto& rec = *held;
  if (!rec->has_final())
    return fail(errc::invalid_state, "CTA " + uuid + " is not final yet");
  if (rec->status() != v1::CTA_STATUS_INSTANTIATED)
    return fail(errc::invalid_state, "CT " + uuid + " is " + std::string{to_string(rec->status())});
  auto out = std::make_unique<loaded_target>();
  out->record = std::move(*rec);
  out->target.final = &out->record.final();
  for (const auto& vm : out->record.vms())
    out->target.vms.push_back({vm.cp_index(), vm.client_address()});
  std::ifstream in{cfg.trusted_roots};
  if (!in)
    return fail(errc::invalid_config, "this node trusts no TEE platform: tee.trusted-roots ("
                                        + cfg.trusted_roots.string() + ") cannot be read");
  std::string pem{std::istreambuf_iterator<char>{in}, {}};
  auto roots = crypto::certificate::chain_from_pem(pem);
  if (!roots)
    return error{errc::invalid_config, "tee.trusted-roots: " + roots.err().message};
  for (const auto& r : *roots)
    out->target.trusted_roots.push_back(r.to_der());
  // The only platform back-end today is the simulated one: trusting its roots is the explicit
  // configuration that accepts it (DESIGN.md §8); every use is audited as such.
  out->target.allow_simulated = true;
  return out;
}

result<v1::SignedAuthorization> parse_authorization(const std::string& bytes) {
  auto sa = proto::parse<v1::SignedAuthorization>(bytes, 16 * 1024);
  if (!sa)
    return fail(errc::malformed_input, "the authorization is not a SignedAuthorization");
  return sa;
}

const char* platform_of(bool simulated) {
  return simulated ? "simulated (trusted by configuration)" : "hardware";
}

/// What an upload or a download starts from: the caller's authorization and the CT's target.
struct io_request {
  v1::SignedAuthorization authorization;
  std::unique_ptr<loaded_target> loaded;
};

result<io_request> prepare(const io_service_config& cfg, const std::string& uuid,
                           const std::string& auth) {
  auto sa = parse_authorization(auth);
  if (!sa)
    return sa.err();
  auto t = load_target(cfg, uuid);
  if (!t)
    return t.err();
  return io_request{std::move(*sa), std::move(*t)};
}

result<std::string> run_upload(const io_service_config& cfg, const std::string& uuid, const std::string& key,
                               const std::string& csv, const std::string& auth) {
  auto req = prepare(cfg, uuid, auth);
  if (!req)
    return req.err();
  auto rep = io::upload(req->loaded->target, key, csv, req->authorization);
  if (!rep)
    return rep.err();
  return json{{"uuid", uuid},
              {"input", key},
              {"rows", rep->rows},
              {"phase", rep->phase},
              {"simulated", rep->simulated},
              {"platform", platform_of(rep->simulated)},
              {"timings_ms",
               {{"parse", rep->parse_ms}, {"attest", rep->attest_ms}, {"share", rep->share_ms},
                {"transfer", rep->transfer_ms}}}}
    .dump();
}

result<std::string> run_download(const io_service_config& cfg, const std::string& uuid, const std::string& key,
                                 const std::string& auth) {
  auto req = prepare(cfg, uuid, auth);
  if (!req)
    return req.err();
  auto rep = io::download(req->loaded->target, key, req->authorization);
  if (!rep)
    return rep.err();
  return json{{"uuid", uuid},
              {"output", key},
              {"rows", rep->rows},
              {"suppressed", rep->suppressed},
              {"csv", rep->csv},
              {"simulated", rep->simulated},
              {"platform", platform_of(rep->simulated)},
              {"timings_ms",
               {{"attest", rep->attest_ms}, {"transfer", rep->transfer_ms}, {"rebuild", rep->rebuild_ms}}}}
    .dump();
}

/// Starts `work` in a detached worker that reports to the io_service; refused when too many run.
template <class Work>
caf::result<std::string> start(io_service_actor::stateful_pointer<io_service_state> self, std::string what,
                               std::vector<std::string> audit_fields, Work work) {
  auto& st = self->state;
  if (st.running.size() >= io_service_max_running) {
    ++st.refused;
    return make_error(errc::invalid_state, "this node runs " + std::to_string(st.running.size())
                                             + " uploads and downloads already; try again shortly");
  }
  auto id = st.next++;
  auto promise = self->template make_response_promise<std::string>();
  st.running.emplace(id, promise);
  auto parent = caf::actor_cast<io_service_actor>(self);
  auto audit = st.cfg.audit;
  self->spawn<caf::detached>([=](caf::event_based_actor* worker) {
    auto r = work();
    auto fields = audit_fields;
    if (r) {
      caf::anon_send(audit, audit_atom::value, std::string{component}, "ct." + what, std::move(fields));
      worker->send(parent, done_atom::value, id, std::move(*r), caf::error{});
    } else {
      fields.insert(fields.end(), {"reason", std::string{to_string(r.err().code)}});
      caf::anon_send(audit, audit_atom::value, std::string{component}, "ct." + what + ".refused",
                     std::move(fields));
      log::warning(component, what + " refused: " + r.err().describe());
      worker->send(parent, done_atom::value, id, std::string{}, to_caf(r.err()));
    }
    worker->quit();
  });
  return promise;
}

} // namespace

io_service_actor::behavior_type io_service(io_service_actor::stateful_pointer<io_service_state> self,
                                           io_service_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
    [=](upload_atom, std::string& uuid, std::string& key, std::string& csv, std::string& auth,
        std::string& user) -> caf::result<std::string> {
      ++self->state.uploads;
      auto cfg = self->state.cfg;
      auto shared_csv = std::make_shared<const std::string>(std::move(csv));
      return start(self, "upload", {"uuid", uuid, "input", key, "user", user},
                   [cfg, uuid, key, shared_csv, auth] { return run_upload(cfg, uuid, key, *shared_csv, auth); });
    },
    [=](download_atom, std::string& uuid, std::string& key, std::string& auth,
        std::string& user) -> caf::result<std::string> {
      ++self->state.downloads;
      auto cfg = self->state.cfg;
      return start(self, "download", {"uuid", uuid, "output", key, "user", user},
                   [cfg, uuid, key, auth] { return run_download(cfg, uuid, key, auth); });
    },
    [=](done_atom, uint64_t id, std::string& doc, caf::error& err) {
      auto& running = self->state.running;
      auto it = running.find(id);
      if (it == running.end())
        return;
      if (err)
        it->second.deliver(std::move(err));
      else
        it->second.deliver(std::move(doc));
      running.erase(it);
    },
    [=](status_atom) -> std::string {
      auto& st = self->state;
      return json{{"running", st.running.size()},
                  {"uploads", st.uploads},
                  {"downloads", st.downloads},
                  {"refused_busy", st.refused}}
        .dump();
    },
  };
}

} // namespace joconde
