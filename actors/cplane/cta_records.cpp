#include "cta_records.hpp"

#include "cta_state.hpp"

#include "joconde/messages/proto.hpp"

namespace joconde {

result<v1::CtaRecord> parse_cta_record(std::string_view bytes) {
  auto rec = proto::parse<v1::CtaRecord>(bytes, max_cta_record_bytes);
  if (!rec || rec->legacy_status().empty())
    return rec;
  auto status = cta_status_from_string(rec->legacy_status());
  if (!status)
    return fail(errc::malformed_input, "the record of CTA " + rec->ctsc().uuid() + " has the status '"
                                         + rec->legacy_status().substr(0, 32) + "'");
  rec->set_status(*status);
  rec->clear_legacy_status();
  return rec;
}

result<std::optional<v1::CtaRecord>> load_cta_record(const node_store& store, const std::string& uuid) {
  auto txn = store.env->begin_read();
  if (!txn)
    return txn.err();
  auto bytes = txn->get(store.ctas, uuid);
  if (!bytes)
    return bytes.err();
  if (!bytes->has_value())
    return std::optional<v1::CtaRecord>{};
  auto rec = parse_cta_record(**bytes);
  if (!rec)
    return rec.err();
  return std::optional<v1::CtaRecord>{std::move(*rec)};
}

} // namespace joconde
