#include "cta_erasure.hpp"

#include <nlohmann/json.hpp>

#include <tuple>
#include <utility>
#include <vector>

namespace joconde {

result<cta_erasure> erase_cta_payloads(const node_store& store, const std::set<std::string>& uuids) {
  cta_erasure out;
  std::vector<std::string> inbox;
  std::vector<std::string> paks;
  std::vector<std::string> overrides;
  {
    auto txn = store.env->begin_read();
    if (!txn)
      return txn.err();
    // The inbox is keyed by topic: every record is read for its ct_id.
    auto read = txn->for_each(store.inbox, "", [&](std::string_view key, std::string_view value) {
      auto rec = nlohmann::json::parse(value, nullptr, false);
      if (!rec.is_discarded() && rec.is_object() && uuids.count(rec.value("ct_id", std::string{})) > 0)
        inbox.emplace_back(key);
      return true;
    });
    if (!read)
      return read.err();
    for (const auto& uuid : uuids)
      for (auto [db, keys] : {std::pair{&store.paks, &paks}, std::pair{&store.overrides, &overrides}}) {
        auto r = txn->for_each(*db, uuid + std::string(1, '\0'), [keys = keys](std::string_view key, std::string_view) {
          keys->emplace_back(key);
          return true;
        });
        if (!r)
          return r.err();
      }
  }
  if (inbox.empty() && paks.empty() && overrides.empty()) {
    store.env->want_scrub();
    return out;
  }
  auto txn = store.env->begin_write();
  if (!txn)
    return txn.err();
  for (auto [db, keys, count] : {std::tuple{&store.inbox, &inbox, &out.inbox},
                                 std::tuple{&store.paks, &paks, &out.paks},
                                 std::tuple{&store.overrides, &overrides, &out.overrides}})
    for (const auto& key : *keys) {
      auto gone = txn->del(*db, key);
      if (!gone)
        return gone.err();
      *count += *gone ? 1 : 0;
    }
  if (auto r = txn->commit(); !r)
    return r.err();
  store.env->want_scrub();
  return out;
}

} // namespace joconde
