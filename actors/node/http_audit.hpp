#pragma once

// The Auditor's view of this node's audit log (DESIGN.md §11; docs/operations.md): its records page
// by page, a range as a file, and the check of its chain and signed checkpoints, as `joconde-node
// audit verify` makes it. Read-only: nothing here writes the log. Include only from CAF translation
// units.
//
//   GET /v1/audit?from=SEQ&limit=N       {records: [{seq, time, component, event, line}], next, total}
//   GET /v1/audit/export?from=A&to=B     the lines A..B as they are in the file (text/plain)
//   GET /v1/audit/verify                 {ok, records, checkpoints, signed_records, first_bad_line,
//                                         reason, notes}

#include "node_context.hpp"

#include "joconde/runtime/http_server.hpp"

namespace joconde {

/// GET /v1/audit: at most `limit` (1 to 1000, default 100) records from sequence `from` (default 1).
http::response get_audit_records(const node_context& ctx, const http::request& req);

/// GET /v1/audit/export: records `from` to `to` (at most 100000) as a text file.
http::response export_audit_records(const node_context& ctx, const http::request& req);

/// GET /v1/audit/verify: the log's chain and signed checkpoints, checked against the root CA.
http::response verify_audit_log(const node_context& ctx);

} // namespace joconde
