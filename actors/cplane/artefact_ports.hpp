#pragma once

// What the artefact manager's workflows share (artefact_manager.hpp): how they reach the rest of the
// node (publish through the broker, audit, answer the requests waiting for the root) and the few
// lifecycle steps more than one workflow takes (cancel at the root, tell every holder the status).
// Every workflow file includes this and artefact_manager_state.hpp; none includes another.

#include "artefact_manager_state.hpp"

#include "joconde/agreement.pb.h"
#include "joconde/messages/proto.hpp"
#include "joconde/messages/result.hpp"

#include <caf/error.hpp>

#include <google/protobuf/message.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace joconde {

/// The largest artefact read from another node or from this node's API (an envelope's payload).
constexpr std::size_t max_artefact_bytes = 4 * 1024 * 1024;

// -- the rest of the node ---------------------------------------------------------------------------

/// Writes one audit record of the artefact manager: event and flattened key/value fields.
void audit(artefact_manager_pointer self, std::string event, std::vector<std::string> fields);

/// Publishes `payload` on `topic` to the nodes `to` through the broker; a refusal is logged.
void publish(artefact_manager_pointer self, std::string topic, std::vector<std::string> to,
             std::string uuid, std::string payload);

/// True if the current message comes from an actor of this node (the HTTP API), not a peer's.
bool from_this_node(artefact_manager_pointer self);

// -- artefacts from other nodes ---------------------------------------------------------------------

/// Reads the artefact `what` that `origin` sent (at most max_artefact_bytes) into `out`; false, and
/// logged, if it is unreadable.
bool read_artefact(const std::string& what, const std::string& origin, const std::string& payload,
                   google::protobuf::Message& out);

/// Refuses the artefact `what` that `origin` sent (nothing changes, nobody is answered): logged, and
/// audited as `event`.
void refuse_artefact(artefact_manager_pointer self, const std::string& what, const std::string& event,
                     const std::string& origin, const error& err);

/// Reads the artefact `what` (a message M, e.g. "final CTA") that `origin` sent, which only the root
/// sends; refuses it (refuse_artefact) if it is unreadable or came from another node.
template <class M>
std::optional<M> read_from_root(artefact_manager_pointer self, const std::string& what,
                                const std::string& event, const std::string& origin,
                                const std::string& payload) {
  auto msg = proto::parse<M>(payload, max_artefact_bytes);
  if (!msg) {
    refuse_artefact(self, what, event, origin, msg.err());
    return std::nullopt;
  }
  if (origin != self->state.root) {
    refuse_artefact(self, what, event, origin, fail(errc::forbidden, what + "s come from the root only"));
    return std::nullopt;
  }
  return std::move(*msg);
}

// -- requests to the root and their answers ---------------------------------------------------------

/// Sends `payload` on `topic` to the root and returns the promise that the root's answer
/// (cta.accepted, cta.ctsc or cta.refused with this request id) or the timeout will keep.
caf::typed_response_promise<cta_receipt> ask_root(artefact_manager_pointer self,
                                                  const std::string& request_id, std::string topic,
                                                  std::string uuid, std::string payload);

/// Keeps the promise waiting for `request_id`, if one is: with this reply ...
void answer_pending(artefact_manager_pointer self, const std::string& request_id, cta_receipt reply);

/// ... or with this error.
void answer_pending(artefact_manager_pointer self, const std::string& request_id, caf::error err);

/// At the root: tells `to` that its request was accepted (cta.accepted); `status` is the CTA's or
/// the addendum's afterwards.
void reply_accepted(artefact_manager_pointer self, const std::string& to, const std::string& request_id,
                    const std::string& uuid, const std::string& artefact_sha256, uint64_t updates,
                    std::string status);

/// At the root: refuses `what` (a CTSA, a signature, a cancellation) that `to` sent; logged, audited
/// and answered (cta.refused).
void reply_refused(artefact_manager_pointer self, const std::string& to, const std::string& request_id,
                   const std::string& uuid, const std::string& what, const error& err);

/// A CT report (cta.vm, cta.telemetry, cta.vms, cta.events) that is refused: nothing changes; logged
/// and audited.
void refuse_report(artefact_manager_pointer self, const std::string& topic, const std::string& origin,
                   const std::string& uuid, const error& err);

// -- lifecycle steps shared by the workflows ---------------------------------------------------------

/// At the root: tells every holder the CTA's new status (cta.status).
void publish_status(artefact_manager_pointer self, const v1::CtaRecord& record);

/// At the root: keeps an agreement event about `peer` (a CTSA submitted, signed, approved or
/// rejected, the CTA final) in `record` and saves it, and shares it with every peer (cta.agreement),
/// so that each peer's log of the CT shows the whole agreement (SYS-5.3).
void share_agreement_event(artefact_manager_pointer self, v1::CtaRecord& record, const std::string& peer,
                           const std::string& value);

/// At the root: cancels a CTA (status, audit, every holder told). Refused unless emerging or
/// instantiated.
result<v1::CtaRecord> cancel_at_root(artefact_manager_pointer self, const std::string& uuid,
                                     const std::string& reason, const std::string& by);

} // namespace joconde
