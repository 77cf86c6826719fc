#include "confirmations.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/runtime/crypto.hpp"

#include <charconv>

namespace joconde {

namespace {

constexpr std::string_view rotated_marker = " rotated-from ";

} // namespace

std::string encode_confirmation(const confirmation& c) {
  auto out = std::to_string(c.at_ms);
  if (!c.rotated_from.empty())
    out += std::string{rotated_marker} + c.rotated_from;
  return out;
}

confirmation decode_confirmation(std::string_view value) {
  confirmation c;
  auto marker = value.find(rotated_marker);
  auto time = value.substr(0, marker);
  std::from_chars(time.data(), time.data() + time.size(), c.at_ms);
  if (marker != std::string_view::npos)
    c.rotated_from = std::string{value.substr(marker + rotated_marker.size())};
  return c;
}

result<std::string> canonical_fingerprint(std::string_view text) {
  std::string digits;
  for (char c : text)
    if (c != ':')
      digits.push_back(c);
  auto bytes = crypto::from_hex(digits);
  if (!bytes || bytes->size() != 32)
    return fail(errc::malformed_input, "'" + std::string{text.substr(0, 200)}
                                         + "' is not a SHA-256 fingerprint (64 hex digits, colons "
                                           "allowed)");
  return crypto::hex(*bytes, text::hex_style::upper_colons);
}

result<std::optional<confirmation>> find_confirmation(const lmdb::txn_base& txn, const node_store& store,
                                                      std::string_view fingerprint) {
  auto value = txn.get(store.trusted, fingerprint);
  if (!value)
    return value.err();
  if (!value->has_value())
    return std::optional<confirmation>{};
  return std::optional<confirmation>{decode_confirmation(**value)};
}

result<void> confirm_fingerprint(const node_store& store, const std::string& fingerprint, int64_t now_ms) {
  auto txn = store.env->begin_write();
  if (!txn)
    return txn.err();
  if (auto r = txn->put(store.trusted, fingerprint, encode_confirmation({now_ms, {}})); !r)
    return r;
  return txn->commit();
}

result<confirmation> remove_confirmation(const node_store& store, const std::string& fingerprint) {
  auto txn = store.env->begin_write();
  if (!txn)
    return txn.err();
  auto found = find_confirmation(*txn, store, fingerprint);
  if (!found)
    return found.err();
  if (!found->has_value())
    return fail(errc::not_found, fingerprint + " is not confirmed at this node (joconde-node trust "
                                               "list shows what is)");
  if (auto r = txn->del(store.trusted, fingerprint); !r)
    return r.err();
  if (auto r = txn->commit(); !r)
    return r.err();
  return **found;
}

std::string_view to_string(notice_outcome x) {
  switch (x) {
    case notice_outcome::confirmed: return "confirmed";
    case notice_outcome::not_confirmed_here: return "not_confirmed_here";
    case notice_outcome::replayed: return "replayed";
  }
  return "unknown";
}

result<notice_outcome> apply_rotation_notice(lmdb::write_txn& txn, const node_store& store,
                                             const rotation_continuity& continuity,
                                             std::string_view notice, int64_t now_ms) {
  auto fresh = txn.put_if_absent(store.rotations, continuity.new_fingerprint, notice);
  if (!fresh)
    return fresh.err();
  if (!*fresh)
    return notice_outcome::replayed;
  auto old = find_confirmation(txn, store, continuity.old_fingerprint);
  if (!old)
    return old.err();
  if (!old->has_value())
    return notice_outcome::not_confirmed_here;
  // An operator's own confirmation of the new fingerprint stays as it is.
  auto put = txn.put_if_absent(store.trusted, continuity.new_fingerprint,
                               encode_confirmation({now_ms, continuity.old_fingerprint}));
  if (!put)
    return put.err();
  return notice_outcome::confirmed;
}

result<std::vector<std::string>> rotation_path(const lmdb::txn_base& txn, const node_store& store,
                                               const std::string& from, const std::string& to) {
  std::vector<std::string> path;
  auto at = to;
  while (at != from) {
    if (path.size() == max_rotation_path)
      return fail(errc::not_found, "no path of rotations from " + from + " to " + to + " within "
                                     + std::to_string(max_rotation_path) + " steps");
    auto notice = txn.get(store.rotations, at);
    if (!notice)
      return notice.err();
    if (!notice->has_value())
      return fail(errc::not_found, "the rotation notice of certificate " + at + " has not reached this "
                                     "node yet: try again in a moment");
    auto parsed = proto::parse<v1::RotationNotice>(**notice, 64 * 1024);
    if (!parsed)
      return parsed.err();
    if (parsed->old_chain().certificates().empty())
      return fail(errc::malformed_input, "a stored rotation notice has no old chain");
    at = crypto::fingerprint(crypto::to_bytes(parsed->old_chain().certificates(0)));
    path.push_back(std::move(**notice));
  }
  return std::vector<std::string>{path.rbegin(), path.rend()};
}

} // namespace joconde

