#pragma once

// The TEE platform interface (DESIGN.md §8): an attester inside a TEE VM turns 64 bytes of report data
// into evidence signed by the platform, and a verifier checks evidence against reference values and
// returns what the platform vouches for (the claims) or one distinct error per failure. The simulated
// platform (simulated.hpp) implements it now; AMD SEV-SNP and Intel TDX back-ends fit it later.

#include "joconde/messages/result.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace joconde::enclave {

// -- value types --

/// A byte string (reports, DER certificates, sealed blobs).
using bytes = std::vector<std::uint8_t>;

/// The launch measurement of a TEE VM: a SHA-384 digest, as SEV-SNP and TDX (MRTD) report it.
using measurement = std::array<std::uint8_t, 48>;

/// The host data of a TEE VM, fixed at launch: joconde puts the CTA hash (SHA-256) there.
using host_data = std::array<std::uint8_t, 32>;

/// The 64 bytes an attester binds into a report: freshness and channel binding (report_data_for).
using report_data = std::array<std::uint8_t, 64>;

/// What an attester hands to a verifier: the platform's signed report and the certificates that
/// lead from the signing chip key towards the platform root.
struct evidence {
  std::string platform;      ///< platform id, e.g. "joconde-simulated"
  bytes report;              ///< the signed report, in the platform's binary layout
  std::vector<bytes> chain;  ///< DER certificates, chip (signing) certificate first
};

/// What a verifier established about a TEE VM from evidence that passed every check.
struct claims {
  std::string platform;              ///< platform id; contains "simulated" for the simulated one
  bool simulated = false;            ///< true when no hardware protects the VM (audit logs say so)
  measurement launch_measurement{};  ///< what was launched (binary and configuration)
  host_data host{};                  ///< the CTA hash the VM was launched for
  report_data report{};              ///< the report data the attester asked to bind
  bool debug = false;                ///< debugging enabled (never true in accepted claims)
  std::uint32_t tcb_version = 0;     ///< platform firmware / TCB version
  bytes chip_id;                     ///< identifies the chip key that signed (platform-defined length)
};

/// What a verifier accepts: the policy evidence is checked against.
struct reference_values {
  std::vector<measurement> measurements;  ///< accepted launch measurements (one must match)
  host_data cta_hash{};                   ///< the host data expected: the CTA this VM must serve
  std::uint32_t min_tcb_version = 0;      ///< oldest accepted TCB version
  std::vector<bytes> revoked_chips;       ///< chip ids (claims::chip_id) whose keys are revoked
  bool allow_simulated = false;           ///< accept the simulated platform (tests, demonstrations)
};

// -- report data --

/// The report data binding a verifier's single-use nonce, the CT, the CP and the session's
/// key-exchange public key (DESIGN.md §8), so that replayed or relayed evidence is refused.
///
/// Layout: bytes 0..31 are SHA-256 of
///   "joconde/report-data/v1" || lp(label) || lp(nonce) || lp(ct_id) || lp(cp_id) || lp(kx_public_key)
/// where lp(x) is the length of x as a 4-byte big-endian integer followed by x; bytes 32..63 are
/// SHA-256 of kx_public_key alone, so the channel layer can see which key a report binds.
report_data report_data_for(std::string_view label, std::span<const std::uint8_t> nonce,
                            std::string_view ct_id, std::string_view cp_id,
                            std::span<const std::uint8_t> kx_public_key);

// -- evidence on the wire --

/// Encodes evidence for transport: "JEV1", then a 2-byte platform id length and the id, a 4-byte report
/// length and the report, a 1-byte certificate count and each certificate as a 4-byte length and DER
/// (all lengths big-endian).
bytes encode(const evidence& ev);

/// Decodes what encode() produced; malformed_input for anything truncated, oversized or trailing.
result<evidence> decode_evidence(std::span<const std::uint8_t> data);

// -- the interface --

/// Runs inside a TEE VM: asks the platform for evidence about this VM.
class attester {
public:
  virtual ~attester() = default;

  /// Evidence whose report binds `data` (see report_data_for).
  virtual result<evidence> get_evidence(std::span<const std::uint8_t, 64> data) const = 0;
};

/// Checks evidence from one platform against reference values.
class verifier {
public:
  virtual ~verifier() = default;

  /// The claims of `ev` when it passes every check, else exactly one error: malformed_input (not
  /// evidence of this platform), forbidden (simulated platform not allowed), untrusted_chain
  /// (unknown chip key), certificate_expired, certificate_revoked, bad_signature, debug_enabled,
  /// tcb_outdated, measurement_mismatch, host_data_mismatch (wrong CTA) or replayed (report data
  /// differs from `expected`: replayed nonce, relayed evidence, another channel key).
  virtual result<claims> verify(const evidence& ev, const reference_values& ref,
                                std::span<const std::uint8_t, 64> expected) const = 0;
};

} // namespace joconde::enclave
