#include "data_slot.hpp"

#include <algorithm>
#include <utility>

namespace joconde {

namespace {

constexpr std::pair<slot_state, std::string_view> state_names[] = {
  {slot_state::empty, "empty"},
  {slot_state::in_use, "in_use"},
  {slot_state::ready, "ready"},
  {slot_state::released, "released"},
};

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

} // namespace

std::string_view to_string(slot_kind k) {
  return k == slot_kind::input ? "input" : "output";
}

std::string_view to_string(slot_state s) {
  for (const auto& [v, name] : state_names)
    if (v == s)
      return name;
  return "unknown";
}

std::optional<slot_state> slot_state_from_string(std::string_view name) {
  for (const auto& [v, n] : state_names)
    if (n == name)
      return v;
  return std::nullopt;
}

data_slot::data_slot(std::string name, slot_kind kind, std::set<std::string> peers)
  : name_(std::move(name)), kind_(kind), peers_(std::move(peers)) {
  // nop
}

result<void> data_slot::require_input(std::string_view what) const {
  if (kind_ != slot_kind::input)
    return joconde::fail(errc::invalid_state, std::string{what} + " is for input slots; slot "
                                                + name_ + " is an output");
  if (closed_)
    return joconde::fail(errc::invalid_state, std::string{what} + " is refused: input is closed "
                                                "for slot " + name_);
  return ok();
}

result<void> data_slot::require_upload(const std::string& upload_id, std::string_view what) const {
  if (state_ != slot_state::in_use)
    return joconde::fail(errc::invalid_state, std::string{what} + " needs an upload in progress; slot "
                                                + name_ + " is " + std::string{to_string(state_)});
  if (upload_id != content_id_)
    return joconde::fail(errc::not_found, "slot " + name_ + " has no upload " + upload_id
                                            + " in progress (current: " + content_id_ + ")");
  return ok();
}

void data_slot::empty_out() {
  erasures_.push_back(std::move(content_id_));
  state_ = slot_state::empty;
  content_id_.clear();
  writer_.clear();
  started_ms_ = 0;
  rows_ = 0;
  sha256_.clear();
}

result<void> data_slot::begin_upload(std::string upload_id, std::string who, int64_t now_ms) {
  if (auto r = require_input("an upload"); !r)
    return r;
  if (upload_id.empty() || who.empty())
    return joconde::fail(errc::malformed_input, "an upload names its id and the custodian's PAK");
  if (state_ == slot_state::in_use)
    return joconde::fail(errc::invalid_state, "slot " + name_ + " has upload " + content_id_
                                                + " in progress");
  if (state_ == slot_state::ready)
    erasures_.push_back(content_id_);
  state_ = slot_state::in_use;
  content_id_ = std::move(upload_id);
  writer_ = std::move(who);
  started_ms_ = now_ms;
  rows_ = 0;
  sha256_.clear();
  return ok();
}

result<void> data_slot::complete(const std::string& upload_id, uint64_t rows, std::string sha256) {
  if (auto r = require_input("completing an upload"); !r)
    return r;
  if (auto r = require_upload(upload_id, "completing an upload"); !r)
    return r;
  if (!is_sha256_hex(sha256))
    return joconde::fail(errc::malformed_input, "the SHA-256 of upload " + upload_id
                                                  + " is not 64 hex digits: " + sha256);
  state_ = slot_state::ready;
  rows_ = rows;
  sha256_ = std::move(sha256);
  return ok();
}

result<void> data_slot::fail(const std::string& upload_id) {
  if (auto r = require_input("failing an upload"); !r)
    return r;
  if (auto r = require_upload(upload_id, "failing an upload"); !r)
    return r;
  empty_out();
  return ok();
}

result<void> data_slot::peer_failed(const std::string& upload_id) {
  if (kind_ != slot_kind::input)
    return joconde::fail(errc::invalid_state, "a failed upload concerns input slots; slot " + name_
                                                + " is an output");
  if (state_ != slot_state::in_use && state_ != slot_state::ready)
    return joconde::fail(errc::invalid_state, "slot " + name_ + " is "
                                                + std::string{to_string(state_)}
                                                + " and has no upload " + upload_id);
  if (upload_id != content_id_)
    return joconde::fail(errc::not_found, "slot " + name_ + " holds upload " + content_id_
                                            + ", not " + upload_id);
  empty_out();
  return ok();
}

result<void> data_slot::reject(const std::string& upload_id) {
  if (state_ != slot_state::ready || kind_ != slot_kind::input)
    return joconde::fail(errc::invalid_state, "slot " + name_ + " is " + std::string{to_string(state_)}
                                                + "; only a ready input's upload can fail its check");
  return peer_failed(upload_id);
}

result<void> data_slot::close_input() {
  if (auto r = require_input("closing input"); !r)
    return r;
  closed_ = true;
  if (state_ == slot_state::in_use)
    empty_out();
  return ok();
}

result<void> data_slot::store(std::string content_id, uint64_t rows, std::string sha256) {
  if (kind_ != slot_kind::output)
    return joconde::fail(errc::invalid_state, "the engine stores results in output slots; slot "
                                                + name_ + " is an input");
  if (state_ != slot_state::empty)
    return joconde::fail(errc::invalid_state, "output slot " + name_ + " is "
                                                + std::string{to_string(state_)} + ", not empty");
  if (content_id.empty())
    return joconde::fail(errc::malformed_input, "output content for slot " + name_ + " has no id");
  if (!is_sha256_hex(sha256))
    return joconde::fail(errc::malformed_input, "the SHA-256 of output " + name_
                                                  + " is not 64 hex digits: " + sha256);
  state_ = slot_state::ready;
  content_id_ = std::move(content_id);
  rows_ = rows;
  sha256_ = std::move(sha256);
  return ok();
}

result<void> data_slot::check_peer(const std::string& peer) const {
  if (kind_ != slot_kind::output)
    return joconde::fail(errc::invalid_state, "only output slots are released; slot " + name_
                                                + " is an input");
  if (peer.empty())
    return joconde::fail(errc::malformed_input, "a release names the peer of the analyst");
  if (peers_.count(peer) == 0) {
    std::string named;
    for (const auto& p : peers_)
      named += (named.empty() ? "" : ", ") + p;
    return joconde::fail(errc::forbidden, "output " + name_ + " is not granted to peer " + peer
                                            + " (the CTSC names it for " + named + " only)");
  }
  if (auto it = releases_.find(peer); it != releases_.end())
    return joconde::fail(errc::already_exists, "output " + name_ + " was retrieved by peer " + peer
                                                 + " already (by " + it->second.name + ")");
  return ok();
}

result<void> data_slot::release(const std::string& peer, std::string who, std::string analyst,
                                int64_t now_ms) {
  if (auto r = check_peer(peer); !r)
    return r;
  if (who.empty())
    return joconde::fail(errc::malformed_input, "a release names the analyst's PAK");
  if (state_ != slot_state::ready)
    return joconde::fail(errc::invalid_state, "output " + name_ + " is "
                                                + std::string{to_string(state_)} + ", not ready");
  releases_.emplace(peer, slot_release{std::move(who), std::move(analyst), now_ms});
  if (releases_.size() < peers_.size())
    return ok();
  // SYS-6.6: every named peer has it; the sealed content goes.
  empty_out();
  state_ = slot_state::released;
  return ok();
}

std::vector<std::string> data_slot::waiting_for() const {
  std::vector<std::string> out;
  for (const auto& p : peers_)
    if (releases_.count(p) == 0)
      out.push_back(p);
  return out;
}

void data_slot::discard() {
  if (kind_ == slot_kind::input)
    closed_ = true;
  if (state_ == slot_state::in_use || state_ == slot_state::ready)
    empty_out();
}

std::vector<std::string> data_slot::take_erasures() {
  return std::exchange(erasures_, {});
}

} // namespace joconde
