#pragma once

// One MPC engine behind the interface every engine offers (spec §4.4.1.2 "MPC Engine", DESIGN.md §9):
// what it can do, how a client splits data into shares and rebuilds results, and how a Computing
// Party activates it to run a compiled program with its counterparts.

#include "joconde/engines/backend.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::engines {

namespace sql {
class program;
} // namespace sql

/// What an engine offers; shown to Task Organisers and checked when a CTSC names the engine.
struct capabilities {
  std::string name;                 ///< as CTSCs name it ("rss3")
  std::string version;              ///< engine version ("1.0.0")
  unsigned parties = 0;             ///< number of Computing Parties it needs
  std::string security_model;       ///< e.g. "semi-honest, honest majority"
  std::vector<std::string> data_types;         ///< task-language column types it supports
  std::vector<std::string> language_features;  ///< task-language features it can run
  bool testing_only = false;        ///< true for the plaintext reference engine: never in a CTSC
};

/// Where a party listens for its counterparts (loopback in tests, the CT VMs' addresses later).
struct party_endpoint {
  std::string host;
  std::uint16_t port = 0;
};

/// A 256-bit key shared by two parties for their channel; the caller supplies it (tests: random;
/// later: derived from the attested handshake between CT VMs).
using channel_key = std::array<std::uint8_t, 32>;

/// The connections to a party's endpoint that were refused before they authenticated (probes,
/// attackers, a counterpart holding another key).
struct refused_connections {
  /// How many, by reason in the engine's words (rss3: bad-party-id, party-taken, failed-proof,
  /// hung-up, too-slow, over-limit); only reasons that occurred.
  std::map<std::string, std::uint64_t> by_reason;
  /// A line for the operator saying the same.
  std::string line;
};

/// Everything one party needs to take part in a run.
struct activation {
  unsigned party = 0;                       ///< this party's index
  std::vector<party_endpoint> endpoints;    ///< every party's endpoint, by index (own: listen)
  std::vector<channel_key> keys;            ///< key shared with each party, by index (own: unused)
  std::chrono::milliseconds connect_timeout{10'000};  ///< to reach every counterpart
  std::chrono::milliseconds io_timeout{60'000};       ///< longest wait for one message
  /// An already listening socket to accept counterparts on instead of binding endpoints[party]
  /// (tests; a supervisor that binds before dropping privileges); the engine closes it.
  int listen_fd = -1;
  /// Called, if set, with the connections to this party's endpoint that were refused before they
  /// authenticated, once connecting ended, whether it succeeded or not (the CT VM logs the line and
  /// counts them in a metric). Never called when none was refused.
  std::function<void(const refused_connections&)> on_refused_connections;
  /// Input tables by input name, this party's shares (as uploaded by the Data Custodians; every
  /// row counts, `valid` is not needed).
  std::map<std::string, secret_table> inputs;
  /// Non-empty: the run is only the data-quality check of this input, run when its upload completes
  /// (spec §4.4.1.1 "Input Phase"); `inputs` need hold only that input, the report has its verdict
  /// and no outputs.
  std::string check_only;
  /// The inputs whose data-quality checks passed at upload: the calculation does not run them again.
  std::set<std::string> checked;
};

/// What a run produced at one party.
struct run_report {
  std::map<std::string, secret_table> outputs;  ///< this party's shares of each output, by name
  std::map<std::string, bool> quality;          ///< data-quality verdicts by input name (revealed)
  backend_stats stats;                          ///< rounds and bytes of this party
};

/// An MPC engine. Implementations are stateless and thread-safe; runs get their state from
/// `activate`.
class engine {
public:
  virtual ~engine() = default;

  /// What the engine offers.
  virtual const capabilities& caps() const noexcept = 0;

  /// Client side: splits clear ring values into one share vector per party (fresh randomness).
  virtual std::vector<secret> split(std::span<const word> values) const = 0;

  /// Client side: rebuilds clear values from every party's shares, checking that the parties'
  /// copies agree where the scheme holds a value twice (malformed_input if they do not).
  virtual result<std::vector<word>> rebuild(std::span<const secret> shares) const = 0;

  /// Whether this engine can run `prog` (unsupported, naming the feature, if not). CTSC validation
  /// calls it after compiling the algorithm.
  virtual result<void> supports(const sql::program& prog) const = 0;

  /// Computing Party side: connects to the counterparts, runs the data-quality checks (but those in
  /// `act.checked`) and then the main algorithm of `prog` on `act.inputs`; or only the check of
  /// `act.check_only`. Any failure (a counterpart's malformed or truncated
  /// message, a timeout, a broken channel) ends the run with an error at this party; it never
  /// returns a partial or wrong result.
  virtual result<run_report> activate(const sql::program& prog, activation act) const = 0;
};

/// The engine called `name`, or nullptr. Knows "rss3" and "reference" (testing only).
const engine* find_engine(std::string_view name);

/// The names of every engine this build has.
std::vector<std::string> engine_names();

// -- share transfer -------------------------------------------------------------------------------

/// One party's shares of a column as bytes, for upload to a data slot or download from an output.
std::vector<std::uint8_t> encode_shares(const secret& x);

/// Checks the header and size of an encode_shares encoding without decoding it: its row count, or
/// malformed_input / too_large (more than max_rows rows) as decode_shares says them.
result<std::size_t> check_shares(std::span<const std::uint8_t> bytes, std::size_t max_rows);

/// The shares encoded by encode_shares; malformed_input or too_large for anything else.
result<secret> decode_shares(std::span<const std::uint8_t> bytes, std::size_t max_rows);

} // namespace joconde::engines
