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

#include <fstream>

namespace joconde {

namespace {

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
    return fail(errc::invalid_state, "CT " + uuid + " is " + std::string{to_string(rec->status())}
                                       + (rec->reason().empty() ? std::string{} : ": " + rec->reason()));
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

/// What an upload or a download starts from: the caller's authorization and the CT's target.
struct io_job {
  v1::SignedAuthorization authorization;
  std::unique_ptr<loaded_target> loaded;
};

result<io_job> prepare(const io_service_config& cfg, const io_request& req) {
  auto sa = proto::parse(req.authorization, 16 * 1024);
  if (!sa)
    return fail(errc::malformed_input, "the authorization is not a SignedAuthorization");
  auto t = load_target(cfg, req.uuid);
  if (!t)
    return t.err();
  return io_job{std::move(*sa), std::move(*t)};
}

result<io_receipt> run_upload(const io_service_config& cfg, const io_request& req) {
  auto job = prepare(cfg, req);
  if (!job)
    return job.err();
  auto rep = io::upload(job->loaded->target, req.key, req.csv, job->authorization);
  if (!rep)
    return rep.err();
  return io_receipt{req.uuid, req.key, rep->rows, rep->phase, 0, {}, rep->simulated,
                    {{"parse", rep->parse_ms}, {"attest", rep->attest_ms}, {"share", rep->share_ms},
                     {"transfer", rep->transfer_ms}},
                    0, rep->checked ? "passed" : ""};
}

result<io_receipt> run_download(const io_service_config& cfg, const io_request& req) {
  auto job = prepare(cfg, req);
  if (!job)
    return job.err();
  auto rep = io::download(job->loaded->target, req.key, job->authorization);
  if (!rep)
    return rep.err();
  return io_receipt{req.uuid,
                    req.key,
                    rep->rows,
                    {},
                    rep->suppressed,
                    std::move(rep->csv),
                    rep->simulated,
                    {{"attest", rep->attest_ms}, {"transfer", rep->transfer_ms}, {"rebuild", rep->rebuild_ms}},
                    rep->confidential,
                    {}};
}

/// Starts `work` in a detached worker that reports to the io_service; refused when too many run.
template <class Work>
caf::result<io_receipt> start(io_service_actor::stateful_pointer<io_service_state> self, std::string what,
                              std::vector<std::string> audit_fields, Work work) {
  auto& st = self->state;
  if (st.running.size() >= io_service_max_running) {
    ++st.refused;
    return make_error(errc::invalid_state, "this node runs " + std::to_string(st.running.size())
                                             + " uploads and downloads already; try again shortly");
  }
  auto id = st.next++;
  auto promise = self->template make_response_promise<io_receipt>();
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
      worker->send(parent, done_atom::value, id, io_receipt{}, to_caf(r.err()));
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
    [=](upload_atom, io_request& req) -> caf::result<io_receipt> {
      ++self->state.uploads;
      auto cfg = self->state.cfg;
      auto shared = std::make_shared<const io_request>(std::move(req));
      return start(self, "upload", {"uuid", shared->uuid, "input", shared->key, "user", shared->user},
                   [cfg, shared] { return run_upload(cfg, *shared); });
    },
    [=](download_atom, io_request& req) -> caf::result<io_receipt> {
      ++self->state.downloads;
      auto cfg = self->state.cfg;
      auto shared = std::make_shared<const io_request>(std::move(req));
      return start(self, "download", {"uuid", shared->uuid, "output", shared->key, "user", shared->user},
                   [cfg, shared] { return run_download(cfg, *shared); });
    },
    [=](done_atom, uint64_t id, io_receipt& receipt, caf::error& err) {
      auto& running = self->state.running;
      auto it = running.find(id);
      if (it == running.end())
        return;
      if (err)
        it->second.deliver(std::move(err));
      else
        it->second.deliver(std::move(receipt));
      running.erase(it);
    },
    [=](status_atom) {
      auto& st = self->state;
      caf::settings doc;
      put_status(doc, "running", st.running.size());
      put_status(doc, "uploads", st.uploads);
      put_status(doc, "downloads", st.downloads);
      put_status(doc, "refused_busy", st.refused);
      return doc;
    },
  };
}

} // namespace joconde
