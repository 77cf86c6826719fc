#include "envelope_codec.hpp"

#include "joconde/envelope.pb.h"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/merkle.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <optional>

namespace joconde {

namespace {

/// What a batch signature signs first (with its terminating 0x00): never the start of an Envelope.
constexpr char batch_label[] = "joconde-envelope-batch-v1";

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

/// Checks the signature of an envelope signed as one of a batch: its audit path must lead from its
/// body to a root, and the origin must have signed that root with the batch's size. A signature
/// checked before for the same origin certificate, size and root is taken from `cache`.
result<void> check_batch_signature(const v1::SignedEnvelope& signed_env, const verified_node& origin,
                                   batch_signature_cache* cache) {
  const auto& proof = signed_env.batch();
  if (proof.size() < 2 || proof.index() >= proof.size())
    return fail(errc::malformed_input, "envelope batch proof names leaf " + std::to_string(proof.index())
                                         + " of " + std::to_string(proof.size()));
  if (proof.path_size() > 32)
    return fail(errc::malformed_input, "envelope batch proof has more than 32 hashes");
  std::vector<merkle::hash> path;
  for (const auto& h : proof.path()) {
    if (h.size() != 32)
      return fail(errc::malformed_input, "envelope batch proof holds a hash that is not 32 bytes");
    path.emplace_back();
    std::copy(h.begin(), h.end(), path.back().begin());
  }
  auto root = merkle::root_from_path(merkle::leaf_hash(view(signed_env.body())), proof.index(),
                                     proof.size(), path);
  if (!root)
    return fail(errc::malformed_input, "envelope batch proof: " + root.err().message);
  auto msg = batch_signed_bytes(proof.size(), *root);
  auto key = origin.fingerprint + msg;
  if (cache != nullptr && cache->contains(key))
    return ok();
  if (auto ok = origin.leaf.public_key().verify(view(msg), view(signed_env.signature())); !ok)
    return fail(errc::bad_signature, "batch signature of " + origin.fqdn
                                       + " does not verify for this envelope");
  if (cache != nullptr)
    cache->insert(std::move(key));
  return ok();
}

} // namespace

std::string id_hex(std::string_view raw_id) {
  return crypto::hex(view(raw_id));
}

void batch_signature_cache::insert(std::string key) {
  if (capacity_ == 0 || !keys_.insert(key).second)
    return;
  order_.push_back(std::move(key));
  while (order_.size() > capacity_) {
    keys_.erase(order_.front());
    order_.pop_front();
  }
}

std::string batch_signed_bytes(uint32_t size, const std::array<uint8_t, 32>& root) {
  std::string out{batch_label, sizeof(batch_label)}; // the label and its terminating 0x00
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((size >> shift) & 0xff));
  out.append(reinterpret_cast<const char*>(root.data()), root.size());
  return out;
}

result<admitted_envelope> make_envelope(const trust_view& trust, const node_signer& signer,
                                        std::string topic, std::vector<std::string> recipients,
                                        std::string ct_id, std::string payload,
                                        std::chrono::system_clock::time_point now,
                                        const envelope_limits& limits) {
  auto made = make_envelopes(trust, signer, topic, recipients, ct_id, payload, 1, now, limits);
  if (!made)
    return std::move(made).err();
  return std::move(made->front());
}

result<std::vector<admitted_envelope>>
make_envelopes(const trust_view& trust, const node_signer& signer, const std::string& topic,
               const std::vector<std::string>& recipients, const std::string& ct_id,
               const std::string& payload, uint32_t count, std::chrono::system_clock::time_point now,
               const envelope_limits& limits) {
  if (count == 0 || count > 10000)
    return fail(errc::malformed_input, "count must be between 1 and 10000");
  if (payload.size() * count > max_batch_payload)
    return fail(errc::too_large, std::to_string(count) + " envelopes of " + std::to_string(payload.size())
                                   + " bytes exceed the " + std::to_string(max_batch_payload)
                                   + " bytes one publish may make");
  std::vector<v1::Envelope> envs(count);
  std::vector<std::string> bodies;
  std::vector<merkle::hash> leaves;
  for (auto& env : envs) {
    auto id = crypto::random_bytes(16);
    env.set_id(std::string{id.begin(), id.end()});
    env.set_topic(topic);
    env.set_origin(trust.self());
    for (const auto& r : recipients)
      env.add_recipients(r);
    env.set_ct_id(ct_id);
    env.set_created_at_us(to_us(now));
    env.set_payload(payload);
    if (auto ok = check_shape(env, limits); !ok)
      return ok.err();
    bodies.push_back(proto::serialize(env));
    // Every receiver parses the strings as UTF-8 (proto3): refuse here what each node would refuse,
    // instead of signing an envelope no node admits (found by tests/fuzz/envelope_fuzz).
    if (bodies.size() == 1 && !proto::parse<v1::Envelope>(bodies.back(), limits.max_bytes))
      return fail(errc::malformed_input, "the envelope's topic, recipients and CT id must be valid UTF-8");
    if (count > 1)
      leaves.push_back(merkle::leaf_hash(view(bodies.back())));
  }
  // One signature: over the body alone, or over the batch's size and Merkle root.
  std::optional<merkle::tree> tree;
  std::string signed_bytes;
  if (count > 1) {
    auto t = merkle::build(leaves);
    if (!t)
      return std::move(t).err();
    signed_bytes = batch_signed_bytes(count, t->root);
    tree = std::move(*t);
  }
  auto sig = signer.sign(view(count > 1 ? signed_bytes : bodies.front()));
  if (!sig)
    return sig.err();
  std::vector<admitted_envelope> out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    v1::SignedEnvelope signed_env;
    signed_env.set_body(std::move(bodies[i]));
    signed_env.set_signature(std::string{sig->begin(), sig->end()});
    for (const auto& der : trust.own_chain_der())
      signed_env.mutable_origin_chain()->add_certificates(der);
    if (tree) {
      auto* proof = signed_env.mutable_batch();
      proof->set_index(i);
      proof->set_size(count);
      for (const auto& h : tree->paths[i])
        proof->add_path(std::string{h.begin(), h.end()});
    }
    out.push_back(to_admitted(envs[i], proto::serialize(signed_env)));
  }
  return out;
}

result<admitted_envelope> admit_envelope(trust_view& trust, std::string_view bytes,
                                         std::string_view from, neighbour_kind kind,
                                         std::chrono::system_clock::time_point now,
                                         const envelope_limits& limits,
                                         batch_signature_cache* cache) {
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
  if (!signed_env->has_batch()) {
    if (auto ok = origin->leaf.public_key().verify(view(signed_env->body()),
                                                   view(signed_env->signature()));
        !ok)
      return fail(errc::bad_signature, "envelope signature of " + origin->fqdn + " does not verify");
  } else if (auto ok = check_batch_signature(*signed_env, *origin, cache); !ok) {
    return ok.err();
  }
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

namespace {

using google::protobuf::internal::WireFormatLite;

/// Field `number` of the message `bytes` as a length-delimited value; empty if absent.
std::optional<std::string_view> bytes_field(std::string_view bytes, int number) {
  google::protobuf::io::CodedInputStream in{reinterpret_cast<const uint8_t*>(bytes.data()),
                                           static_cast<int>(bytes.size())};
  while (auto tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == number
        && WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t size = 0;
      if (!in.ReadVarint32(&size) || size > bytes.size() - static_cast<size_t>(in.CurrentPosition()))
        return std::nullopt;
      return bytes.substr(static_cast<size_t>(in.CurrentPosition()), size);
    }
    if (!WireFormatLite::SkipField(&in, tag))
      return std::nullopt;
  }
  return std::string_view{};
}

} // namespace

result<envelope_header> peek_header(std::string_view bytes) {
  auto body = bytes_field(bytes, 1);
  if (!body)
    return fail(errc::malformed_input, "bytes are not a SignedEnvelope");
  google::protobuf::io::CodedInputStream in{reinterpret_cast<const uint8_t*>(body->data()),
                                           static_cast<int>(body->size())};
  envelope_header out;
  while (auto tag = in.ReadTag()) {
    auto number = WireFormatLite::GetTagFieldNumber(tag);
    auto type = WireFormatLite::GetTagWireType(tag);
    if (number == 2 && type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::ReadString(&in, &out.topic))
        return fail(errc::malformed_input, "the envelope's topic does not parse");
    } else if (number == 6 && type == WireFormatLite::WIRETYPE_VARINT) {
      uint64_t v = 0;
      if (!in.ReadVarint64(&v))
        return fail(errc::malformed_input, "the envelope's creation time does not parse");
      out.created_at_us = static_cast<int64_t>(v);
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return fail(errc::malformed_input, "the envelope does not parse");
    }
  }
  return out;
}

} // namespace joconde
