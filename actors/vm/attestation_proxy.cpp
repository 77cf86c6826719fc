#include "attestation_proxy.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/vm_metrics.hpp"
#include "vm_sockets.hpp"

#include <caf/scoped_actor.hpp>

#include <array>
#include <cstring>

namespace joconde::vm::detail {

attestation_proxy_actor::behavior_type attestation_proxy(attestation_proxy_actor::pointer, context_ptr ctx) {
  return {
    [=](evidence_atom, const std::string& data) -> caf::result<std::string> {
      if (data.size() != 64)
        return caf::make_error(caf::sec::invalid_argument, "report data is 64 bytes");
      std::array<std::uint8_t, 64> rd{};
      std::memcpy(rd.data(), data.data(), 64);
      auto ev = ctx->attester->get_evidence(rd);
      if (!ev)
        return caf::make_error(caf::sec::runtime_error, ev.err().describe());
      return to_string(enclave::encode(*ev));
    },
    [=](verify_atom, const std::string& encoded, const std::string& expected) -> caf::result<bool> {
      if (expected.size() != 64)
        return make_error(errc::malformed_input, "expected report data is 64 bytes");
      auto ev = enclave::decode_evidence(crypto::to_bytes(encoded));
      if (!ev)
        return to_caf(ev.err());
      std::array<std::uint8_t, 64> rd{};
      std::memcpy(rd.data(), expected.data(), 64);
      auto c = ctx->verifier->verify(*ev, ctx->reference, rd);
      if (!c) {
        ctx->metrics->attestation_failures(to_string(c.err().code)).Increment();
        return to_caf(c.err());
      }
      return true;
    },
  };
}

result<enclave::evidence> proxy_attester::get_evidence(std::span<const std::uint8_t, 64> data) const {
  caf::scoped_actor self{sys_};
  result<enclave::evidence> out = fail(errc::timeout, "the attestation proxy did not answer");
  self->request(proxy_, std::chrono::seconds{10}, evidence_atom::value,
                std::string{reinterpret_cast<const char*>(data.data()), 64})
    .receive([&](const std::string& encoded) { out = enclave::decode_evidence(crypto::to_bytes(encoded)); },
             [&](caf::error& e) { out = fail(errc::io_error, "no evidence: " + sys_.render(e)); });
  return out;
}

result<enclave::claims> proxy_verifier::verify(const enclave::evidence& ev, const enclave::reference_values& ref,
                                               std::span<const std::uint8_t, 64> expected) const {
  // The proxy's answer decides; the claims themselves come from the (stateless) verifier.
  caf::scoped_actor self{sys_};
  result<void> verdict = fail(errc::timeout, "the attestation proxy did not answer");
  self->request(proxy_, std::chrono::seconds{10}, verify_atom::value, to_string(enclave::encode(ev)),
                std::string{reinterpret_cast<const char*>(expected.data()), 64})
    .receive([&](bool) { verdict = ok(); },
             [&](caf::error& e) {
               verdict = code_of(e) != errc::none ? fail(code_of(e), message_of(e))
                                                  : fail(errc::io_error, sys_.render(e));
             });
  if (!verdict)
    return verdict.err();
  return ctx_->verifier->verify(ev, ref, expected);
}

} // namespace joconde::vm::detail
