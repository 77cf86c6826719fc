#include "joconde/enclave/platform.hpp"

#include "ossl.hpp"

#include <openssl/err.h>
#include <openssl/sha.h>

#include <algorithm>

namespace joconde::enclave {

namespace detail {

void put_be(bytes& out, std::uint64_t x, unsigned n) {
  for (unsigned i = n; i-- > 0;)
    out.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}

std::uint64_t get_be(const std::uint8_t* p, unsigned n) {
  std::uint64_t x = 0;
  for (unsigned i = 0; i < n; ++i)
    x = (x << 8) | p[i];
  return x;
}

bytes to_der(X509* cert) {
  unsigned char* buf = nullptr;
  auto len = i2d_X509(cert, &buf);
  if (len <= 0)
    return {};
  bytes out(buf, buf + len);
  OPENSSL_free(buf);
  return out;
}

x509_ptr from_der(std::span<const std::uint8_t> der) {
  if (der.empty() || der.size() > static_cast<std::size_t>(INT32_MAX))
    return nullptr;
  const unsigned char* p = der.data();
  x509_ptr cert{d2i_X509(nullptr, &p, static_cast<long>(der.size()))};
  if (!cert || p != der.data() + der.size()) {
    ERR_clear_error();
    return nullptr;
  }
  return cert;
}

bytes spki_sha256(X509* cert) {
  unsigned char* buf = nullptr;
  auto len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &buf);
  if (len <= 0)
    return {};
  bytes out(SHA256_DIGEST_LENGTH);
  SHA256(buf, static_cast<std::size_t>(len), out.data());
  OPENSSL_free(buf);
  return out;
}

} // namespace detail

namespace {

constexpr std::string_view evidence_magic = "JEV1";
constexpr std::size_t max_report = 64 * 1024;
constexpr std::size_t max_certificate = 16 * 1024;
constexpr std::size_t max_chain = 8;

void add_lp(EVP_MD_CTX* ctx, std::span<const std::uint8_t> x) {
  bytes len;
  detail::put_be(len, x.size(), 4);
  EVP_DigestUpdate(ctx, len.data(), len.size());
  EVP_DigestUpdate(ctx, x.data(), x.size());
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Reads big-endian lengths and byte strings off a buffer, failing on truncation.
class reader {
public:
  explicit reader(std::span<const std::uint8_t> data) : data_(data) {
    // nop
  }

  bool number(unsigned n, std::uint64_t& out) {
    if (data_.size() - pos_ < n)
      return false;
    out = detail::get_be(data_.data() + pos_, n);
    pos_ += n;
    return true;
  }

  bool take(std::size_t n, bytes& out) {
    if (data_.size() - pos_ < n)
      return false;
    out.assign(data_.begin() + static_cast<std::ptrdiff_t>(pos_),
               data_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }

  bool done() const noexcept { return pos_ == data_.size(); }

private:
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
};

error malformed(std::string what) {
  return fail(errc::malformed_input,
              "attestation evidence is malformed (" + what
                + "); the attester sent something that is not joconde evidence, or it was cut in "
                  "transit: check that both sides run the same joconde version and retry");
}

} // namespace

report_data report_data_for(std::string_view label, std::span<const std::uint8_t> nonce,
                            std::string_view ct_id, std::string_view cp_id,
                            std::span<const std::uint8_t> kx_public_key) {
  static constexpr std::string_view domain = "joconde/report-data/v1";
  report_data out{};
  detail::md_ctx_ptr ctx{EVP_MD_CTX_new()};
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx.get(), domain.data(), domain.size());
  add_lp(ctx.get(), as_bytes(label));
  add_lp(ctx.get(), nonce);
  add_lp(ctx.get(), as_bytes(ct_id));
  add_lp(ctx.get(), as_bytes(cp_id));
  add_lp(ctx.get(), kx_public_key);
  EVP_DigestFinal_ex(ctx.get(), out.data(), nullptr);
  SHA256(kx_public_key.data(), kx_public_key.size(), out.data() + SHA256_DIGEST_LENGTH);
  return out;
}

bytes encode(const evidence& ev) {
  bytes out(evidence_magic.begin(), evidence_magic.end());
  detail::put_be(out, ev.platform.size(), 2);
  out.insert(out.end(), ev.platform.begin(), ev.platform.end());
  detail::put_be(out, ev.report.size(), 4);
  out.insert(out.end(), ev.report.begin(), ev.report.end());
  detail::put_be(out, ev.chain.size(), 1);
  for (const auto& cert : ev.chain) {
    detail::put_be(out, cert.size(), 4);
    out.insert(out.end(), cert.begin(), cert.end());
  }
  return out;
}

result<evidence> decode_evidence(std::span<const std::uint8_t> data) {
  reader in{data};
  bytes magic;
  if (!in.take(evidence_magic.size(), magic)
      || !std::equal(magic.begin(), magic.end(), evidence_magic.begin()))
    return malformed("it does not start with \"JEV1\"");
  evidence ev;
  std::uint64_t len = 0;
  bytes platform;
  if (!in.number(2, len) || !in.take(len, platform))
    return malformed("the platform id is truncated");
  ev.platform.assign(platform.begin(), platform.end());
  if (!in.number(4, len) || len > max_report || !in.take(len, ev.report))
    return malformed("the report is truncated or over 64 KiB");
  std::uint64_t count = 0;
  if (!in.number(1, count) || count > max_chain)
    return malformed("the certificate count is missing or over 8");
  ev.chain.resize(count);
  for (auto& cert : ev.chain)
    if (!in.number(4, len) || len > max_certificate || !in.take(len, cert))
      return malformed("a certificate is truncated or over 16 KiB");
  if (!in.done())
    return malformed("bytes follow the last certificate");
  return ev;
}

} // namespace joconde::enclave
