#pragma once

// The parts of the Service Broker's behaviour that its two sources share: service_broker.cpp
// (admission, the links to the neighbours, the dispatch table) and service_broker_commit.cpp (where
// envelopes go, the group commit, the writer). Include only from those two files.

#include "service_broker.hpp"

#include <string>
#include <utility>
#include <vector>

namespace joconde::broker_detail {

/// The broker's name in logs and audit records.
constexpr const char* component = "service_broker";

/// The strings of one "envelope" audit record (key, value, ...).
constexpr uint32_t envelope_record_strings = 10;

/// Appends one "envelope" audit record to `out`.
void add_envelope_record(std::vector<std::string>& out, const std::string& id,
                         const std::string& topic, const std::string& origin,
                         const std::string& from, const std::string& decision);

// -- links to the neighbours (service_broker.cpp) -----------------------------------------------------

/// Sets the outbox depth gauge of `peer`.
void update_depth(service_broker_pointer self, const std::string& peer);

/// Forgets what is in flight to `peer`; it will all be sent again from the outbox (but for what was
/// acknowledged meanwhile and is not yet removed from it).
void reset_peer(service_broker_pointer self, const std::string& peer);

/// Hands the next frames of `peer`'s outbox to the connection manager, up to the window.
void pump(service_broker_pointer self, const std::string& peer);

/// Forwards `entries` (outbox key, envelope bytes) to `hop` at once if it is next in line.
void forward(service_broker_pointer self, const std::string& hop,
             const std::vector<std::pair<std::string, const std::string*>>& entries);

// -- routing and the group commit (service_broker_commit.cpp) -----------------------------------------

/// Hands an envelope to the local actor that processes its topic.
void hand_over(service_broker_pointer self, const local_subscriber_actor& sub, std::string key,
               const std::string& topic, const std::string& origin, const std::string& payload);

/// Admits a batch: decides and forwards at once, then queues it for the commit.
void enqueue(service_broker_pointer self, pending_batch item);

/// Asks for a commit at once, or within the commit delay.
void schedule_commit(service_broker_pointer self, bool now);

/// Starts a commit of what waits, unless one is under way.
void flush(service_broker_pointer self);

/// Queues duplicate-filter ids too old to come again for removal.
void prune_seen(service_broker_pointer self);

/// The behaviour of the broker's writer, a detached actor making commits on its own thread.
broker_writer_actor::behavior_type writer(broker_store store);

} // namespace joconde::broker_detail
