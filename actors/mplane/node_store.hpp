#pragma once

// The LMDB store of one node (DESIGN.md §10): one environment per process under DATA_DIR/store, with
// a named database per kind of record.

#include "joconde/messages/result.hpp"
#include "joconde/runtime/lmdb.hpp"

#include <filesystem>
#include <memory>

namespace joconde {

/// The named databases of a node's store.
struct node_store {
  std::shared_ptr<lmdb::environment> env;
  lmdb::database children;  ///< child FQDN -> serialised NodeIdentity (written by `enrol`)
  lmdb::database trusted;   ///< fingerprint -> how it was confirmed (confirmations.hpp)
  lmdb::database revoked;   ///< fingerprint -> serialised Revocation
  lmdb::database revoked_keys; ///< SHA-256 (hex) of a revoked certificate's public key -> its fingerprint
  lmdb::database outbox;    ///< neighbour FQDN '\0' big-endian sequence -> SignedEnvelope
  lmdb::database seen;      ///< big-endian created-at (µs) + envelope id -> "", for dropping duplicates
  lmdb::database inbox;     ///< topic '\0' big-endian created-at + id -> delivery record (JSON) for the local application
  lmdb::database meta;      ///< counters and markers
  lmdb::database users;     ///< user name -> serialised UserRecord (people at this node, their roles)
  lmdb::database tokens;    ///< SHA-256 of an API token -> user name
  lmdb::database ctas;      ///< CTA uuid -> serialised CtaRecord (the agreements this node holds)
  lmdb::database pending_local; ///< created-at + envelope id -> LocalDelivery not yet processed
  lmdb::database paks;      ///< CTA uuid '\0' SHA-256 of a PAK -> PakRecord (people's keys per CTA)
  lmdb::database overrides; ///< CTA uuid '\0' member FQDN -> TrustOverride (unconfirmed members accepted)
  lmdb::database rotations; ///< new fingerprint -> RotationNotice applied here (each applied once)
  lmdb::database audit_heads; ///< node FQDN -> KeptAuditHead (latest signed audit head of a child; own at the root)
  lmdb::database mail_outbox; ///< big-endian queued-at (ms) + key -> e-mail not sent yet (JSON, notifier.hpp)
  lmdb::database mail_sent;   ///< e-mail key -> when it was sent or given up (each key is sent once)

  /// Opens (creating if needed) the store of the node whose data directory is `data_dir`.
  static result<node_store> open(const std::filesystem::path& data_dir, uint64_t map_size);
};

} // namespace joconde
