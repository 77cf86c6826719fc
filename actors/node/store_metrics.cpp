#include "store_metrics.hpp"

#include "../cplane/cta_records.hpp"
#include "../cplane/cta_state.hpp"

#include <array>
#include <limits>
#include <map>
#include <string>

namespace joconde {

void sample_store(const node_store& store, metrics::registry& meters, std::int64_t now_ms) {
  auto use = store.env->in_use();
  meters.lmdb_map_size().Set(static_cast<double>(use.map_size_bytes));
  meters.lmdb_used().Set(static_cast<double>(use.used_bytes));
  meters.lmdb_free_pages().Set(static_cast<double>(use.free_pages));

  std::map<std::string, double> by_status{
    {"emerging", 0}, {"instantiated", 0}, {"finished", 0}, {"cancelled", 0}, {"erased", 0}};
  constexpr double none = std::numeric_limits<double>::infinity();
  std::map<std::string, double> nearest{{"approval", none}, {"input", none}, {"execution", none}, {"output", none}};
  auto txn = store.env->begin_read();
  if (!txn)
    return;
  auto read = txn->for_each(store.ctas, "", [&](std::string_view, std::string_view value) {
    auto rec = parse_cta_record(value);
    if (!rec)
      return true;
    by_status[std::string{to_string(rec->status())}] += 1;
    const auto& t = rec->ctsc().temporal();
    auto take = [&](const char* name, std::int64_t deadline_ms) {
      auto& n = nearest[name];
      n = std::min(n, static_cast<double>(deadline_ms - now_ms) / 1000.0);
    };
    if (rec->status() == v1::CTA_STATUS_EMERGING) {
      take("approval", t.approval_deadline_ms());
    } else if (rec->status() == v1::CTA_STATUS_INSTANTIATED) {
      const std::array<std::pair<const char*, std::int64_t>, 3> steps{
        {{"input", t.input_deadline_ms()}, {"execution", t.execution_deadline_ms()}, {"output", t.output_deadline_ms()}}};
      for (const auto& [name, at] : steps)
        if (at > now_ms) {
          take(name, at);
          break;
        }
    }
    return true;
  });
  if (!read)
    return;
  for (const auto& [status, n] : by_status)
    meters.ctas(status).Set(n);
  for (const auto& [deadline, seconds] : nearest)
    meters.ct_deadline(deadline).Set(seconds);
}

} // namespace joconde
