#include "slot_files.hpp"

#include "joconde/runtime/crypto.hpp"

#include <openssl/crypto.h>

#include <fstream>

namespace joconde::vm::detail {

std::string seal_ad(const vm_context& ctx, const std::string& slot, const std::string& content) {
  return "joconde/slot/v1\0" + ctx.uuid + '\0' + slot + '\0' + content;
}

result<sealed_content> seal_columns(const vm_context& ctx, const std::string& slot,
                                    const std::string& content, const std::vector<std::string>& cols,
                                    std::uint64_t rows) {
  std::string plain;
  std::size_t total = 8;
  for (const auto& c : cols)
    total += 8 + c.size();
  plain.reserve(total);
  auto put64 = [&](std::uint64_t v) {
    for (int i = 7; i >= 0; --i)
      plain.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put64(cols.size());
  for (const auto& c : cols) {
    put64(c.size());
    plain += c;
  }
  auto digest = crypto::hex(crypto::sha256(crypto::to_bytes(plain)));
  auto sealed = ctx.key->seal(crypto::to_bytes(plain), crypto::to_bytes(seal_ad(ctx, slot, content)));
  OPENSSL_cleanse(plain.data(), plain.size());
  if (!sealed)
    return sealed.err();
  auto path = ctx.slots_dir / (slot + "." + content + ".sealed");
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(reinterpret_cast<const char*>(sealed->data()), static_cast<std::streamsize>(sealed->size()));
  out.close();
  if (!out)
    return fail(errc::io_error, "cannot write " + path.string());
  return sealed_content{path.string(), rows, digest};
}

std::string content_of(const std::string& slot, const sealed_content& c) {
  auto name = fs::path{c.path}.filename().string();
  return name.substr(slot.size() + 1, name.size() - slot.size() - 1 - 7);
}

result<std::string> read_sealed(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return fail(errc::not_found, "slot file " + fs::path{path}.filename().string() + " is gone");
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

result<std::vector<std::string>> unseal_columns(const vm_context& ctx, const std::string& slot,
                                                const std::string& content, const std::string& sealed) {
  const std::string path = slot + "." + content;
  auto plain = ctx.key->unseal(crypto::to_bytes(sealed), crypto::to_bytes(seal_ad(ctx, slot, content)));
  if (!plain)
    return plain.err();
  std::vector<std::string> cols;
  std::size_t off = 0;
  auto get64 = [&](std::uint64_t& v) {
    if (plain->size() - off < 8)
      return false;
    v = 0;
    for (int i = 0; i < 8; ++i)
      v = (v << 8) | (*plain)[off++];
    return true;
  };
  std::uint64_t n = 0;
  if (!get64(n) || n > 4096)
    return fail(errc::malformed_input, "slot file " + path + " is damaged");
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t len = 0;
    if (!get64(len) || plain->size() - off < len)
      return fail(errc::malformed_input, "slot file " + path + " is damaged");
    cols.emplace_back(reinterpret_cast<const char*>(plain->data() + off), len);
    off += len;
  }
  OPENSSL_cleanse(plain->data(), plain->size());
  return cols;
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

} // namespace joconde::vm::detail
