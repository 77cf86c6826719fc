#include "portal_sessions.hpp"

#include "joconde/messages/text.hpp"
#include "joconde/runtime/crypto.hpp"

#include <openssl/crypto.h>

#include <algorithm>

namespace joconde {

namespace {

/// The table's key of a session id: its SHA-256, so lookups never compare the secret.
std::string digest_of(std::string_view id) {
  auto d = crypto::sha256(crypto::to_bytes(id));
  return std::string{d.begin(), d.end()};
}

std::string random_hex(std::size_t n) {
  auto raw = crypto::random_bytes(n);
  auto out = crypto::hex(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

} // namespace

portal_sessions::portal_sessions(std::chrono::seconds idle, std::chrono::seconds lifetime,
                                 std::size_t max_sessions)
  : idle_(idle), lifetime_(lifetime), max_sessions_(std::max<std::size_t>(max_sessions, 1)) {
}

std::string portal_sessions::open(const session_owner& owner, clock::time_point now) {
  auto id = random_hex(32);
  std::lock_guard guard{mtx_};
  expire(now);
  while (by_digest_.size() >= max_sessions_) {
    auto oldest = std::min_element(by_digest_.begin(), by_digest_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    by_digest_.erase(oldest);
  }
  portal_session session{owner, random_hex(32)};
  by_digest_[digest_of(id)] = entry{std::move(session), now, now};
  return id;
}

std::optional<portal_session> portal_sessions::find(std::string_view id, clock::time_point now) {
  if (id.size() != 64)
    return std::nullopt;
  std::lock_guard guard{mtx_};
  expire(now);
  auto it = by_digest_.find(digest_of(id));
  if (it == by_digest_.end())
    return std::nullopt;
  it->second.last_used = now;
  return it->second.session;
}

bool portal_sessions::close(std::string_view id) {
  std::lock_guard guard{mtx_};
  return by_digest_.erase(digest_of(id)) > 0;
}

std::size_t portal_sessions::live(clock::time_point now) {
  std::lock_guard guard{mtx_};
  expire(now);
  return by_digest_.size();
}

std::optional<std::chrono::seconds> portal_sessions::locked_for(const std::string& key, clock::time_point now) {
  std::lock_guard guard{mtx_};
  auto it = failures_.find(key);
  if (it == failures_.end() || it->second.count < 5)
    return std::nullopt;
  auto wait = std::chrono::seconds{std::min<long long>(3600, 60LL << std::min(it->second.count - 5, 6))};
  auto until = it->second.last + wait;
  if (now >= until)
    return std::nullopt;
  return std::chrono::duration_cast<std::chrono::seconds>(until - now) + std::chrono::seconds{1};
}

void portal_sessions::login_failed(const std::string& key, clock::time_point now) {
  std::lock_guard guard{mtx_};
  if (failures_.size() >= 10000 && failures_.count(key) == 0) {
    // Forget the failures longest ago; a flood of fresh keys cannot grow the table.
    auto oldest = std::min_element(failures_.begin(), failures_.end(), [](const auto& a, const auto& b) {
      return a.second.last < b.second.last;
    });
    failures_.erase(oldest);
  }
  auto& f = failures_[key];
  if (f.count > 0 && now - f.last > std::chrono::minutes{15} && f.count < 5)
    f.count = 0;
  ++f.count;
  f.last = now;
}

void portal_sessions::login_succeeded(const std::string& key) {
  std::lock_guard guard{mtx_};
  failures_.erase(key);
}

void portal_sessions::expire(clock::time_point now) {
  std::erase_if(by_digest_, [&](const auto& kv) {
    return now - kv.second.last_used >= idle_ || now - kv.second.opened >= lifetime_;
  });
}

std::string portal_sessions::cookie_name(std::string_view node_name) {
  std::string out = "__Host-joconde-";
  for (char c : node_name)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_');
  return out;
}

std::string portal_sessions::cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    auto pair = text::trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && text::trim(pair.substr(0, eq)) == name)
      return std::string{text::trim(pair.substr(eq + 1))};
  }
  return {};
}

bool portal_sessions::csrf_matches(const portal_session& s, std::string_view sent) {
  return !sent.empty() && crypto::constant_time_equal(crypto::to_bytes(s.csrf_token), crypto::to_bytes(sent));
}

} // namespace joconde
