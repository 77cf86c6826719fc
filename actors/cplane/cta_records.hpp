#pragma once

// The CTA records a node holds (node_store::ctas), read and written the same way by every actor
// that needs one, and the CTA as a record makes it. Plain functions: testable without actors.

#include "cta_state.hpp"

#include "../mplane/node_store.hpp"

#include "joconde/agreement.pb.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joconde {

/// The most a CTA (CTSC, CTSAs, signatory signatures with their documents, node signatures and
/// approvals) may weigh, serialised: the final CTA travels to every holder in one envelope, whose
/// payload is at most 4 MiB. The root refuses a CTSA or a signature that would take a CTA past it.
constexpr std::size_t max_cta_bytes = 4 * 1024 * 1024 - 64 * 1024;

/// The most a node's record of a CTA may weigh: it holds the CTA about twice (as agreed and as
/// final) besides the VMs' addresses and events. A record over it is neither written nor read.
constexpr std::size_t max_cta_record_bytes = 16 * 1024 * 1024;

// -- reading and writing ----------------------------------------------------------------------------

/// A stored CtaRecord read back (at most max_cta_record_bytes). A record written before its status
/// was an enum holds it by name (legacy_status): it is read into `status` here, the one place that
/// knows the old form; malformed_input for a name that is no status.
result<v1::CtaRecord> parse_cta_record(std::string_view bytes);

/// The CtaRecord this node holds for `uuid`, or none.
result<std::optional<v1::CtaRecord>> load_cta_record(const node_store& store, const std::string& uuid);

/// The CTA this node holds with this uuid: malformed_input for a bad uuid, not_found if none.
result<v1::CtaRecord> load_held(const node_store& store, const std::string& uuid);

/// Every record this node holds that can be read, in uuid order.
std::vector<v1::CtaRecord> load_all_records(const node_store& store);

/// The uuid of the CTA whose record holds a CTSA of `peer` with this hash (raw SHA-256), or "".
std::string find_cta_of_ctsa(const node_store& store, const std::string& peer,
                             const std::string& ctsa_sha256);

/// Writes `rec` (too_large over max_cta_record_bytes).
result<void> save_cta_record(const node_store& store, const v1::CtaRecord& rec);

/// Stores a new, emerging record of `ctsc`: true if stored, false if the same CTSC is held already,
/// already_exists if its uuid is taken by another CTSC. With a request id, the root also remembers
/// which draft became this CTA (in the same commit; see registered_uuid).
result<bool> store_new_record(const node_store& store, const v1::Ctsc& ctsc,
                              const std::string& request_id = {});

/// At the root: the uuid of the CTA the draft with this request id became, or none.
std::optional<std::string> registered_uuid(const node_store& store, const std::string& request_id);

// -- the record and the state machine ---------------------------------------------------------------

/// The CTA state machine as a record stores it.
cta_state state_of(const v1::CtaRecord& rec);

/// Writes the state machine's status and counters (not the addenda) into a record.
void put_state(const cta_state& s, v1::CtaRecord& rec);

/// The record's entry for `peer`, created (missing) if there is none.
v1::AddendumRecord& addendum_entry(v1::CtaRecord& rec, const std::string& peer);

/// Keeps only the fact that the CTA existed (its uuid and title): the CTSC, the addenda, the final
/// CTA, the VMs' addresses and events go (spec: erased after the retention time).
void strip_to_fact(v1::CtaRecord& rec);

// -- the CTA a record makes ---------------------------------------------------------------------------

/// The CTA as the record stands: the CTSC, then per peer (in the CTSC's order) its CTSA, its
/// signatories' signatures, its node signature and the SO's decision.
v1::Cta assemble_cta(const v1::CtaRecord& record);

/// too_large if the CTA, as `record` would make it, could not reach its holders in one envelope;
/// `what` names what was about to be added.
result<void> check_cta_budget(const v1::CtaRecord& record, const std::string& what);

/// The FQDNs of the CTSC's peers, in its order.
std::vector<std::string> peers_of(const v1::Ctsc& ctsc);

/// True if `fqdn` is a peer of the CTSC.
bool is_peer(const v1::Ctsc& ctsc, const std::string& fqdn);

/// Every node that holds the CTA: its peers, and its CPs once it is final.
std::vector<std::string> holders(const v1::CtaRecord& record);

} // namespace joconde
