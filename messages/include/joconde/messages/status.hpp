#pragma once

// The status protocol every long-lived actor speaks (CONVENTIONS.md: an actor's interface extends
// `status_actor`), so that operators and tests can ask any actor how it is. A status is a typed
// document (caf::settings: named integers, booleans, reals, strings, lists and nested documents);
// the HTTP edge turns it into JSON (actors/node/http_status.hpp), actors never do. Pulls in CAF:
// include only from actor sources, program mains and tests.

#include <caf/atom.hpp>
#include <caf/config_value.hpp>
#include <caf/replies_to.hpp>
#include <caf/settings.hpp>
#include <caf/typed_actor.hpp>

#include <string_view>
#include <utility>

namespace joconde {

using status_atom = caf::atom_constant<caf::atom("j_status")>;

/// Answers `status` with a document describing the actor (counters, queues, links).
using status_actor = caf::typed_actor<caf::replies_to<status_atom>::with<caf::settings>>;

/// Sets `key` of `doc` to `value`, the key taken literally: a host name's dots do not make nested
/// documents as caf::put would.
template <class T>
void put_status(caf::settings& doc, std::string_view key, T&& value) {
  doc.insert_or_assign(key, caf::config_value{std::forward<T>(value)});
}

/// `doc` as one element of a list in a status document.
inline caf::config_value status_entry(caf::settings doc) {
  return caf::config_value{std::move(doc)};
}

} // namespace joconde
