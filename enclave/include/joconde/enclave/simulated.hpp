#pragma once

// The SIMULATED TEE platform (DESIGN.md §8, docs/tee.md).
//
//   *** The simulated platform gives NO memory protection. ***
//
// Nothing isolates a "VM" from the host: whoever runs the machine can read and change its memory,
// and whoever holds the platform keys can sign any report. It exists so that joconde's attestation
// protocol, key release and sealing run end to end on machines without SEV-SNP or TDX hardware,
// behind the very interface the hardware back-ends will implement. Verifiers accept it only when
// `reference_values::allow_simulated` is set, and everything a user sees says "simulated".
//
// A `simulated_platform` plays the secure processor: it holds a platform root key (ECDSA P-256, a
// self-signed root certificate) and a chip key with a certificate issued by that root, and signs
// launch reports. Report layout (version 1, integers big-endian, 284 bytes):
//
//   offset  size  field
//        0     4  version (1)
//        4    32  platform id, "joconde-simulated" padded with zero bytes
//       36     4  flags; bit 0 set: the VM was launched with debugging enabled
//       40     4  TCB version (simulated_tcb_version)
//       44    48  launch measurement (measure())
//       92    32  host data (the CTA hash)
//      124    64  report data
//      188    32  chip id: SHA-256 of the chip certificate's SubjectPublicKeyInfo
//      220    64  ECDSA P-256 / SHA-256 signature over bytes 0..219 by the chip key, r || s
//
// The evidence carries the report and the chain [chip certificate, root certificate] in DER.

#include "joconde/enclave/platform.hpp"

#include <filesystem>
#include <memory>

namespace joconde::enclave {

// -- constants and the launch measurement --

/// The platform id of the simulated platform, in reports, evidence and claims.
inline constexpr std::string_view simulated_platform_id = "joconde-simulated";

/// The TCB version the simulated secure processor reports.
inline constexpr std::uint32_t simulated_tcb_version = 1;

/// The size of a simulated report, signature included.
inline constexpr std::size_t simulated_report_size = 284;

/// The launch measurement of a VM started from `binary` with `configuration`: SHA-384 of
/// "joconde/launch-measurement/v1" || u64be(len(binary)) || binary || u64be(len(configuration)) ||
/// configuration.
measurement measure(std::span<const std::uint8_t> binary, std::span<const std::uint8_t> configuration);

class simulated_attester;

// -- the secure processor --

/// The simulated secure processor: holds the platform keys and signs launch reports. Not copyable
/// (one key holder); attesters it launches share its keys and may outlive it. A moved-from platform
/// may only be assigned to or destroyed.
class simulated_platform {
public:
  /// A new platform with fresh root and chip keys, made in memory (keys never leave it unless saved).
  static result<simulated_platform> create();

  /// Loads a platform that save() wrote to `dir`.
  static result<simulated_platform> load(const std::filesystem::path& dir);

  simulated_platform(simulated_platform&&) noexcept;
  simulated_platform& operator=(simulated_platform&&) noexcept;
  simulated_platform(const simulated_platform&) = delete;
  simulated_platform& operator=(const simulated_platform&) = delete;
  ~simulated_platform();

  /// Writes root.pem and chip.pem (certificates) and chip-key.pem (the chip's private key, mode
  /// 0600) into the existing directory `dir`; already_exists when any of them is there.
  result<void> save(const std::filesystem::path& dir) const;

  /// The DER platform root certificate: what a verifier trusts to accept this platform.
  const bytes& root_certificate() const noexcept;

  /// The chip id of this platform's chip key (as in reports and claims; what revocation lists hold).
  const bytes& chip_id() const noexcept;

  /// A signed report for a VM launched with these values.
  result<bytes> launch_report(const measurement& m, const host_data& host, bool debug,
                              std::span<const std::uint8_t, 64> data) const;

  /// The attester of a VM launched with `m`, `host` and `debug`, fixed for its lifetime.
  simulated_attester launch(const measurement& m, const host_data& host, bool debug) const;

  /// The state shared with attesters (keys and certificates).
  struct impl;

private:
  explicit simulated_platform(std::shared_ptr<const impl> p);

  std::shared_ptr<const impl> impl_;
};

/// The attester of one simulated VM: produces evidence for any report data, always with the
/// measurement, host data and debug flag its VM was launched with.
class simulated_attester final : public attester {
public:
  /// Evidence for `data` signed by the platform that launched this VM.
  result<evidence> get_evidence(std::span<const std::uint8_t, 64> data) const override;

private:
  friend class simulated_platform;

  simulated_attester(std::shared_ptr<const simulated_platform::impl> p, const measurement& m,
                     const host_data& host, bool debug);

  std::shared_ptr<const simulated_platform::impl> platform_;
  measurement measurement_;
  host_data host_;
  bool debug_;
};

// -- verification --

/// Verifies simulated evidence against the simulated platform roots it trusts.
class simulated_verifier final : public verifier {
public:
  /// A verifier that trusts the DER root certificates `roots` (simulated_platform::root_certificate).
  explicit simulated_verifier(std::vector<bytes> roots);

  /// See verifier::verify; refuses with forbidden before anything else unless ref.allow_simulated.
  result<claims> verify(const evidence& ev, const reference_values& ref,
                        std::span<const std::uint8_t, 64> expected) const override;

private:
  std::vector<bytes> roots_;
};

} // namespace joconde::enclave
