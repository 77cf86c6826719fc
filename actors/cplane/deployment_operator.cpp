#include "deployment_operator.hpp"

#include "ct_reports.hpp"
#include "cta_records.hpp"
#include "ct_vm.hpp"
#include "ctsc_rules.hpp"

#include "joconde/agreement.pb.h"
#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/http_client.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"
#include "joconde/vm.pb.h"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

namespace joconde {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

/// One CT VM this node runs: its launch, its handle and where the operator is with it.
struct ct_vm {
  vm_launch launch;
  std::unique_ptr<vm_handle> handle;
  std::optional<vm_endpoints> endpoints;
  vm_admin_actor admin;                   ///< asks the VM's admin endpoint; set with the endpoints
  clock_type::time_point started_at;
  std::optional<clock_type::time_point> cancel_by;  ///< set once the CTA was cancelled here
  std::string cancel_reason;
  std::uint64_t since = 0;                ///< the last event sequence number reported
  bool poll_in_flight = false;
  bool peers_due = false;                 ///< the VMs' addresses may be complete: try /peers
  bool peers_in_flight = false;
  bool peers_posted = false;
  bool cancel_posted = false;
  bool killed = false;

  ct_vm() = default;
  ct_vm(const ct_vm&) = delete;
  ct_vm& operator=(const ct_vm&) = delete;

  ~ct_vm() {
    if (admin)
      caf::anon_send_exit(admin, caf::exit_reason::user_shutdown);
    // The handle's destructor ends a VM that still runs (a node stopping takes its VMs along).
  }
};

deployment_operator_state::deployment_operator_state() = default;
deployment_operator_state::~deployment_operator_state() = default;

namespace {

constexpr const char* component = "deployment_operator";

using self_ptr = deployment_operator_pointer;

void audit(self_ptr self, std::string event, std::vector<std::string> fields) {
  self->send(self->state.audit, audit_atom::value, std::string{component}, std::move(event),
             std::move(fields));
}

/// Publishes `payload` on `topic` to the root.
void to_root(self_ptr self, std::string topic, const std::string& uuid, std::string payload) {
  auto& st = self->state;
  self->request(st.broker, std::chrono::seconds{30}, publish_atom::value, topic,
                std::vector<std::string>{st.cfg.root}, uuid, std::move(payload), uint32_t{1})
    .then([](const std::vector<std::string>&) {},
          [topic](caf::error& err) {
            log::error(component, "cannot publish " + topic + ": " + describe(err));
          });
}

/// Printable and bounded, as the root accepts it.
std::string clean(std::string_view s, size_t max) {
  std::string out{s.substr(0, max)};
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      c = '?';
  return out;
}

/// Reports an event of this node's CT VM for `uuid` to the root (cta.telemetry).
void report(self_ptr self, const std::string& uuid, std::string kind, std::string_view subject,
            std::string_view value, int64_t at_ms = 0) {
  if (!is_uuid(uuid))
    return;
  v1::TelemetryEvent ev;
  ev.set_uuid(uuid);
  ev.set_cp(self->state.cfg.self);
  ev.set_at_ms(at_ms > 0 ? at_ms : now_ms());
  ev.set_kind(std::move(kind));
  ev.set_subject(clean(subject, 128));
  ev.set_value(clean(value, 512));
  to_root(self, "cta.telemetry", uuid, proto::serialize(ev));
}

void count(self_ptr self, const char* outcome) {
  if (auto* f = self->state.outcomes)
    f->Add({{"outcome", outcome}}).Increment();
}

void update_gauge(self_ptr self) {
  if (auto* g = self->state.running)
    g->Set(static_cast<double>(self->state.vms.size()));
}

/// The last non-empty line of a small log file (at most its last 4 KiB are read), or "(no output)".
std::string last_line(const fs::path& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return "(no output)";
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::streamoff>(in.tellg());
  in.seekg(std::max<std::streamoff>(0, size - 4096));
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  auto nl = text.rfind('\n');
  auto line = nl == std::string::npos ? text : text.substr(nl + 1);
  return line.empty() ? "(no output)" : clean(line, 300);
}

/// Writes the signed erasure record of a CT's directory into the audit log and reports it.
void record_erasure(self_ptr self, const std::string& uuid, int exit_status, const std::string& cause,
                    const std::vector<std::string>& files) {
  auto& st = self->state;
  v1::ErasureRecord rec;
  rec.set_uuid(uuid);
  rec.set_cp(st.cfg.self);
  rec.set_erased_at_ms(now_ms());
  rec.set_cause(cause);
  rec.set_vm_exit_status(exit_status);
  for (const auto& f : files)
    rec.add_files_removed(f);
  auto signed_rec = sign_erasure(std::move(rec), *st.signer);
  if (!signed_rec) {
    log::error(component, "cannot sign the erasure record of CTA " + uuid + ": "
                            + signed_rec.err().message);
    return;
  }
  audit(self, "ct.vm.erased",
        {"uuid", uuid, "cp", st.cfg.self, "cause", cause, "exit_status", std::to_string(exit_status),
         "files_removed", std::to_string(files.size()), "record",
         crypto::hex(crypto::to_bytes(proto::serialize(*signed_rec)))});
  report(self, uuid, "erased", cause,
         "exit status " + std::to_string(exit_status) + ", " + std::to_string(files.size())
           + " files removed");
}

/// Refuses to deploy a CTA: logged, audited, reported.
void refuse(self_ptr self, const std::string& uuid, const std::string& why) {
  ++self->state.refused;
  count(self, "refused");
  log::warning(component, "CT VM for CTA " + uuid + " not started: " + why, {{"uuid", uuid}});
  audit(self, "ct.vm.refused", {"uuid", uuid, "reason", why});
  report(self, uuid, "vm", "", "refused: " + why);
}

/// The first check on a CTA this node is to run: the CTSC accepts this node's VM image.
result<void> check_measurement(const deployment_operator_config& cfg, const v1::Ctsc& ctsc) {
  auto m = image_measurement(cfg.tee);
  if (!m)
    return fail(m.err().code, "cannot measure this node's CT VM image: " + m.err().message);
  for (const auto& tm : ctsc.tee_measurements())
    if (tm.platform() == "simulated" && tm.measurement().size() == m->size()
        && std::equal(m->begin(), m->end(), reinterpret_cast<const std::uint8_t*>(tm.measurement().data())))
      return ok();
  return fail(errc::measurement_mismatch,
              "the CTSC accepts no simulated measurement " + crypto::hex(*m)
                + " (this node's joconde-vm image and image configuration)");
}

void ensure_ticking(self_ptr self) {
  auto& st = self->state;
  if (st.ticking || st.vms.empty())
    return;
  st.ticking = true;
  self->delayed_send(self, st.cfg.poll_interval, tick_atom::value);
}

/// At start-up: CT directories left from before a restart. Their VMs died with the node (or are
/// ended now), and with them their sealing keys: the directories go, the root learns it.
void clean_leftovers(self_ptr self) {
  auto& st = self->state;
  std::error_code ec;
  auto ct_root = st.cfg.data_dir / "ct";
  if (!fs::is_directory(ct_root, ec))
    return;
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator{ct_root, ec})
    if (entry.is_directory(ec))
      dirs.push_back(entry.path());
  for (const auto& dir : dirs) {
    auto uuid = dir.filename().string();
    st.cfg.vms->end_leftover(dir);
    auto files = erase_ct_dir(dir, st.cfg.data_dir / "ct-logs", st.cfg.node_name);
    if (!files) {
      log::error(component, "cannot remove the left-over CT directory " + dir.string() + ": "
                              + files.err().message);
      continue;
    }
    st.handled.insert(uuid);
    count(self, "lost");
    log::warning(component, "the CT VM of CTA " + uuid + " was lost with the node's restart; its "
                              "directory is removed (its sealing key died with it)",
                 {{"uuid", uuid}, {"files_removed", std::to_string(files->size())}});
    report(self, uuid, "vm", "", "lost on node restart");
    record_erasure(self, uuid, -1, "vm-exited", *files);
  }
}

/// The VM ended: archive, remove, record, report.
void end_vm(self_ptr self, ct_vm& vm) {
  auto& st = self->state;
  const auto& uuid = vm.launch.uuid;
  int status = vm.handle->exit_status().value_or(255);
  auto cause = erasure_cause(status);
  ++st.ended;
  count(self, cause.c_str());
  log::notice(component, "the CT VM of CTA " + uuid + " ended: " + cause,
              {{"uuid", uuid}, {"exit_status", std::to_string(status)}});
  if (!vm.endpoints) {
    // It never listened: what it said last is why (no port free in vm.ports, a bad address ...).
    auto why = last_line(vm.launch.ct_dir / "sp.log");
    log::warning(component, "the CT VM of CTA " + uuid + " could not start: " + why, {{"uuid", uuid}});
    report(self, uuid, "vm", "", "could not start: " + why);
  }
  auto files = erase_ct_dir(vm.launch.ct_dir, st.cfg.data_dir / "ct-logs", st.cfg.node_name);
  if (!files) {
    log::error(component, "cannot remove " + vm.launch.ct_dir.string() + ": " + files.err().message);
    report(self, uuid, "vm", "", "ended (" + cause + "), but its directory could not be removed");
    return;
  }
  record_erasure(self, uuid, status, cause, *files);
}

/// Asks the VM's admin endpoint; `then` gets the HTTP status and body, or -1 and the error.
template <class F>
void ask_vm(self_ptr self, ct_vm& vm, std::string method, std::string path, std::string body, F then) {
  auto uuid = vm.launch.uuid;
  self->request(vm.admin, self->state.cfg.admin_timeout * 3, admin_atom::value, std::move(method),
                std::move(path), std::move(body))
    .then(
      [=](int status, std::string& answer) {
        auto i = self->state.vms.find(uuid);
        if (i != self->state.vms.end())
          then(*i->second, status, answer);
      },
      [=](caf::error& err) {
        auto i = self->state.vms.find(uuid);
        std::string why = describe(err);
        if (i != self->state.vms.end())
          then(*i->second, -1, why);
      });
}

/// Reads endpoints.json once the VM wrote it; reports the VM's addresses to the root.
void look_for_endpoints(self_ptr self, ct_vm& vm) {
  auto& st = self->state;
  std::ifstream in{vm.launch.vm_dir / "endpoints.json"};
  if (in) {
    std::ostringstream buf;
    buf << in.rdbuf();
    if (auto eps = parse_endpoints(buf.str())) {
      vm.endpoints = *eps;
      vm.admin = self->spawn<caf::detached>(vm_admin_client, eps->admin, vm.launch.admin_token,
                                            st.cfg.admin_timeout);
      if (st.cfg.directory)
        st.cfg.directory->put(vm.launch.uuid, {eps->admin, vm.launch.admin_token});
      v1::VmEndpoint ep;
      ep.set_uuid(vm.launch.uuid);
      ep.set_cp(st.cfg.self);
      ep.set_cp_index(vm.launch.cp_index);
      ep.set_client_address(eps->client);
      ep.set_peer_address(eps->peer);
      ep.set_mpc_address(eps->mpc);
      ep.set_platform(std::string{enclave::simulated_platform_id});
      ep.set_reported_at_ms(now_ms());
      vm.peers_due = true;
      log::info(component, "the CT VM of CTA " + vm.launch.uuid + " listens",
                {{"client", eps->client}, {"peer", eps->peer}, {"mpc", eps->mpc}});
      to_root(self, "cta.vm", vm.launch.uuid, proto::serialize(ep));
      return;
    }
  }
  if (!vm.killed && clock_type::now() - vm.started_at > st.cfg.endpoints_wait) {
    auto wait = std::to_string(st.cfg.endpoints_wait.count() / 1000) + " s";
    log::warning(component, "the CT VM of CTA " + vm.launch.uuid + " wrote no endpoints within " + wait
                              + ": ending it");
    report(self, vm.launch.uuid, "vm", "", "no endpoints within " + wait + ": ended");
    vm.killed = true;
    vm.handle->kill();
  }
}

/// Reports the VM's new events (GET /status?since=N).
void poll_status(self_ptr self, ct_vm& vm) {
  vm.poll_in_flight = true;
  ask_vm(self, vm, "GET", "/status?since=" + std::to_string(vm.since), "",
         [self](ct_vm& vm, int status, const std::string& body) {
           vm.poll_in_flight = false;
           if (status != 200) {
             log::debug(component, "status of the CT VM of CTA " + vm.launch.uuid + ": "
                                     + (status < 0 ? body : "HTTP " + std::to_string(status)));
             return;
           }
           auto events = parse_status_events(body, vm.since);
           if (!events) {
             log::warning(component, "the CT VM of CTA " + vm.launch.uuid + ": " + events.err().message);
             return;
           }
           static constexpr std::string_view kinds[] = {"phase", "slot", "quality", "erased", "vm"};
           for (const auto& ev : *events) {
             vm.since = std::max(vm.since, ev.seq);
             if (std::find(std::begin(kinds), std::end(kinds), ev.kind) == std::end(kinds)) {
               log::debug(component, "the CT VM of CTA " + vm.launch.uuid + " reported an event of "
                                       "unknown kind " + clean(ev.kind, 32) + ": not forwarded");
               continue;
             }
             report(self, vm.launch.uuid, ev.kind, ev.subject, ev.value, ev.at_ms);
           }
         });
}

/// Hands the VM its counterparts' addresses once the root forwarded every CP's (checked when the VM
/// listens and whenever the record's addresses change; retried after a failed attempt).
void post_peers(self_ptr self, ct_vm& vm) {
  vm.peers_due = false;
  auto rec = load_held(self->state.store, vm.launch.uuid);
  if (!rec || !every_vm_known(*rec))
    return;
  vm.peers_in_flight = true;
  ask_vm(self, vm, "POST", "/peers", peers_body(*rec), [](ct_vm& vm, int status, const std::string& body) {
    vm.peers_in_flight = false;
    if (status >= 200 && status < 300) {
      vm.peers_posted = true;
      log::info(component, "the CT VM of CTA " + vm.launch.uuid + " knows its counterparts");
    } else {
      vm.peers_due = true;
      log::warning(component, "the CT VM of CTA " + vm.launch.uuid + " did not take its counterparts: "
                                + (status < 0 ? body : "HTTP " + std::to_string(status) + " " + body.substr(0, 200)));
    }
  });
}

/// One step of the operator with one VM; false when the VM ended (and was cleaned up).
bool step(self_ptr self, ct_vm& vm) {
  auto& st = self->state;
  if (!vm.handle->alive()) {
    end_vm(self, vm);
    return false;
  }
  if (vm.cancel_by && !vm.killed && clock_type::now() > *vm.cancel_by) {
    log::warning(component, "the CT VM of CTA " + vm.launch.uuid + " did not stop within "
                              + std::to_string(st.cfg.cancel_wait.count() / 1000) + " s of its "
                              "cancellation: killing it");
    vm.killed = true;
    vm.handle->kill();
    return true;
  }
  if (!vm.endpoints) {
    look_for_endpoints(self, vm);
    if (!vm.endpoints)
      return true;
  }
  if (vm.cancel_by && !vm.cancel_posted) {
    vm.cancel_posted = true;
    ask_vm(self, vm, "POST", "/cancel", nlohmann::json{{"reason", vm.cancel_reason}}.dump(),
           [](ct_vm& vm, int status, const std::string& body) {
             if (status < 0) {
               // Most likely ending already (its endpoint closes first); the wait bounds it.
               log::info(component, "the CT VM of CTA " + vm.launch.uuid + " did not take the "
                                      "cancellation (" + body + "); waiting for it to end");
             } else if (status < 200 || status >= 300) {
               log::warning(component, "the CT VM of CTA " + vm.launch.uuid + " refused to cancel (HTTP "
                                         + std::to_string(status) + "): stopping it");
               vm.handle->stop();
             }
           });
  }
  if (!vm.cancel_by && vm.peers_due && !vm.peers_posted && !vm.peers_in_flight)
    post_peers(self, vm);
  if (!vm.poll_in_flight)
    poll_status(self, vm);
  return true;
}

/// Cancels the VM of a CTA that was cancelled or erased here.
void cancel_vm(self_ptr self, ct_vm& vm, const std::string& reason) {
  if (vm.cancel_by)
    return;
  vm.cancel_by = clock_type::now() + self->state.cfg.cancel_wait;
  vm.cancel_reason = reason.empty() ? std::string{"cancelled"} : reason;
  log::notice(component, "cancelling the CT VM of CTA " + vm.launch.uuid + ": " + vm.cancel_reason);
  if (!vm.endpoints)
    vm.handle->stop(); // no admin endpoint yet: the secure processor forwards SIGTERM
}

/// A final CTA was stored here: start its VM if it names this node.
void deploy(self_ptr self, const std::string& uuid) {
  auto& st = self->state;
  if (st.handled.count(uuid) > 0 || st.vms.count(uuid) > 0)
    return;
  auto rec = load_held(st.store, uuid);
  if (!rec || !rec->has_final())
    return;
  const auto& fin = rec->final();
  const auto& cps = fin.cta().ctsc().computing_parties();
  int index = -1;
  for (int i = 0; i < cps.size(); ++i)
    if (cps[i].fqdn() == st.cfg.self)
      index = i;
  if (index < 0)
    return;
  st.handled.insert(uuid);
  if (rec->status() != v1::CTA_STATUS_INSTANTIATED)
    return;
  if (auto r = check_measurement(st.cfg, fin.cta().ctsc()); !r)
    return refuse(self, uuid, r.err().message);
  if (auto r = check_port_budget(st.cfg.tee.network, st.vms.size()); !r)
    return refuse(self, uuid, r.err().message);
  auto launch = prepare_ct_dir(st.cfg.data_dir, fin, static_cast<std::uint32_t>(index));
  if (!launch)
    return refuse(self, uuid, "cannot prepare the CT's directory: " + launch.err().message);
  auto handle = st.cfg.vms->start(*launch);
  if (!handle) {
    std::error_code ec;
    fs::remove_all(launch->ct_dir, ec);
    return refuse(self, uuid, handle.err().message);
  }
  auto vm = std::make_unique<ct_vm>();
  vm->launch = std::move(*launch);
  vm->handle = std::move(*handle);
  vm->started_at = clock_type::now();
  auto what = vm->handle->describe();
  ++st.started;
  count(self, "started");
  log::notice(component, "CT VM for CTA " + uuid + " started (" + what + ")",
              {{"uuid", uuid}, {"cp_index", std::to_string(index)},
               {"provisioner", st.cfg.vms->name()}});
  audit(self, "ct.vm.started", {"uuid", uuid, "cp_index", std::to_string(index), "provisioner",
                                st.cfg.vms->name(), "cta_sha256", crypto::hex(vm->launch.cta_hash)});
  report(self, uuid, "vm", "", "started (" + st.cfg.vms->name() + " provisioner, simulated TEE)");
  st.vms.emplace(uuid, std::move(vm));
  update_gauge(self);
  ensure_ticking(self);
}

} // namespace

vm_admin_actor::behavior_type vm_admin_client(vm_admin_actor::pointer self, std::string admin,
                                              std::string token, std::chrono::milliseconds timeout) {
  auto url = "http://" + admin;
  return {
    [=](admin_atom, const std::string& method, const std::string& path,
        const std::string& body) -> caf::result<int, std::string> {
      auto res = http::client::send(url, method, path, body, token, timeout);
      if (!res)
        return to_caf(res.err());
      return {res->status, std::move(res->body)};
    },
  };
}

deployment_operator_actor::behavior_type
deployment_operator(deployment_operator_pointer self, deployment_operator_config cfg,
                    std::shared_ptr<const node_signer> signer, node_store store,
                    service_broker_actor broker, audit_log_actor audit_actor, metrics::registry* metrics) {
  auto& st = self->state;
  if (cfg.self.empty() || cfg.root.empty() || cfg.node_name.empty() || cfg.data_dir.empty()
      || cfg.poll_interval.count() <= 0) {
    log::error(component, "not configured: this node's and the root's names, the node's short name, "
                          "its data directory and a poll interval are needed");
    self->quit(make_error(errc::invalid_config, "the deployment operator is not configured"));
    return deployment_operator_actor::behavior_type::make_empty_behavior();
  }
  if (!cfg.vms)
    cfg.vms = make_provisioner(cfg.tee);
  st.cfg = std::move(cfg);
  st.signer = std::move(signer);
  st.store = std::move(store);
  st.broker = std::move(broker);
  st.audit = std::move(audit_actor);
  if (metrics != nullptr) {
    st.running = &joconde::metrics::gauge_family(metrics->raw(), "joconde_ct_vms_running",
                                                 "CT VMs this Computing Party runs now")
                    .Add({});
    st.outcomes = &joconde::metrics::counter_family(metrics->raw(), "joconde_ct_vms_total",
                                                    "CT VMs by outcome: started, refused, finished, "
                                                    "cancelled, vm-exited, lost");
  }
  clean_leftovers(self);
  update_gauge(self);
  return {
    [=](deploy_atom, const std::string& uuid) { deploy(self, uuid); },
    [=](changed_atom, const std::string& uuid) {
      auto& st = self->state;
      auto i = st.vms.find(uuid);
      if (i == st.vms.end())
        return;
      auto rec = load_held(st.store, uuid);
      if (!rec)
        return;
      auto& vm = *i->second;
      if (rec->status() == v1::CTA_STATUS_CANCELLED || rec->status() == v1::CTA_STATUS_ERASED)
        cancel_vm(self, vm, rec->reason());
      else if (vm.endpoints && !vm.cancel_by && !vm.peers_posted)
        vm.peers_due = true; // posted from the next tick
    },
    [=](tick_atom) {
      auto& st = self->state;
      st.ticking = false;
      for (auto i = st.vms.begin(); i != st.vms.end();)
        if (step(self, *i->second)) {
          ++i;
        } else {
          if (st.cfg.directory)
            st.cfg.directory->drop(i->first);
          i = st.vms.erase(i);
        }
      update_gauge(self);
      ensure_ticking(self);
    },
    [=](status_atom) {
      auto& st = self->state;
      caf::config_value::list vms;
      for (const auto& [uuid, vm] : st.vms) {
        caf::settings entry;
        put_status(entry, "uuid", uuid);
        put_status(entry, "cp_index", vm->launch.cp_index);
        put_status(entry, "vm", vm->handle->describe());
        put_status(entry, "listening", vm->endpoints.has_value());
        put_status(entry, "peers_posted", vm->peers_posted);
        put_status(entry, "cancelling", vm->cancel_by.has_value());
        put_status(entry, "events_reported", vm->since);
        vms.push_back(status_entry(std::move(entry)));
      }
      caf::settings doc;
      put_status(doc, "provisioner", st.cfg.vms->name());
      put_status(doc, "running", std::move(vms));
      put_status(doc, "started", st.started);
      put_status(doc, "refused", st.refused);
      put_status(doc, "ended", st.ended);
      return doc;
    },
  };
}

} // namespace joconde
