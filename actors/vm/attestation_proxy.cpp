// The attestation_proxy and task_policy actors of a CT VM (vm_internal.hpp).

#include "vm_internal.hpp"

#include "joconde/runtime/clock.hpp"

#include <joconde/vm.pb.h>

#include <caf/scoped_actor.hpp>

#include <cstring>

namespace joconde::vm::detail {

caf::behavior task_policy_actor(caf::stateful_actor<std::unique_ptr<task_policy>>* self, context_ptr ctx) {
  self->state = std::make_unique<task_policy>(ctx->final.cta());
  return {
    [=](check_atom, const std::string& signed_bytes, bool upload) -> policy_verdict {
      v1::SignedAuthorization sa;
      if (signed_bytes.size() > 16 * 1024 || !sa.ParseFromString(signed_bytes))
        return {static_cast<std::uint32_t>(errc::malformed_input), "not a SignedAuthorization", {}};
      auto r = self->state->check(sa, upload, now_ms());
      if (!r)
        return {static_cast<std::uint32_t>(r.err().code), r.err().message, {}};
      return {0, {}, *r};
    },
  };
}

// -- attestation_proxy actor --

/// Serves this VM's evidence and verifies counterparts' evidence; counts refusals.
caf::behavior attestation_proxy(caf::event_based_actor* self, context_ptr ctx) {
  return {
    [=](evidence_atom, const std::string& data) -> caf::result<enclave::evidence> {
      if (data.size() != 64)
        return caf::make_error(caf::sec::invalid_argument, "report data is 64 bytes");
      std::array<std::uint8_t, 64> rd{};
      std::memcpy(rd.data(), data.data(), 64);
      auto ev = ctx->attester->get_evidence(rd);
      if (!ev)
        return caf::make_error(caf::sec::runtime_error, ev.err().describe());
      return std::move(*ev);
    },
    [=](verify_atom, const enclave::evidence& ev, const std::string& expected)
      -> caf::result<std::uint32_t, std::string> {
      if (expected.size() != 64)
        return {static_cast<std::uint32_t>(errc::malformed_input), std::string{"expected report data is 64 bytes"}};
      std::array<std::uint8_t, 64> rd{};
      std::memcpy(rd.data(), expected.data(), 64);
      auto c = ctx->verifier->verify(ev, ctx->reference, rd);
      if (!c) {
        ctx->metrics->attestation_failures(to_string(c.err().code)).Increment();
        return {static_cast<std::uint32_t>(c.err().code), c.err().message};
      }
      return {std::uint32_t{0}, std::string{}};
    },
  };
}

result<enclave::evidence> proxy_attester::get_evidence(std::span<const std::uint8_t, 64> data) const {
  caf::scoped_actor self{sys_};
  result<enclave::evidence> out = fail(errc::timeout, "the attestation proxy did not answer");
  self->request(proxy_, std::chrono::seconds{10}, evidence_atom::value,
                std::string{reinterpret_cast<const char*>(data.data()), 64})
    .receive([&](enclave::evidence& ev) { out = std::move(ev); },
             [&](caf::error& e) { out = fail(errc::io_error, "no evidence: " + sys_.render(e)); });
  return out;
}

result<enclave::claims> proxy_verifier::verify(const enclave::evidence& ev, const enclave::reference_values& ref,
                                               std::span<const std::uint8_t, 64> expected) const {
  // The proxy's answer decides; the claims themselves come from the (stateless) verifier.
  caf::scoped_actor self{sys_};
  result<void> verdict = fail(errc::timeout, "the attestation proxy did not answer");
  self->request(proxy_, std::chrono::seconds{10}, verify_atom::value, ev,
                std::string{reinterpret_cast<const char*>(expected.data()), 64})
    .receive(
      [&](std::uint32_t code, std::string& msg) {
        verdict = code == 0 ? result<void>{ok()} : fail(static_cast<errc>(code), std::move(msg));
      },
      [&](caf::error& e) { verdict = fail(errc::io_error, sys_.render(e)); });
  if (!verdict)
    return verdict.err();
  return ctx_->verifier->verify(ev, ref, expected);
}

} // namespace joconde::vm::detail
