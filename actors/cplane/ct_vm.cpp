#include "ct_vm.hpp"

#include "ct_reports.hpp"
#include "personal_data.hpp"

#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace joconde {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view erasure_label = "joconde/erasure/v1";

/// The most events taken from one GET /status answer.
constexpr std::size_t max_events_per_answer = 1000;

/// Writes `content` to a new file with `mode`; never overwrites.
result<void> write_new(const fs::path& file, std::string_view content, mode_t mode) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return fail(errc::io_error, "cannot create " + file.string() + ": " + std::strerror(errno));
  auto left = content;
  while (!left.empty()) {
    auto n = ::write(fd, left.data(), left.size());
    if (n <= 0) {
      ::close(fd);
      return fail(errc::io_error, "cannot write " + file.string());
    }
    left.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return fail(errc::io_error, "cannot write " + file.string());
  return ok();
}

result<void> make_private_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0)
    return fail(errno == EEXIST ? errc::already_exists : errc::io_error,
                "cannot create " + dir.string() + ": " + std::strerror(errno));
  return ok();
}

std::string string_field(const json& doc, const char* key) {
  auto i = doc.find(key);
  return i != doc.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

} // namespace

result<vm_endpoints> parse_endpoints(std::string_view text) {
  auto doc = json::parse(text, nullptr, false);
  if (!doc.is_object())
    return fail(errc::malformed_input, "endpoints.json is not a JSON object");
  vm_endpoints out{string_field(doc, "admin"), string_field(doc, "client"), string_field(doc, "peer"),
                   string_field(doc, "mpc")};
  for (const auto& [name, value] : {std::pair{"admin", &out.admin}, {"client", &out.client},
                                    {"peer", &out.peer}, {"mpc", &out.mpc}})
    if (!valid_vm_address(*value))
      return fail(errc::malformed_input, std::string{"endpoints.json: \""} + name
                                           + "\" is not host:port");
  return out;
}

result<std::vector<vm_event>> parse_status_events(std::string_view text, std::uint64_t since) {
  auto doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || (doc.contains("events") && !doc["events"].is_array()))
    return fail(errc::malformed_input, "the VM's status is not a JSON object with an events array");
  std::vector<vm_event> out;
  if (!doc.contains("events"))
    return out;
  for (const auto& e : doc["events"]) {
    if (!e.is_object() || !e.contains("seq") || !e["seq"].is_number_unsigned())
      return fail(errc::malformed_input, "a VM event has no sequence number");
    vm_event ev;
    ev.seq = e["seq"].get<std::uint64_t>();
    if (ev.seq <= since)
      continue;
    ev.at_ms = e.contains("at_ms") && e["at_ms"].is_number_integer() ? e["at_ms"].get<std::int64_t>() : 0;
    ev.kind = string_field(e, "kind");
    ev.subject = string_field(e, "subject");
    ev.value = string_field(e, "value");
    out.push_back(std::move(ev));
  }
  std::sort(out.begin(), out.end(), [](const vm_event& a, const vm_event& b) { return a.seq < b.seq; });
  if (out.size() > max_events_per_answer)
    out.resize(max_events_per_answer);
  return out;
}

std::string peers_body(const v1::CtaRecord& record) {
  auto peers = json::array();
  for (const auto& vm : record.vms())
    peers.push_back({{"cp_index", vm.cp_index()},
                     {"peer_address", vm.peer_address()},
                     {"mpc_address", vm.mpc_address()}});
  return json{{"peers", peers}}.dump();
}

result<vm_launch> prepare_ct_dir(const fs::path& data_dir, const v1::FinalCta& fin,
                                 std::uint32_t cp_index) {
  vm_launch l;
  l.uuid = fin.cta().ctsc().uuid();
  l.cp_index = cp_index;
  auto hash = cta_hash(fin.cta());
  if (!hash)
    return hash.err();
  if (hash->size() != l.cta_hash.size())
    return fail(errc::crypto_failure, "the CTA hash is not 32 bytes");
  std::copy(hash->begin(), hash->end(), l.cta_hash.begin());
  auto ct_root = data_dir / "ct";
  if (auto r = make_private_dir(ct_root); !r && r.err().code != errc::already_exists)
    return r.err();
  l.ct_dir = ct_root / l.uuid;
  l.vm_dir = l.ct_dir / "vm";
  l.cta_file = l.ct_dir / "cta.pb";
  l.admin_token_file = l.ct_dir / "admin.token";
  if (auto r = make_private_dir(l.ct_dir); !r)
    return r.err();
  if (auto r = make_private_dir(l.vm_dir); !r)
    return r.err();
  if (auto r = write_new(l.cta_file, proto::serialize(fin), 0600); !r)
    return r.err();
  l.admin_token = crypto::hex(crypto::random_bytes(32));
  if (auto r = write_new(l.admin_token_file, l.admin_token + "\n", 0600); !r)
    return r.err();
  return l;
}

std::string erasure_cause(int exit_status) {
  if (exit_status == 0)
    return "finished";
  if (exit_status == 3)
    return "cancelled";
  return "vm-exited";
}

result<std::vector<std::string>> erase_ct_dir(const fs::path& ct_dir, const fs::path& archive_dir,
                                              const std::string& cp_name) {
  std::error_code ec;
  auto uuid = ct_dir.filename().string();
  if (fs::exists(ct_dir / "vm" / "vm.log", ec) || fs::exists(ct_dir / "sp.log", ec)) {
    if (::mkdir(archive_dir.c_str(), 0700) != 0 && errno != EEXIST)
      return fail(errc::io_error, "cannot create " + archive_dir.string() + ": " + std::strerror(errno));
    for (const auto& [from, to] : {std::pair{ct_dir / "vm" / "vm.log", uuid + "-" + cp_name + ".log"},
                                   {ct_dir / "sp.log", uuid + "-" + cp_name + ".sp.log"}}) {
      if (!fs::exists(from, ec))
        continue;
      // A CT that ran twice here (it cannot, but never overwrite an archive) keeps both.
      auto target = archive_dir / to;
      for (int n = 1; fs::exists(target, ec); ++n)
        target = archive_dir / (to + "." + std::to_string(n));
      fs::copy_file(from, target, ec);
      if (!ec)
        fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write, ec);
    }
  }
  std::vector<std::string> removed;
  for (auto i = fs::recursive_directory_iterator{ct_dir, ec}; !ec && i != fs::recursive_directory_iterator{};
       i.increment(ec))
    if (!i->is_directory(ec))
      removed.push_back(fs::relative(i->path(), ct_dir, ec).string());
  std::sort(removed.begin(), removed.end());
  fs::remove_all(ct_dir, ec);
  if (ec || fs::exists(ct_dir))
    return fail(errc::io_error, "cannot remove " + ct_dir.string() + (ec ? ": " + ec.message() : ""));
  return removed;
}

result<crypto::bytes> erasure_signing_input(const v1::ErasureRecord& rec) {
  auto unsigned_rec = rec;
  unsigned_rec.clear_signature();
  auto digest = canonical_hash(unsigned_rec);
  if (!digest)
    return digest.err();
  crypto::bytes input(erasure_label.begin(), erasure_label.end());
  input.insert(input.end(), digest->begin(), digest->end());
  return input;
}

result<v1::ErasureRecord> sign_erasure(v1::ErasureRecord rec, const node_signer& signer) {
  auto input = erasure_signing_input(rec);
  if (!input)
    return input.err();
  auto sig = signer.sign(*input);
  if (!sig)
    return sig.err();
  rec.set_signature(std::string{sig->begin(), sig->end()});
  return rec;
}

result<void> verify_erasure(const v1::ErasureRecord& rec, const crypto::public_key& key) {
  auto input = erasure_signing_input(rec);
  if (!input)
    return input.err();
  return key.verify(*input, crypto::to_bytes(rec.signature()));
}

} // namespace joconde
