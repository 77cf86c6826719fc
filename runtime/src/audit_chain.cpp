#include "joconde/runtime/audit_chain.hpp"

#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"

#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace joconde {

namespace {

const std::string genesis(64, '0');

std::string line_hash(std::string_view line) {
  return crypto::hex(crypto::sha256(crypto::to_bytes(line)));
}

/// The value of `name="..."` in the audit structured data of a line.
std::string param(std::string_view line, std::string_view name) {
  auto key = std::string{name} + "=\"";
  auto sd = line.find("[audit@32473 ");
  if (sd == std::string_view::npos)
    return {};
  auto at = line.find(key, sd);
  if (at == std::string_view::npos)
    return {};
  at += key.size();
  auto end = line.find('"', at);
  return end == std::string_view::npos ? std::string{} : std::string{line.substr(at, end - at)};
}

std::filesystem::path head_of(const std::filesystem::path& file) {
  auto h = file;
  h += ".head";
  return h;
}

struct scan {
  audit_verdict verdict;
  std::string last_hash = genesis;
  size_t good_bytes = 0;
  bool torn_tail = false;
};

scan scan_file(const std::filesystem::path& file) {
  scan s;
  std::ifstream in{file, std::ios::binary};
  std::ostringstream buf;
  buf << in.rdbuf();
  auto text = buf.str();
  size_t pos = 0;
  std::uint64_t n = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      s.torn_tail = true;
      break;
    }
    std::string_view line{text.data() + pos, nl - pos};
    ++n;
    auto seq = param(line, "seq");
    auto prev = param(line, "prev");
    if (seq != std::to_string(n)) {
      s.verdict = {false, n - 1, n, "expected record " + std::to_string(n) + ", found '" + seq + "'"};
      return s;
    }
    if (prev != s.last_hash) {
      s.verdict = {false, n - 1, n, "the hash of the previous line does not match"};
      return s;
    }
    s.last_hash = line_hash(line);
    pos = nl + 1;
    s.good_bytes = pos;
  }
  s.verdict = {true, n, 0, {}};
  return s;
}

} // namespace

audit_chain::audit_chain(int fd, std::filesystem::path file, std::string app, std::string host,
                         std::uint64_t seq, std::string prev)
  : fd_(fd), file_(std::move(file)), app_(std::move(app)), host_(std::move(host)), seq_(seq),
    prev_(std::move(prev)) {
  // nop
}

audit_chain::audit_chain(audit_chain&& other) noexcept
  : fd_(other.fd_), file_(std::move(other.file_)), app_(std::move(other.app_)),
    host_(std::move(other.host_)), seq_(other.seq_), prev_(std::move(other.prev_)),
    dirty_(other.dirty_) {
  other.fd_ = -1;
}

audit_chain::~audit_chain() {
  if (fd_ >= 0) {
    (void) sync();
    ::close(fd_);
  }
}

result<audit_chain> audit_chain::open(const std::filesystem::path& file, std::string app_name,
                                      std::string hostname) {
  auto s = scan_file(file);
  if (!s.verdict.ok)
    return fail(errc::malformed_input, "audit log " + file.string() + " is broken at line "
                                         + std::to_string(s.verdict.first_bad_line) + ": "
                                         + s.verdict.reason + "; keep it as evidence and start a new one");
  if (auto head = verify_audit_file(file); !s.torn_tail && head && !head->ok)
    return fail(errc::malformed_input, "audit log " + file.string() + ": " + head->reason);
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail(errc::io_error, "cannot open the audit log " + file.string());
  uintmax_t discarded = 0;
  if (s.torn_tail) {
    std::error_code ec;
    discarded = std::filesystem::file_size(file, ec) - s.good_bytes;
    if (::ftruncate(fd, static_cast<off_t>(s.good_bytes)) != 0) {
      ::close(fd);
      return fail(errc::io_error, "cannot cut the torn last line of " + file.string());
    }
  }
  audit_chain chain{fd, file, std::move(app_name), std::move(hostname), s.verdict.records,
                    s.last_hash};
  if (s.torn_tail) {
    auto r = chain.append("audit_log", "audit.torn_tail_discarded",
                          {{"bytes", std::to_string(discarded)}});
    if (!r)
      return r.err();
    if (auto sr = chain.sync(); !sr)
      return sr.err();
  }
  return chain;
}

result<std::uint64_t> audit_chain::append(std::string_view component, std::string_view event,
                                          const std::vector<std::pair<std::string, std::string>>& params) {
  return append_all(component, event, {params});
}

result<std::uint64_t>
audit_chain::append_all(std::string_view component, std::string_view event,
                        const std::vector<std::vector<std::pair<std::string, std::string>>>& records) {
  std::string lines;
  auto seq = seq_;
  auto prev = prev_;
  for (const auto& params : records) {
    std::vector<std::pair<std::string, std::string>> kv{{"seq", std::to_string(seq + 1)},
                                                        {"prev", prev},
                                                        {"event", std::string{event}}};
    kv.insert(kv.end(), params.begin(), params.end());
    auto line = log::format_line(log::severity::notice, app_, host_, component, {}, kv, "audit@32473");
    prev = line_hash(line);
    ++seq;
    lines += line;
    lines.push_back('\n');
  }
  size_t done = 0;
  while (done < lines.size()) {
    auto n = ::write(fd_, lines.data() + done, lines.size() - done);
    if (n <= 0)
      return fail(errc::io_error, "cannot write the audit log " + file_.string());
    done += static_cast<size_t>(n);
  }
  seq_ = seq;
  prev_ = prev;
  dirty_ = !records.empty() || dirty_;
  return seq_;
}

result<void> audit_chain::sync() {
  if (!dirty_)
    return ok();
  if (::fdatasync(fd_) != 0)
    return fail(errc::io_error, "cannot sync the audit log " + file_.string());
  auto head = head_of(file_);
  auto tmp = head;
  tmp += ".tmp";
  {
    std::ofstream out{tmp, std::ios::trunc};
    out << seq_ << " " << prev_ << "\n";
    out.flush();
    if (!out)
      return fail(errc::io_error, "cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, head, ec);
  if (ec)
    return fail(errc::io_error, "cannot write " + head.string());
  dirty_ = false;
  return ok();
}

result<audit_verdict> verify_audit_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return audit_verdict{true, 0, 0, {}};
  auto s = scan_file(file);
  if (!s.verdict.ok)
    return s.verdict;
  if (s.torn_tail)
    return audit_verdict{false, s.verdict.records, s.verdict.records + 1,
                         "the last line is incomplete (torn write or truncation)"};
  std::ifstream head{head_of(file)};
  std::uint64_t head_seq = 0;
  std::string head_hash;
  if (head >> head_seq >> head_hash) {
    // The head may lag the file by the records written since the last sync, never lead it.
    if (head_seq > s.verdict.records)
      return audit_verdict{false, s.verdict.records, s.verdict.records,
                           "records after " + std::to_string(s.verdict.records) + " are missing"};
    std::ifstream in{file, std::ios::binary};
    std::string line;
    std::string hash;
    for (std::uint64_t i = 0; i < head_seq && std::getline(in, line); ++i)
      hash = line_hash(line);
    if (head_seq > 0 && hash != head_hash)
      return audit_verdict{false, s.verdict.records, head_seq,
                           "line " + std::to_string(head_seq) + " does not match the recorded head"};
  }
  return s.verdict;
}

} // namespace joconde
