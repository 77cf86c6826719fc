#pragma once

// The attestation_proxy of a CT VM (DESIGN.md §4; messages/vm.hpp attestation_proxy_actor): this VM's
// evidence, and the verdicts on counterparts' evidence, in one place of the tree (it counts the
// refusals). The handshakes of the session manager's threads reach it through proxy_attester and
// proxy_verifier. Include only from actors/vm sources.

#include "vm_context.hpp"

#include "joconde/enclave/platform.hpp"
#include "joconde/messages/vm.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <span>

namespace joconde::vm::detail {

/// The attestation_proxy actor.
attestation_proxy_actor::behavior_type attestation_proxy(attestation_proxy_actor::pointer self, context_ptr ctx);

/// An attester that asks the attestation_proxy (so that evidence has one place in the tree).
class proxy_attester final : public enclave::attester {
public:
  proxy_attester(caf::actor_system& sys, attestation_proxy_actor proxy) : sys_{sys}, proxy_{std::move(proxy)} {}
  result<enclave::evidence> get_evidence(std::span<const std::uint8_t, 64> data) const override;

private:
  caf::actor_system& sys_;
  attestation_proxy_actor proxy_;
};

/// A verifier that asks the attestation_proxy (which counts refusals for the metrics).
class proxy_verifier final : public enclave::verifier {
public:
  proxy_verifier(caf::actor_system& sys, attestation_proxy_actor proxy, context_ptr ctx)
    : sys_{sys}, proxy_{std::move(proxy)}, ctx_{std::move(ctx)} {}
  result<enclave::claims> verify(const enclave::evidence& ev, const enclave::reference_values& ref,
                                 std::span<const std::uint8_t, 64> expected) const override;

private:
  caf::actor_system& sys_;
  attestation_proxy_actor proxy_;
  context_ptr ctx_;
};

} // namespace joconde::vm::detail
