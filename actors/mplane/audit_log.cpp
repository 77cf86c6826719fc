#include "audit_log.hpp"

#include "joconde/runtime/audit_chain.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/metrics.hpp"

#include <nlohmann/json.hpp>

namespace joconde {

audit_log_actor::behavior_type audit_log(audit_log_pointer self, std::shared_ptr<audit_chain> chain,
                                         metrics::registry* metrics) {
  self->state.chain = std::move(chain);
  self->state.metrics = metrics;
  return {
    [=](audit_atom, std::string& comp, std::string& event, std::vector<std::string>& kv) {
      auto& st = self->state;
      std::vector<std::pair<std::string, std::string>> params;
      for (size_t i = 0; i + 1 < kv.size(); i += 2)
        params.emplace_back(kv[i], kv[i + 1]);
      auto res = st.chain->append(comp, event, params);
      if (!res) {
        ++st.failed;
        log::error("audit_log", "cannot write an audit record: " + res.err().message);
        return;
      }
      ++st.written;
      if (st.metrics)
        st.metrics->audit_records().Increment();
      // Records are written at once (a killed process loses none); the sync to disk is batched.
      if (!st.sync_pending) {
        st.sync_pending = true;
        self->delayed_send(self, std::chrono::milliseconds{20}, tick_atom::value);
      }
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
