#pragma once

// The HTTP edge's rendering of the artefact manager's typed answers (messages/cplane_data.hpp) as the
// JSON documents of the API (docs/api.md): receipts of a person's steps, registered PAKs and
// overrides, the CTA list and one CTA's view. No CAF here.

#include "joconde/messages/cplane_data.hpp"

#include <nlohmann/json.hpp>

namespace joconde::v1 {
class CtaRecord;
class PakRecord;
class TrustOverride;
} // namespace joconde::v1

namespace joconde {

/// A step's receipt: uuid and status, and each other field the step produced.
nlohmann::json receipt_json(const cta_receipt& r);

/// A registered PAK: {uuid, pak_sha256, name, keys}.
nlohmann::json pak_json(const v1::PakRecord& pak);

/// An IT administrator's override: {uuid, member, fingerprint, reason, by, at_ms}.
nlohmann::json override_json(const v1::TrustOverride& o);

/// A record's CT VM endpoints: the "vms" array of a CTA's view.
nlohmann::json vms_json(const v1::CtaRecord& record);

/// A record's telemetry, oldest first: the "telemetry" array of a CTA's view.
nlohmann::json telemetry_json(const v1::CtaRecord& record);

/// The CTAs held: {ctas: [{uuid, title, status, updates, last_changed_ms, ctsc_sha256, reason}]};
/// a record that cannot be read is left out.
nlohmann::json cta_list_json(const cta_view& view);

/// One CTA in full, as node `self` (the root when `at_root`) holds it: its summary, its progress
/// {phase, until_ms, to_do: [{who, what, role, action, subject}], cause} (cta_progress.hpp), the CTSC (certificates by
/// fingerprint), the members' trust, the addenda, whether it is final, the CT VMs' addresses and
/// events.
nlohmann::json cta_json(const cta_view& view, const std::string& self, bool at_root);

} // namespace joconde
