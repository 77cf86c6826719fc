#pragma once

// How the `joconde` client prints what a node answers: terminal-safe text, UTC times, the whoami line,
// the CTA table, the readable, deterministic rendering of one CTA and the one-line answers to CTSA
// submissions, signatures, SO decisions and trust overrides (docs/cli.md "Commands").

#include "joconde/messages/result.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace joconde::cli {

/// `s` safe for a terminal: control characters (C0, DEL, C1) become `\n`, `\t` or `\xNN`, so text
/// from a node cannot carry escape sequences.
std::string printable(std::string_view s);

/// A point in time in milliseconds since the epoch as UTC ISO-8601, e.g. 2026-11-26T10:00:00.123Z.
std::string format_utc_ms(std::int64_t ms);

/// "USER at NODE (roles: a, b)" from a /v1/whoami answer; malformed_input if it lacks a field.
result<std::string> render_whoami(const nlohmann::json& doc);

/// The aligned table UUID STATUS UPDATES TITLE from a /v1/ctas answer; malformed_input if it has no
/// "ctas" array of objects.
result<std::string> render_cta_list(const nlohmann::json& doc);

/// A readable rendering of one CTA document: the key fields first (uuid, title, status, ctsc_sha256,
/// updates, last changed), then a warning naming each member that is not confirmed out of band at
/// the node (SYS-2.1) with the fingerprint to compare and the commands that confirm or override it,
/// then every other field with keys sorted and nested values indented. The same document always
/// gives the same bytes. malformed_input if `doc` is not an object.
result<std::string> render_cta(const nlohmann::json& doc);

/// The ctsa_sha256 of a POST /v1/ctas/UUID/ctsa answer alone on a line; malformed_input if it has
/// none.
result<std::string> render_ctsa_submitted(const nlohmann::json& doc);

/// "signatory N of PEER signed CTSA SHA256" from a POST /v1/ctas/UUID/signatures answer;
/// malformed_input if it lacks "signatory", "peer" or "ctsa_sha256".
result<std::string> render_signature(const nlohmann::json& doc);

/// "PEER: approved; CTA STATUS" (or "rejected") from a POST /v1/ctas/UUID/decisions answer;
/// malformed_input if it lacks "peer" or "status".
result<std::string> render_decision(const nlohmann::json& doc, bool approved);

/// "override: MEMBER (fingerprint FP) accepted unconfirmed for CTA UUID by USER" from a POST
/// /v1/ctas/UUID/overrides answer; malformed_input if it lacks "member", "uuid" or "by".
result<std::string> render_override(const nlohmann::json& doc);

/// The JSON document as one line with keys sorted (invalid UTF-8 replaced), as --json prints it.
std::string compact_json(const nlohmann::json& doc);

} // namespace joconde::cli
