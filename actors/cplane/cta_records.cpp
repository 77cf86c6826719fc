#include "cta_records.hpp"

#include "joconde/messages/proto.hpp"

namespace joconde {

result<std::optional<v1::CtaRecord>> load_cta_record(const node_store& store, const std::string& uuid) {
  auto txn = store.env->begin_read();
  if (!txn)
    return txn.err();
  auto bytes = txn->get(store.ctas, uuid);
  if (!bytes)
    return bytes.err();
  if (!bytes->has_value())
    return std::optional<v1::CtaRecord>{};
  auto rec = proto::parse<v1::CtaRecord>(**bytes, max_cta_record_bytes);
  if (!rec)
    return rec.err();
  return std::optional<v1::CtaRecord>{std::move(*rec)};
}

} // namespace joconde
