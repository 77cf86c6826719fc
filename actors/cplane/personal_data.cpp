#include "personal_data.hpp"

#include "joconde/messages/canonical.hpp"
#include "joconde/runtime/canonical_hash.hpp"

#include <type_traits>

namespace joconde {

namespace {

std::string fresh_salt() {
  auto b = crypto::random_bytes(personal_salt_bytes);
  return {b.begin(), b.end()};
}

std::string as_string(const crypto::bytes& b) {
  return {b.begin(), b.end()};
}

/// Commits one entry: `has_values` whether its personal fields hold anything, `salt` and
/// `commitment` its fields, `personal` the message of its personal fields alone, `clear` what
/// removes them. An entry committed already stays as it is.
template <class Clear>
result<void> commit_entry(const std::string& what, bool has_values, std::string* salt, std::string* commitment,
                          const google::protobuf::Message& personal, Clear clear) {
  if (!commitment->empty()) {
    if (has_values || !salt->empty())
      return fail(errc::malformed_input, what + " carries both its personal data and a commitment");
    if (commitment->size() != 32)
      return fail(errc::malformed_input, what + ": a commitment is 32 bytes");
    return ok();
  }
  if (!salt->empty() && salt->size() != personal_salt_bytes)
    return fail(errc::malformed_input, what + ": a salt is " + std::to_string(personal_salt_bytes) + " bytes");
  auto c = commitment_of(personal, *salt);
  if (!c)
    return c.err();
  clear();
  salt->clear();
  *commitment = as_string(*c);
  return ok();
}

/// Commits the name of each data custodian or analyst (`kind`) of `peer` in `people`.
template <class People>
result<void> commit_names(People& people, const std::string& kind, const std::string& peer) {
  for (int i = 0; i < people.size(); ++i) {
    auto& p = *people.Mutable(i);
    typename std::remove_reference_t<decltype(p)> personal;
    personal.set_name(p.name());
    if (auto r = commit_entry(kind + " " + std::to_string(i) + " of " + peer, !p.name().empty(), p.mutable_salt(),
                              p.mutable_name_commitment(), personal, [&] { p.clear_name(); });
        !r)
      return r;
  }
  return ok();
}

} // namespace

result<crypto::bytes> commitment_of(const google::protobuf::Message& personal, std::string_view salt) {
  auto body = proto::canonical_bytes(personal);
  if (!body)
    return body.err();
  crypto::sha256_hasher h;
  static const std::string label{"joconde/v1/commitment\0", 22};
  h.update(crypto::to_bytes(label));
  h.update(crypto::to_bytes(salt));
  h.update(crypto::to_bytes(*body));
  return h.finish();
}

void salt_personal(v1::Ctsa& ctsa) {
  for (auto& s : *ctsa.mutable_signatories())
    if (s.commitment().empty() && s.salt().empty())
      s.set_salt(fresh_salt());
  for (auto& dc : *ctsa.mutable_data_custodians())
    if (dc.name_commitment().empty() && dc.salt().empty())
      dc.set_salt(fresh_salt());
  for (auto& da : *ctsa.mutable_data_analysts())
    if (da.name_commitment().empty() && da.salt().empty())
      da.set_salt(fresh_salt());
}

void salt_personal(v1::SignatorySignature& sig) {
  if (sig.document_commitment().empty() && sig.salt().empty())
    sig.set_salt(fresh_salt());
}

result<void> commit_personal(v1::Ctsa& ctsa) {
  for (int i = 0; i < ctsa.signatories_size(); ++i) {
    auto& s = *ctsa.mutable_signatories(i);
    v1::Signatory personal;
    personal.set_name(s.name());
    if (s.has_identification())
      *personal.mutable_identification() = s.identification();
    if (auto r = commit_entry("signatory " + std::to_string(i) + " of " + ctsa.peer(),
                              !s.name().empty() || s.has_identification(), s.mutable_salt(),
                              s.mutable_commitment(), personal, [&] {
                                s.clear_name();
                                s.clear_identification();
                              });
        !r)
      return r;
  }
  if (auto r = commit_names(*ctsa.mutable_data_custodians(), "data custodian", ctsa.peer()); !r)
    return r;
  return commit_names(*ctsa.mutable_data_analysts(), "data analyst", ctsa.peer());
}

result<void> commit_personal(v1::SignatorySignature& sig) {
  v1::Document personal;
  if (sig.has_document())
    personal = sig.document();
  return commit_entry("the signature document of signatory " + std::to_string(sig.signatory()) + " of "
                        + sig.peer(),
                      sig.has_document(), sig.mutable_salt(), sig.mutable_document_commitment(), personal,
                      [&] { sig.clear_document(); });
}

result<void> commit_personal(v1::Cta& cta, const std::string& keep) {
  for (auto& ctsa : *cta.mutable_ctsas())
    if (keep.empty() || ctsa.peer() != keep)
      if (auto r = commit_personal(ctsa); !r)
        return r;
  for (auto& sig : *cta.mutable_signatory_signatures())
    if (keep.empty() || sig.peer() != keep)
      if (auto r = commit_personal(sig); !r)
        return r;
  return ok();
}

result<crypto::bytes> ctsa_hash(const v1::Ctsa& ctsa) {
  auto committed = ctsa;
  if (auto r = commit_personal(committed); !r)
    return r.err();
  return canonical_hash(committed);
}

result<crypto::bytes> cta_hash(const v1::Cta& cta) {
  auto committed = cta;
  if (auto r = commit_personal(committed); !r)
    return r.err();
  return canonical_hash(committed);
}

} // namespace joconde
