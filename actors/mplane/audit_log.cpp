#include "audit_log.hpp"

#include "audit_heads.hpp"

#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"


namespace joconde {

namespace {

constexpr const char* component = "audit_log";

using record = std::vector<std::pair<std::string, std::string>>;

/// Flattened key/value parameters (key, value, key, value...) as a record.
record to_record(const std::vector<std::string>& kv, size_t from, size_t to) {
  record params;
  for (size_t i = from; i + 1 < to; i += 2)
    params.emplace_back(kv[i], kv[i + 1]);
  return params;
}

/// Appends `records` in one write; the sync to disk follows within 20 ms.
void write_records(audit_log_pointer self, const std::string& comp, const std::string& event,
                   const std::vector<record>& records) {
  auto& st = self->state;
  auto res = st.chain->append_all(comp, event, records);
  if (!res) {
    st.failed += records.size();
    log::error(component, "cannot write an audit record: " + res.err().message);
    return;
  }
  st.written += records.size();
  if (st.metrics)
    st.metrics->audit_records().Increment(static_cast<double>(records.size()));
  // Records are written at once (a killed process loses none); the sync to disk is batched.
  if (!st.sync_pending) {
    st.sync_pending = true;
    self->delayed_send(self, std::chrono::milliseconds{20}, tick_atom::value);
  }
}

/// Appends a signed checkpoint if records were added since the last one, and reports its head.
void make_checkpoint(audit_log_pointer self) {
  auto& st = self->state;
  if (!st.checkpoints.signer)
    return;
  auto head = st.chain->checkpoint(st.checkpoints.signer(), std::chrono::system_clock::now());
  if (!head) {
    log::error(component, "cannot sign an audit checkpoint: " + head.err().message);
    return;
  }
  if (!*head)
    return;
  ++st.signed_checkpoints;
  st.last_checkpoint_seq = (*head)->seq;
  if (st.metrics)
    st.metrics->audit_checkpoints().Increment();
  if (st.cm)
    self->send(st.cm, checkpt_atom::value, serialize_audit_head(**head));
}

} // namespace

audit_log_actor::behavior_type audit_log(audit_log_pointer self, std::shared_ptr<audit_chain> chain,
                                         metrics::registry* metrics,
                                         audit_checkpoint_config checkpoints) {
  auto& st = self->state;
  st.chain = std::move(chain);
  st.metrics = metrics;
  st.checkpoints = std::move(checkpoints);
  if (const auto& torn = st.chain->torn()) {
    log::warning(component, "the audit log's last line was torn (a crash in the middle of a write): "
                            "cut off, kept and recorded in the chain",
                 {{"line", std::to_string(torn->line)}, {"bytes", std::to_string(torn->bytes)},
                  {"kept_in", torn->kept_in.string()}});
    if (metrics)
      metrics->audit_torn_lines().Increment();
  }
  if (st.checkpoints.interval.count() > 0 && st.checkpoints.signer) {
    // A clean stop ends with a checkpoint of everything written (the exit comes after every other
    // actor stopped, DESIGN.md §4).
    self->set_exit_handler([=](caf::exit_msg& msg) {
      make_checkpoint(self);
      self->quit(msg.reason);
    });
    self->delayed_send(self, st.checkpoints.interval, checkpt_atom::value);
  }
  return {
    [=](audit_atom, std::string& comp, std::string& event, std::vector<std::string>& kv) {
      write_records(self, comp, event, {to_record(kv, 0, kv.size())});
    },
    [=](audit_atom, std::string& comp, std::string& event, uint32_t per_record,
        std::vector<std::string>& kv) {
      if (per_record == 0 || kv.size() % per_record != 0) {
        ++self->state.failed;
        log::error(component, "malformed batch of audit records from " + comp);
        return;
      }
      std::vector<record> records;
      for (size_t at = 0; at < kv.size(); at += per_record)
        records.push_back(to_record(kv, at, at + per_record));
      write_records(self, comp, event, records);
    },
    [=](tick_atom) {
      auto& st = self->state;
      st.sync_pending = false;
      if (auto r = st.chain->sync(); !r)
        log::error(component, "cannot sync the audit log: " + r.err().message);
    },
    [=](checkpt_atom) {
      make_checkpoint(self);
      if (self->state.checkpoints.interval.count() > 0)
        self->delayed_send(self, self->state.checkpoints.interval, checkpt_atom::value);
    },
    [=](connect_atom, connection_manager_actor& cm) { self->state.cm = std::move(cm); },
    [=](status_atom) {
      auto& st = self->state;
      caf::settings doc;
      put_status(doc, "written", st.written);
      put_status(doc, "failed", st.failed);
      put_status(doc, "records", st.chain->size());
      put_status(doc, "checkpoints", st.signed_checkpoints);
      put_status(doc, "last_checkpoint", st.last_checkpoint_seq);
      return doc;
    },
  };
}

} // namespace joconde
