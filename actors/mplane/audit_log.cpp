#include "audit_log.hpp"

#include "joconde/runtime/audit_chain.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"

#include <nlohmann/json.hpp>

namespace joconde {

namespace {

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
    log::error("audit_log", "cannot write an audit record: " + res.err().message);
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

} // namespace

audit_log_actor::behavior_type audit_log(audit_log_pointer self, std::shared_ptr<audit_chain> chain,
                                         metrics::registry* metrics) {
  self->state.chain = std::move(chain);
  self->state.metrics = metrics;
  return {
    [=](audit_atom, std::string& comp, std::string& event, std::vector<std::string>& kv) {
      write_records(self, comp, event, {to_record(kv, 0, kv.size())});
    },
    [=](audit_atom, std::string& comp, std::string& event, uint32_t per_record,
        std::vector<std::string>& kv) {
      if (per_record == 0 || kv.size() % per_record != 0) {
        ++self->state.failed;
        log::error("audit_log", "malformed batch of audit records from " + comp);
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
        log::error("audit_log", "cannot sync the audit log: " + r.err().message);
    },
    [=](status_atom) -> std::string {
      return nlohmann::json{{"written", self->state.written}, {"failed", self->state.failed}}.dump();
    },
  };
}

} // namespace joconde
