#pragma once

// The HTTP face of the artefact manager (actors/cplane/artefact_manager.hpp): the agreement calls
// of the node's API (docs/service-nodes.md "API"). Each handler reads the JSON a person sent into the
// Protobuf message or the values the artefact manager takes (the only place that reads that JSON),
// asks it, and answers with its JSON. Include only from CAF translation units.
//
//   POST /v1/ctas                       a draft CTSC (the task file)       -> 201 {uuid, status, ctsc_sha256}
//   POST /v1/ctas/{uuid}/ctsa           {signatories, data_custodians, data_analysts}
//   POST /v1/ctas/{uuid}/signatures     {signatory, document{name, media_type, data | sha256}}
//   POST /v1/ctas/{uuid}/decisions      {peer, approve, reason}            (the SO, at the root)
//   POST /v1/ctas/{uuid}/cancel         {reason}
//   POST /v1/ctas/{uuid}/overrides      {member, reason}                   -> 201
//   POST /v1/ctas/{uuid}/paks           {name, pak, input_keys | output_keys} -> 201
//   GET  /v1/ctas, /v1/ctas/{uuid}

#include "node_context.hpp"

#include "joconde/runtime/http_server.hpp"

#include <string>

namespace joconde {

struct user;

/// POST /v1/ctas: a Task Organiser's draft CTSC, registered by the root.
http::response post_cta(node_context& ctx, const http::request& req, const user& who);

/// POST /v1/ctas/{uuid}/ctsa: the Task Organiser's CTSA of this peer.
http::response post_ctsa(node_context& ctx, const http::request& req, const user& who);

/// POST /v1/ctas/{uuid}/signatures: a Signatory signs this peer's current CTSA.
http::response post_signature(node_context& ctx, const http::request& req, const user& who);

/// POST /v1/ctas/{uuid}/decisions: the System Operator approves or rejects a peer's CTSA.
http::response post_decision(node_context& ctx, const http::request& req, const user& who);

/// POST /v1/ctas/{uuid}/cancel: a peer's Task Organiser at its node, or the System Operator
/// (approver) at the root, cancels the CTA.
http::response post_cancel(node_context& ctx, const http::request& req, const user& who);

/// POST /v1/ctas/{uuid}/overrides: an IT administrator accepts an unconfirmed member (SYS-2.1).
http::response post_override(node_context& ctx, const http::request& req, const user& who);

/// POST /v1/ctas/{uuid}/paks: a data custodian or analyst registers their PAK for this CTA.
http::response post_pak(node_context& ctx, const http::request& req, const user& who);

/// GET /v1/ctas ("" for `uuid`) and GET /v1/ctas/{uuid}.
http::response get_ctas(node_context& ctx, const std::string& uuid);

} // namespace joconde
