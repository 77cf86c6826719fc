#include "cta_state.hpp"

#include <algorithm>
#include <utility>

namespace joconde {

namespace {

constexpr std::pair<v1::CtaStatus, std::string_view> status_names[] = {
  {v1::CTA_STATUS_EMERGING, "emerging"}, {v1::CTA_STATUS_INSTANTIATED, "instantiated"},
  {v1::CTA_STATUS_FINISHED, "finished"}, {v1::CTA_STATUS_CANCELLED, "cancelled"},
  {v1::CTA_STATUS_ERASED, "erased"},
};

constexpr std::pair<addendum_status, std::string_view> addendum_names[] = {
  {addendum_status::missing, "missing"},   {addendum_status::submitted, "submitted"},
  {addendum_status::signed_, "signed"},    {addendum_status::approved, "approved"},
  {addendum_status::rejected, "rejected"},
};

template <class Enum, size_t N>
std::string_view name_of(const std::pair<Enum, std::string_view> (&table)[N], Enum value) {
  for (const auto& [v, name] : table)
    if (v == value)
      return name;
  return "unknown";
}

template <class Enum, size_t N>
std::optional<Enum> value_of(const std::pair<Enum, std::string_view> (&table)[N], std::string_view name) {
  for (const auto& [v, n] : table)
    if (n == name)
      return v;
  return std::nullopt;
}

} // namespace

std::string_view to_string(v1::CtaStatus s) {
  return name_of(status_names, s);
}

std::string_view to_string(addendum_status s) {
  return name_of(addendum_names, s);
}

std::optional<v1::CtaStatus> cta_status_from_string(std::string_view name) {
  return value_of(status_names, name);
}

std::optional<addendum_status> addendum_status_from_string(std::string_view name) {
  return value_of(addendum_names, name);
}

void cta_state::restore(v1::CtaStatus status, uint64_t updates, int64_t last_changed_ms,
                        std::string reason) {
  status_ = status;
  updates_ = updates;
  last_changed_ms_ = last_changed_ms;
  reason_ = std::move(reason);
}

void cta_state::restore_addendum(const std::string& peer, addendum_state state) {
  if (auto i = addenda_.find(peer); i != addenda_.end())
    i->second = std::move(state);
}

cta_state::cta_state(std::string uuid, std::string ctsc_hash, std::vector<std::string> peers,
                     std::vector<std::string> computing_parties, int64_t now_ms)
  : uuid_(std::move(uuid)),
    ctsc_hash_(std::move(ctsc_hash)),
    cps_(std::move(computing_parties)),
    last_changed_ms_(now_ms) {
  for (auto& p : peers)
    addenda_.emplace(std::move(p), addendum_state{});
}

bool cta_state::names(const std::string& fqdn) const {
  return addenda_.count(fqdn) > 0 || std::find(cps_.begin(), cps_.end(), fqdn) != cps_.end();
}

result<void> cta_state::require(v1::CtaStatus s, std::string_view what) const {
  if (status_ != s)
    return fail(errc::invalid_state, std::string{what} + " is possible only while the CTA is "
                                       + std::string{to_string(s)} + "; CTA " + uuid_ + " is "
                                       + std::string{to_string(status_)});
  return ok();
}

result<addendum_state*> cta_state::addendum_of(const std::string& peer) {
  auto i = addenda_.find(peer);
  if (i == addenda_.end())
    return fail(errc::forbidden, peer + " is not a peer of CTA " + uuid_);
  return &i->second;
}

void cta_state::changed(int64_t now_ms) {
  ++updates_;
  last_changed_ms_ = std::max(last_changed_ms_, now_ms);
}

result<void> cta_state::submit_addendum(const std::string& peer, uint64_t version,
                                        std::string ctsa_hash, std::string ctsc_hash,
                                        size_t signatories, int64_t now_ms) {
  if (auto r = require(v1::CTA_STATUS_EMERGING, "submitting a CTSA"); !r)
    return r;
  auto a = addendum_of(peer);
  if (!a)
    return a.err();
  auto& ad = **a;
  if (ctsc_hash != ctsc_hash_)
    return fail(errc::malformed_input, "the CTSA of " + peer + " is for another CTSC (hash "
                                         + ctsc_hash + ", this CTA's is " + ctsc_hash_ + ")");
  if (signatories == 0)
    return fail(errc::malformed_input, "a CTSA names at least one signatory");
  if (ad.status == addendum_status::approved)
    return fail(errc::invalid_state, "the CTSA of " + peer + " is approved already and final");
  if (version <= ad.version)
    return fail(errc::replayed, "CTSA version " + std::to_string(version) + " of " + peer
                                  + " is not newer than version " + std::to_string(ad.version));
  ad = addendum_state{addendum_status::submitted, version, std::move(ctsa_hash), signatories, {}, {}};
  changed(now_ms);
  return ok();
}

result<addendum_state*> cta_state::undecided_addendum(const std::string& peer,
                                                      const std::string& ctsa_hash,
                                                      std::string_view action,
                                                      std::string_view what) {
  if (auto r = require(v1::CTA_STATUS_EMERGING, action); !r)
    return r.err();
  auto a = addendum_of(peer);
  if (!a)
    return a.err();
  auto& ad = **a;
  if (ad.status == addendum_status::missing)
    return fail(errc::invalid_state, peer + " has not submitted a CTSA yet");
  if (ctsa_hash != ad.ctsa_hash)
    return fail(errc::replayed, "the " + std::string{what}
                                  + " is for another version of the CTSA of " + peer);
  if (ad.status == addendum_status::approved || ad.status == addendum_status::rejected)
    return fail(errc::invalid_state, "the CTSA of " + peer + " is decided already ("
                                       + std::string{to_string(ad.status)} + ")");
  return &ad;
}

result<void> cta_state::add_signatory_signature(const std::string& peer, const std::string& ctsa_hash,
                                                size_t index, int64_t now_ms) {
  auto a = undecided_addendum(peer, ctsa_hash, "signing a CTSA", "signature");
  if (!a)
    return a.err();
  auto& ad = **a;
  if (index >= ad.signatories)
    return fail(errc::malformed_input, "the CTSA of " + peer + " names "
                                         + std::to_string(ad.signatories) + " signatories, not "
                                         + std::to_string(index + 1));
  if (!ad.signed_by.insert(index).second)
    return fail(errc::duplicate, "signatory " + std::to_string(index) + " of " + peer
                                   + " has signed already");
  if (ad.signed_by.size() == ad.signatories)
    ad.status = addendum_status::signed_;
  changed(now_ms);
  return ok();
}

result<void> cta_state::decide(const std::string& peer, const std::string& ctsa_hash, bool approve,
                               std::string reason, int64_t now_ms) {
  auto a = undecided_addendum(peer, ctsa_hash, "deciding on a CTSA", "decision");
  if (!a)
    return a.err();
  auto& ad = **a;
  if (approve && ad.status != addendum_status::signed_)
    return fail(errc::invalid_state, "the CTSA of " + peer + " lacks signatory signatures ("
                                       + std::to_string(ad.signed_by.size()) + " of "
                                       + std::to_string(ad.signatories) + ")");
  if (!approve && reason.empty())
    return fail(errc::malformed_input, "a rejection says why");
  ad.status = approve ? addendum_status::approved : addendum_status::rejected;
  ad.reason = approve ? std::string{} : std::move(reason);
  changed(now_ms);
  bool all = std::all_of(addenda_.begin(), addenda_.end(), [](const auto& kv) {
    return kv.second.status == addendum_status::approved;
  });
  if (all)
    status_ = v1::CTA_STATUS_INSTANTIATED;
  return ok();
}

result<void> cta_state::cancel(std::string reason, int64_t now_ms) {
  if (status_ != v1::CTA_STATUS_EMERGING && status_ != v1::CTA_STATUS_INSTANTIATED)
    return fail(errc::invalid_state, "CTA " + uuid_ + " is " + std::string{to_string(status_)}
                                       + " and cannot be cancelled");
  if (reason.empty())
    return fail(errc::malformed_input, "a cancellation says why");
  status_ = v1::CTA_STATUS_CANCELLED;
  reason_ = std::move(reason);
  changed(now_ms);
  return ok();
}

bool cta_state::node_revoked(const std::string& fqdn, int64_t now_ms) {
  if (!names(fqdn))
    return false;
  return cancel("the certificate of " + fqdn + " was revoked", now_ms).ok();
}

result<void> cta_state::finish(int64_t now_ms) {
  if (auto r = require(v1::CTA_STATUS_INSTANTIATED, "finishing"); !r)
    return r;
  status_ = v1::CTA_STATUS_FINISHED;
  changed(now_ms);
  return ok();
}

result<void> cta_state::erase(int64_t now_ms) {
  if (status_ != v1::CTA_STATUS_FINISHED && status_ != v1::CTA_STATUS_CANCELLED)
    return fail(errc::invalid_state, "CTA " + uuid_ + " is " + std::string{to_string(status_)}
                                       + ": only a finished or cancelled CTA is erased");
  status_ = v1::CTA_STATUS_ERASED;
  for (auto& [peer, ad] : addenda_)
    ad = addendum_state{};
  changed(now_ms);
  return ok();
}

} // namespace joconde
