#pragma once

// The plain data the actors of a CT VM exchange (DESIGN.md §4; the interfaces are in vm.hpp):
// small structs, each with an inspect() overload so that CAF can serialise, copy and print them
// (tests/unit/vm_messages_test.cpp checks that every field survives).
// No CAF here: the VM's plain classes (task_policy, upload_ledger) use these types too.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace joconde::vm {

/// A slot's content sealed at this CP: where, how many rows, the SHA-256 of its shares.
struct sealed_content {
  std::string path;    ///< the sealed slot file
  std::uint64_t rows = 0;
  std::string sha256;  ///< hex

  bool operator==(const sealed_content&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sealed_content& x) {
  return f(x.path, x.rows, x.sha256);
}

/// What the task policy allows a PAK: one slot, in one direction, for one Peer.
struct authorized {
  std::string slot;            ///< the input or output key
  bool upload = false;         ///< write an input (true) or read an output
  std::string peer;            ///< the Peer (FQDN) whose CTSA lists the person for that slot
  std::string who;             ///< SHA-256 fingerprint of the PAK
  std::string name;            ///< the person's display name in that CTSA
  std::string request_id;      ///< hex of the 16-byte request id
  std::uint64_t max_rows = 0;  ///< upload: the input's row limit

  bool operator==(const authorized&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, authorized& x) {
  return f(x.slot, x.upload, x.peer, x.who, x.name, x.request_id, x.max_rows);
}

/// What the engine produced at this CP: each output's sealed content and the data-quality verdicts.
struct mpc_outcome {
  std::map<std::string, sealed_content> outputs;  ///< output key -> its sealed shares
  std::map<std::string, bool> quality;            ///< input key -> passed its data-quality check
  std::uint64_t rounds = 0;                       ///< communication rounds this party took part in
  std::uint64_t bytes_sent = 0;                   ///< payload bytes this party sent
  std::map<unsigned, std::uint64_t> bytes_to;     ///< of them, by the party (MPC index) they went to
  std::string check_of;  ///< the upload whose data-quality check this run was; empty: the calculation

  bool operator==(const mpc_outcome&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mpc_outcome& x) {
  return f(x.outputs, x.quality, x.rounds, x.bytes_sent, x.bytes_to, x.check_of);
}

/// This CP's shares of an output, released to one analyst.
struct released_output {
  std::vector<std::string> columns;  ///< JSH1 share encodings, the valid flags last
  std::uint64_t rows = 0;

  bool operator==(const released_output&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, released_output& x) {
  return f(x.columns, x.rows);
}

/// One retrieval of an output, as the host sees it.
struct output_retrieval {
  std::string peer;
  std::string analyst;  ///< the analyst's name in the peer's CTSA
  std::int64_t at_ms = 0;

  bool operator==(const output_retrieval&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, output_retrieval& x) {
  return f(x.peer, x.analyst, x.at_ms);
}

/// One data slot, as the host and clients see it.
struct slot_status {
  std::string key;
  bool input = false;
  std::string state;  ///< data_slot state: empty, in_use, ready, released
  std::uint64_t rows = 0;
  std::vector<std::string> peers;               ///< output: the peers it is named for
  std::vector<output_retrieval> retrieved_by;   ///< output: who retrieved it so far, by peer
  std::vector<std::string> waiting_for;         ///< output: the peers still to retrieve it

  bool operator==(const slot_status&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, slot_status& x) {
  return f(x.key, x.input, x.state, x.rows, x.peers, x.retrieved_by, x.waiting_for);
}

/// One event of the VM (phase, slot, quality, mpc, peer, erased ...), as telemetry shows it.
struct vm_event {
  std::uint64_t seq = 0;
  std::int64_t at_ms = 0;
  std::string kind;
  std::string subject;
  std::string value;

  bool operator==(const vm_event&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, vm_event& x) {
  return f(x.seq, x.at_ms, x.kind, x.subject, x.value);
}

/// The state of the CT at this CP: what the admin endpoint's /status and a client's status show.
struct ct_status {
  std::string uuid;
  std::uint32_t cp_index = 0;
  std::string phase;   ///< task_state_machine phase name
  std::string reason;  ///< why it was cancelled; empty otherwise
  std::vector<slot_status> slots;
  std::vector<vm_event> events;  ///< the events asked for, oldest first
  bool finished = false;         ///< finished or cancelled

  bool operator==(const ct_status&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ct_status& x) {
  return f(x.uuid, x.cp_index, x.phase, x.reason, x.slots, x.events, x.finished);
}

} // namespace joconde::vm
