#include "envelope_codec.hpp"

#include "joconde/envelope.pb.h"
#include "joconde/messages/proto.hpp"

namespace joconde {

namespace {

crypto::bytes_view view(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

int64_t to_us(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

result<void> check_shape(const v1::Envelope& env, const envelope_limits& limits) {
  if (env.id().size() != 16)
    return fail(errc::malformed_input, "envelope id must be 16 bytes");
  if (env.topic().empty() || env.topic().size() > limits.max_topic)
    return fail(errc::malformed_input, "envelope topic must have 1 to "
                                         + std::to_string(limits.max_topic) + " characters");
  if (env.recipients().empty())
    return fail(errc::malformed_input, "envelope names no recipient");
  if (static_cast<size_t>(env.recipients_size()) > limits.max_recipients)
    return fail(errc::too_large, "envelope names more than " + std::to_string(limits.max_recipients)
                                   + " recipients");
  for (const auto& r : env.recipients())
    if (r.empty() || r.size() > 253)
      return fail(errc::malformed_input, "envelope recipient is not a node name");
  if (env.payload().size() > limits.max_payload)
    return fail(errc::too_large, "envelope payload exceeds " + std::to_string(limits.max_payload)
                                   + " bytes");
  return ok();
}

admitted_envelope to_admitted(const v1::Envelope& env, std::string bytes) {
  return admitted_envelope{env.id(), env.topic(), env.origin(),
                           {env.recipients().begin(), env.recipients().end()},
                           env.ct_id(), env.created_at_us(), env.payload(), std::move(bytes)};
}

} // namespace

std::string id_hex(std::string_view raw_id) {
  return crypto::hex(view(raw_id));
}

result<admitted_envelope> make_envelope(const trust_view& trust, const node_signer& signer,
                                        std::string topic, std::vector<std::string> recipients,
                                        std::string ct_id, std::string payload,
                                        std::chrono::system_clock::time_point now,
                                        const envelope_limits& limits) {
  v1::Envelope env;
  auto id = crypto::random_bytes(16);
  env.set_id(std::string{id.begin(), id.end()});
  env.set_topic(std::move(topic));
  env.set_origin(trust.self());
  for (auto& r : recipients)
    env.add_recipients(std::move(r));
  env.set_ct_id(std::move(ct_id));
  env.set_created_at_us(to_us(now));
  env.set_payload(std::move(payload));
  if (auto ok = check_shape(env, limits); !ok)
    return ok.err();
  v1::SignedEnvelope signed_env;
  signed_env.set_body(proto::serialize(env));
  auto sig = signer.sign(view(signed_env.body()));
  if (!sig)
    return sig.err();
  signed_env.set_signature(std::string{sig->begin(), sig->end()});
  for (const auto& der : trust.own_chain_der())
    signed_env.mutable_origin_chain()->add_certificates(der);
  return to_admitted(env, proto::serialize(signed_env));
}

result<admitted_envelope> admit_envelope(trust_view& trust, std::string_view bytes,
                                         std::string_view from, neighbour_kind kind,
                                         std::chrono::system_clock::time_point now,
                                         const envelope_limits& limits) {
  auto signed_env = proto::parse<v1::SignedEnvelope>(bytes, limits.max_bytes);
  if (!signed_env)
    return signed_env.err();
  if (signed_env->signature().empty())
    return fail(errc::bad_signature, "envelope is not signed");
  auto env = proto::parse<v1::Envelope>(signed_env->body(), limits.max_bytes);
  if (!env)
    return env.err();
  if (auto ok = check_shape(*env, limits); !ok)
    return ok.err();
  std::vector<std::string> chain{signed_env->origin_chain().certificates().begin(),
                                 signed_env->origin_chain().certificates().end()};
  auto origin = trust.verify_chain(chain, now);
  if (!origin)
    return origin.err();
  if (origin->fqdn != env->origin())
    return fail(errc::forbidden, "envelope claims origin " + env->origin()
                                   + " but is signed by " + origin->fqdn);
  if (auto ok = origin->leaf.public_key().verify(view(signed_env->body()),
                                                 view(signed_env->signature()));
      !ok)
    return fail(errc::bad_signature, "envelope signature of " + origin->fqdn + " does not verify");
  // The subtree rule: a child speaks only for its own subtree; the parent never for ours.
  switch (kind) {
    case neighbour_kind::self:
      if (origin->fqdn != trust.self())
        return fail(errc::forbidden, "a local envelope must originate at this node");
      break;
    case neighbour_kind::child:
      if (!in_subtree(origin->fqdn, from))
        return fail(errc::forbidden, "origin " + origin->fqdn + " is not in the subtree of "
                                       + std::string{from});
      break;
    case neighbour_kind::parent:
      if (in_subtree(origin->fqdn, trust.self()))
        return fail(errc::forbidden, "the parent relayed an envelope claiming to originate at "
                                       + origin->fqdn + " in this node's subtree");
      break;
  }
  auto created = env->created_at_us();
  auto now_us = to_us(now);
  if (created < now_us - std::chrono::duration_cast<std::chrono::microseconds>(limits.max_age).count())
    return fail(errc::replayed, "envelope is older than the accepted age");
  if (created > now_us + std::chrono::duration_cast<std::chrono::microseconds>(limits.max_skew).count())
    return fail(errc::malformed_input, "envelope is dated in the future");
  return to_admitted(*env, std::string{bytes});
}

} // namespace joconde
