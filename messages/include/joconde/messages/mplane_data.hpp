#pragma once

// The plain data a Management Plane actor exchanges with its own helpers inside one process (the
// interfaces are in mplane.hpp): small structs, each with an inspect() overload so that CAF can
// copy, print and serialise them (tests/unit/plane_messages_test.cpp checks that every field
// survives). No CAF here: the broker's plain classes (broker_store, group_commit) use them too.

#include <cstdint>
#include <string>
#include <vector>

namespace joconde {

/// One change of a broker commit: `value` stored under `key` in database `db`, or `key` removed.
struct store_change {
  /// The broker's databases of the node store a commit changes.
  enum class database : std::uint8_t { seen, inbox, pending_local, outbox };

  database db = database::seen;
  bool erase = false;   ///< remove `key` (`value` is empty)
  std::string key;
  std::string value;

  bool operator==(const store_change&) const = default;
};

/// The name of a database, as CAF prints a store_change.
inline std::string to_string(store_change::database db) {
  switch (db) {
    case store_change::database::seen:
      return "seen";
    case store_change::database::inbox:
      return "inbox";
    case store_change::database::pending_local:
      return "pending_local";
    case store_change::database::outbox:
      break;
  }
  return "outbox";
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_change& x) {
  return f(x.db, x.erase, x.key, x.value);
}

/// What the broker's writer makes durable in one write transaction, in this order (group commit).
struct commit_writes {
  std::vector<store_change> changes;

  bool operator==(const commit_writes&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, commit_writes& x) {
  return f(x.changes);
}

} // namespace joconde
