#include "joconde/runtime/smtp_client.hpp"

#include "joconde/messages/text.hpp"

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>

namespace joconde::smtp {

namespace {

/// A header value on one line: CR and LF (and other controls) become spaces.
std::string one_line(std::string s) {
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      c = ' ';
  return s;
}

/// A header value as RFC 2047 encoded words when it is not plain ASCII (each at most 75 characters,
/// UTF-8 sequences kept whole), folded onto continuation lines; ASCII as it is.
std::string encoded_header(const std::string& value) {
  if (std::all_of(value.begin(), value.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    return value;
  std::string out;
  std::size_t at = 0;
  while (at < value.size()) {
    std::size_t take = std::min<std::size_t>(39, value.size() - at);  // 52 base64 characters
    while (at + take < value.size() && (static_cast<unsigned char>(value[at + take]) & 0xc0) == 0x80)
      --take;  // do not split a UTF-8 sequence
    out += (out.empty() ? "" : "\r\n ") + std::string{"=?UTF-8?B?"}
           + text::to_base64(std::string_view{value}.substr(at, take)) + "?=";
    at += take;
  }
  return out;
}

/// The body with CRLF line ends, and a leading '.' doubled is not needed (curl dot-stuffs).
std::string crlf(const std::string& body) {
  std::string out;
  out.reserve(body.size() + body.size() / 40);
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r'))
      out += '\r';
    out += body[i];
  }
  return out;
}

std::string rfc5322_date() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

/// Feeds the message text to curl.
struct reader {
  const std::string* text;
  std::size_t at = 0;

  static std::size_t read(char* buf, std::size_t size, std::size_t n, void* self) {
    auto* r = static_cast<reader*>(self);
    std::size_t room = size * n;
    std::size_t left = r->text->size() - r->at;
    std::size_t k = std::min(room, left);
    std::memcpy(buf, r->text->data() + r->at, k);
    r->at += k;
    return k;
  }
};

struct easy_free {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct slist_free {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

bool curl_ready() {
  static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ready;
}

} // namespace

std::string compose(const std::string& from, const std::string& to, const std::string& subject,
                    const std::string& body, const std::string& message_id) {
  std::string out;
  out += "Date: " + rfc5322_date() + "\r\n";
  out += "From: " + one_line(from) + "\r\n";
  out += "To: " + one_line(to) + "\r\n";
  out += "Subject: " + encoded_header(one_line(subject)) + "\r\n";
  out += "Message-ID: <" + one_line(message_id) + ">\r\n";
  out += "Auto-Submitted: auto-generated\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: 8bit\r\n";
  out += "\r\n";
  out += crlf(body);
  if (out.size() < 2 || out.substr(out.size() - 2) != "\r\n")
    out += "\r\n";
  return out;
}

result<void> send(const relay& r, const message& m) {
  if (!curl_ready())
    return fail(errc::io_error, "libcurl cannot be initialised");
  if (r.host.empty() || m.to.empty())
    return fail(errc::malformed_input, "an e-mail needs a relay and at least one recipient");
  std::unique_ptr<CURL, easy_free> h{curl_easy_init()};
  if (!h)
    return fail(errc::io_error, "libcurl cannot make a handle");
  std::string host = r.host.find(':') != std::string::npos ? "[" + r.host + "]" : r.host;
  std::string url = (r.implicit_tls ? "smtps://" : "smtp://") + host + ":" + std::to_string(r.port);
  std::unique_ptr<curl_slist, slist_free> rcpt;
  for (const auto& to : m.to) {
    auto* l = curl_slist_append(rcpt.get(), ("<" + to + ">").c_str());
    if (l == nullptr)
      return fail(errc::io_error, "out of memory for the recipients");
    (void) rcpt.release();
    rcpt.reset(l);
  }
  reader body{&m.text};
  char message[CURL_ERROR_SIZE] = {};
  auto* c = h.get();
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, message);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_USE_SSL, long{CURLUSESSL_ALL});  // STARTTLS required, or no mail
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, long{CURL_SSLVERSION_TLSv1_2});
  if (!r.ca_file.empty())
    curl_easy_setopt(c, CURLOPT_CAINFO, r.ca_file.c_str());
  if (!r.user.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, r.user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, r.password.c_str());
  }
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, ("<" + m.from + ">").c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(c, CURLOPT_READFUNCTION, &reader::read);
  curl_easy_setopt(c, CURLOPT_READDATA, &body);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<long long>(r.timeout.count(), 10000)));
  auto rc = curl_easy_perform(c);
  // The password curl copied is its own; nothing of ours to wipe here but the error text.
  if (rc == CURLE_OK)
    return ok();
  std::string why = message[0] != '\0' ? message : curl_easy_strerror(rc);
  std::string where = "the SMTP relay " + url + ": ";
  switch (rc) {
    case CURLE_LOGIN_DENIED:
      return fail(errc::forbidden, where + "authentication failed: " + why);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return fail(errc::untrusted_chain, where + "its certificate is not trusted: " + why);
    case CURLE_USE_SSL_FAILED:
      return fail(errc::io_error, where + "it does not offer STARTTLS, and no mail goes in the clear: " + why);
    case CURLE_OPERATION_TIMEDOUT:
      return fail(errc::timeout, where + why);
    default:
      return fail(errc::io_error, where + why);
  }
}

} // namespace joconde::smtp
