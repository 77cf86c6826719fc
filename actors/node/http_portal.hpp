#pragma once

// The web portal's edge of the node's API (DESIGN.md §12): its files, its log-in and its sessions,
// and the draft page's task check. Include only from CAF translation units.
//
//   GET    /                      303 to /portal/
//   GET    /portal/, /portal/{file}, /portal/{dir}/{file}   the portal's files (built in)
//   POST   /v1/sessions           {token} -> 201 {user, roles, node, csrf_token, idle_timeout_s} and
//                                 the session cookie (HttpOnly, Secure, SameSite=Strict)
//   GET    /v1/session            the session's document again (a reloaded page needs its CSRF token)
//   DELETE /v1/session            log-out: 204, the session ends and the cookie is cleared
//   POST   /v1/tasks/check        a task file's text -> {engine, features, disclosures, approximate,
//                                 ctsc}: what `joconde sql check` says, and the CTSC to create
//
// Every other call of the API accepts the session cookie instead of a bearer token; a call that
// changes anything (any method but GET and HEAD) must then carry the session's X-CSRF-Token.

#include "node_context.hpp"
#include "portal_sessions.hpp"

#include "joconde/runtime/http_server.hpp"

#include <optional>

namespace joconde {

struct user;

/// Who a request's session cookie belongs to.
struct session_caller {
  enum state_t { none, ok, csrf_missing } state = none;  ///< no live session / fine / no valid CSRF token
  std::optional<user> who;                               ///< set unless `none`
  std::optional<portal_session> session;                 ///< the session, for a session's caller
};

/// The user of the request's session cookie at this node; `csrf_missing` when the request changes
/// something without the session's X-CSRF-Token. `none` when the portal is off.
session_caller session_of(const node_context& ctx, const http::request& req);

/// Registers the portal's files, log-in and sessions (when the portal is on).
void register_portal_routes(http::server& server, const std::shared_ptr<node_context>& ctx);

/// POST /v1/tasks/check: compiles the task file in the body as `joconde sql check` does.
http::response check_task_text(const node_context& ctx, const http::request& req);

} // namespace joconde
