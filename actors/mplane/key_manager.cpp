#include "key_manager.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/runtime/log.hpp"

#include <caf/actor_system.hpp>


namespace joconde {

namespace {

constexpr const char* component = "key_manager";

} // namespace

key_manager_actor::behavior_type key_manager(key_manager_pointer self,
                                             std::shared_ptr<memory_signer> signer,
                                             std::filesystem::path key_file) {
  auto& st = self->state;
  st.signer = std::move(signer);
  st.key_file = std::move(key_file);
  log::info(component, "node key loaded",
            {{"public_key_fingerprint", st.signer->public_key_fingerprint()},
             {"backend", "file"}});
  return {
    [=](sign_atom, std::vector<std::string>& messages) -> caf::result<std::vector<std::string>> {
      auto& st = self->state;
      const auto& sender = self->current_sender();
      if (sender == nullptr || sender->node() != self->node()) {
        ++st.refused;
        log::warning(component, "sign request from another node refused", {{"reason", "forbidden"}});
        return make_error(errc::forbidden, "the node key signs for this node's actors only");
      }
      size_t total = 0;
      for (const auto& m : messages)
        total += m.size();
      if (messages.size() > max_sign_messages || total > max_sign_bytes) {
        ++st.refused;
        return make_error(errc::too_large, "at most " + std::to_string(max_sign_messages)
                                             + " messages of 16 MiB in all per sign request");
      }
      std::vector<std::string> out;
      out.reserve(messages.size());
      for (const auto& m : messages) {
        auto sig = st.signer->sign(crypto::to_bytes(m));
        if (!sig)
          return to_caf(sig.err());
        out.emplace_back(sig->begin(), sig->end());
      }
      st.signatures += out.size();
      return out;
    },
    [=](status_atom) {
      auto& st = self->state;
      caf::settings doc;
      put_status(doc, "backend", "file");
      put_status(doc, "key_file", st.key_file.string());
      put_status(doc, "encrypted_at_rest", true);
      put_status(doc, "algorithm", "ECDSA P-256 with SHA-256");
      put_status(doc, "public_key_fingerprint", st.signer->public_key_fingerprint());
      put_status(doc, "signatures", st.signatures);
      put_status(doc, "refused", st.refused);
      return doc;
    },
  };
}

} // namespace joconde
