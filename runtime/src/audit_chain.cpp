#include "joconde/runtime/audit_chain.hpp"

#include "joconde/runtime/log.hpp"

#include <algorithm>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace joconde {

namespace {

const std::string genesis(64, '0');

constexpr std::string_view checkpoint_event = "audit.checkpoint";
constexpr std::string_view torn_event = "audit.torn_line";

audit_verdict broken(std::uint64_t records, std::uint64_t line, std::string reason) {
  audit_verdict v;
  v.records = records;
  v.first_bad_line = line;
  v.reason = std::move(reason);
  return v;
}

std::string line_hash(std::string_view line) {
  return crypto::hex(crypto::sha256(crypto::to_bytes(line)));
}


std::filesystem::path with_suffix(const std::filesystem::path& file, const std::string& suffix) {
  auto p = file;
  p += suffix;
  return p;
}

std::filesystem::path head_of(const std::filesystem::path& file) {
  return with_suffix(file, ".head");
}

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in{file, std::ios::binary};
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

result<std::uint64_t> to_u64(std::string_view text) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string_view::npos)
    return fail(errc::malformed_input, "'" + std::string{text.substr(0, 24)} + "' is not a number");
  return std::stoull(std::string{text});
}

/// Base64 DER certificates, leaf first, separated by commas.
std::string encode_chain(const std::vector<crypto::certificate>& chain) {
  std::string out;
  for (const auto& c : chain) {
    if (!out.empty())
      out.push_back(',');
    out += crypto::to_base64(c.to_der());
  }
  return out;
}

result<std::vector<crypto::certificate>> decode_chain(std::string_view text) {
  std::vector<crypto::certificate> out;
  size_t pos = 0;
  while (pos <= text.size() && out.size() < 8) {
    auto comma = text.find(',', pos);
    auto part = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    auto der = crypto::from_base64(part);
    if (!der)
      return der.err();
    auto cert = crypto::certificate::from_der(*der);
    if (!cert)
      return cert.err();
    out.push_back(std::move(*cert));
    if (comma == std::string_view::npos)
      return out;
    pos = comma + 1;
  }
  return fail(errc::too_large, "more than 8 certificates in a checkpoint");
}

/// How the checkpoints of one file are being checked.
struct checkpoint_state {
  const audit_verify_options* opts = nullptr;   ///< null: open() (no signatures checked)
  std::string node;
  std::optional<crypto::public_key> key;
};

struct scan {
  audit_verdict verdict;
  std::string last_hash = genesis;
  size_t good_bytes = 0;
  bool torn_tail = false;
  std::uint64_t checkpoint_line = 0;
  std::string checkpoint_key;
  std::string hash_at_kept;   ///< hash of line opts->kept->seq
};

/// Checks the checkpoint at line `n` (whose previous line hashes to `prev`); an error says why not.
result<void> check_checkpoint(checkpoint_state& cs, std::string_view line, std::uint64_t n,
                              const std::string& prev, scan& s) {
  audit_head head;
  head.node = audit_param(line, "node");
  head.hash = audit_param(line, "head");
  head.key = audit_param(line, "key");
  auto seq = to_u64(audit_param(line, "head_seq"));
  auto time = to_u64(audit_param(line, "time"));
  if (!seq || !time)
    return fail(errc::malformed_input, "the checkpoint's head_seq or time is not a number");
  head.seq = *seq;
  head.time = static_cast<std::int64_t>(*time);
  if (head.seq + 1 != n || head.hash != prev)
    return fail(errc::malformed_input, "the checkpoint does not describe the line before it");
  s.checkpoint_line = n;
  s.checkpoint_key = head.key;
  if (cs.opts == nullptr)
    return ok();
  if (cs.node.empty())
    cs.node = head.node;
  if (head.node != cs.node)
    return fail(errc::unknown_peer, "the checkpoint is of node '" + head.node + "', not " + cs.node);
  if (auto chain_text = audit_param(line, "chain"); !chain_text.empty()) {
    auto chain = decode_chain(chain_text);
    if (!chain)
      return fail(errc::malformed_input, "the checkpoint's certificate chain: " + chain.err().message);
    const auto& leaf = chain->front();
    if (leaf.public_key().fingerprint() != head.key)
      return fail(errc::bad_signature, "the checkpoint's certificate is not of the key it names");
    auto names = leaf.dns_names();
    if (std::find(names.begin(), names.end(), head.node) == names.end())
      return fail(errc::unknown_peer, "the checkpoint's certificate is not " + head.node + "'s");
    if (cs.opts->ca) {
      std::vector<crypto::certificate> rest{chain->begin() + 1, chain->end()};
      auto at = std::chrono::system_clock::time_point{std::chrono::seconds{head.time}};
      if (auto r = crypto::verify_chain(leaf, rest, *cs.opts->ca, at); !r)
        return fail(r.err().code, "the checkpoint's certificate was not issued under the given CA: "
                                    + r.err().message);
    }
    cs.key = leaf.public_key();
  } else if (!cs.key || cs.key->fingerprint() != head.key) {
    return fail(errc::untrusted_chain, "the checkpoint is signed by key " + head.key
                                         + " whose certificate no earlier checkpoint carries");
  }
  auto sig = crypto::from_base64(audit_param(line, "sig"));
  if (!sig)
    return fail(errc::malformed_input, "the checkpoint's signature is not base64");
  head.signature = std::move(*sig);
  if (auto r = head.verify(*cs.key); !r)
    return fail(errc::bad_signature, "the checkpoint's signature does not verify with "
                                        + head.node + "'s key (rewritten or forged)");
  ++s.verdict.checkpoints;
  s.verdict.signed_records = head.seq;
  return ok();
}

scan scan_file(const std::filesystem::path& file, const audit_verify_options* opts) {
  scan s;
  checkpoint_state cs;
  cs.opts = opts;
  if (opts != nullptr)
    cs.node = opts->node;
  auto text = read_all(file);
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
    auto seq = audit_param(line, "seq");
    auto prev = audit_param(line, "prev");
    if (seq != std::to_string(n)) {
      s.verdict = broken(n - 1, n, "expected record " + std::to_string(n) + ", found '" + seq + "'");
      return s;
    }
    if (prev != s.last_hash) {
      s.verdict = broken(n - 1, n, "the hash of the previous line does not match");
      return s;
    }
    auto event = audit_param(line, "event");
    if (event == checkpoint_event) {
      if (auto r = check_checkpoint(cs, line, n, s.last_hash, s); !r) {
        s.verdict = broken(n - 1, n, r.err().message);
        return s;
      }
    } else if (event == torn_event && opts != nullptr) {
      s.verdict.notes.push_back("line " + audit_param(line, "line") + " was torn (" + audit_param(line, "bytes")
                                + " bytes, no newline) and cut off at a restart; recorded at line "
                                + std::to_string(n) + ", its bytes kept in " + audit_param(line, "kept_in"));
    }
    s.last_hash = line_hash(line);
    if (opts != nullptr && opts->kept && opts->kept->seq == n)
      s.hash_at_kept = s.last_hash;
    pos = nl + 1;
    s.good_bytes = pos;
  }
  s.verdict.ok = true;
  s.verdict.records = n;
  return s;
}

std::string signed_text_of(const audit_head& h) {
  return "joconde audit head v1\n" + h.node + "\n" + std::to_string(h.seq) + "\n" + h.hash + "\n"
         + std::to_string(h.time) + "\n";
}

} // namespace

std::string audit_param(std::string_view line, std::string_view name) {
  auto key = " " + std::string{name} + "=\"";
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

// -- signed heads -------------------------------------------------------------------------------------

std::string audit_head::signed_text() const {
  return signed_text_of(*this);
}

result<void> audit_head::verify(const crypto::public_key& k) const {
  if (k.fingerprint() != key)
    return fail(errc::bad_signature, "the head names key " + key + ", not " + k.fingerprint());
  return k.verify(crypto::to_bytes(signed_text()), signature);
}

std::string format_audit_head(const audit_head& h) {
  return h.node + " " + std::to_string(h.seq) + " " + h.hash + " " + std::to_string(h.time) + " "
         + h.key + " " + crypto::to_base64(h.signature);
}

result<audit_head> parse_audit_head(std::string_view line) {
  std::istringstream in{std::string{line.substr(0, 4096)}};
  audit_head h;
  std::string seq;
  std::string time;
  std::string sig;
  if (!(in >> h.node >> seq >> h.hash >> time >> h.key >> sig))
    return fail(errc::malformed_input, "a kept head is one line: NODE SEQ HASH TIME KEY SIGNATURE "
                                       "(as `joconde-node audit heads` prints it)");
  auto s = to_u64(seq);
  auto t = to_u64(time);
  auto bytes = crypto::from_base64(sig);
  if (!s || !t || !bytes || h.hash.size() != 64)
    return fail(errc::malformed_input, "the kept head's sequence, hash, time or signature is malformed");
  h.seq = *s;
  h.time = static_cast<std::int64_t>(*t);
  h.signature = std::move(*bytes);
  return h;
}

// -- the log being written ----------------------------------------------------------------------------

audit_chain::audit_chain(int fd, std::filesystem::path file, std::string app, std::string host,
                         std::uint64_t seq, std::string prev)
  : fd_(fd), file_(std::move(file)), app_(std::move(app)), host_(std::move(host)), seq_(seq),
    prev_(std::move(prev)) {
  // nop
}

audit_chain::audit_chain(audit_chain&& other) noexcept
  : fd_(other.fd_), file_(std::move(other.file_)), app_(std::move(other.app_)),
    host_(std::move(other.host_)), seq_(other.seq_), prev_(std::move(other.prev_)),
    dirty_(other.dirty_), checkpoint_line_(other.checkpoint_line_),
    checkpoint_key_(std::move(other.checkpoint_key_)), torn_(std::move(other.torn_)) {
  other.fd_ = -1;
}

audit_chain::~audit_chain() {
  if (fd_ >= 0) {
    if (auto r = sync(); !r)
      log::error("audit_log", "the audit log could not be synced at close: " + r.err().describe());
    ::close(fd_);
  }
}

result<audit_chain> audit_chain::open(const std::filesystem::path& file, std::string app_name,
                                      std::string hostname) {
  auto s = scan_file(file, nullptr);
  if (!s.verdict.ok)
    return fail(errc::malformed_input, "audit log " + file.string() + " is broken at line "
                                         + std::to_string(s.verdict.first_bad_line) + ": "
                                         + s.verdict.reason + "; keep it as evidence and start a new one");
  if (auto head = verify_audit_file(file); !s.torn_tail && head && !head->ok)
    return fail(errc::malformed_input, "audit log " + file.string() + ": " + head->reason);
  std::optional<audit_torn_line> torn;
  if (s.torn_tail) {
    // Evidence first: the torn bytes go to a file of their own before they leave the log.
    auto text = read_all(file);
    torn = audit_torn_line{s.verdict.records + 1, text.size() - s.good_bytes, {}};
    torn->kept_in = with_suffix(file, ".torn-" + std::to_string(torn->line));
    std::ofstream out{torn->kept_in, std::ios::binary | std::ios::trunc};
    out.write(text.data() + s.good_bytes, static_cast<std::streamsize>(torn->bytes));
    out.flush();
    if (!out)
      return fail(errc::io_error, "cannot keep the torn last line of " + file.string() + " in "
                                    + torn->kept_in.string());
  }
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail(errc::io_error, "cannot open the audit log " + file.string());
  if (torn && ::ftruncate(fd, static_cast<off_t>(s.good_bytes)) != 0) {
    ::close(fd);
    return fail(errc::io_error, "cannot cut the torn last line of " + file.string());
  }
  audit_chain chain{fd, file, std::move(app_name), std::move(hostname), s.verdict.records,
                    s.last_hash};
  chain.checkpoint_line_ = s.checkpoint_line;
  chain.checkpoint_key_ = s.checkpoint_key;
  if (torn) {
    auto torn_hash = crypto::hex(crypto::sha256(crypto::to_bytes(read_all(torn->kept_in))));
    auto r = chain.append("audit_log", torn_event,
                          {{"line", std::to_string(torn->line)}, {"bytes", std::to_string(torn->bytes)},
                           {"sha256", torn_hash}, {"kept_in", torn->kept_in.filename().string()}});
    if (!r)
      return r.err();
    if (auto sr = chain.sync(); !sr)
      return sr.err();
    chain.torn_ = std::move(torn);
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

result<std::optional<audit_head>> audit_chain::checkpoint(const audit_signer& signer,
                                                          std::chrono::system_clock::time_point now) {
  if (seq_ == 0 || seq_ == checkpoint_line_)
    return std::optional<audit_head>{};
  if (signer.chain.empty())
    return fail(errc::invalid_state, "no certificate to sign audit checkpoints with");
  audit_head head;
  head.node = signer.node;
  head.seq = seq_;
  head.hash = prev_;
  head.time = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  auto leaf_key = signer.chain.front().public_key();
  head.key = leaf_key.fingerprint();
  auto sig = signer.sign(crypto::to_bytes(head.signed_text()));
  if (!sig)
    return sig.err();
  head.signature = std::move(*sig);
  // A key rotation between reading the chain and signing: no checkpoint this time.
  if (auto r = head.verify(leaf_key); !r)
    return fail(errc::invalid_state, "the node key and its certificate differ (a rotation under "
                                     "way); the checkpoint is made at the next interval");
  std::vector<std::pair<std::string, std::string>> params{
    {"node", head.node},
    {"head_seq", std::to_string(head.seq)},
    {"head", head.hash},
    {"time", std::to_string(head.time)},
    {"key", head.key},
    {"sig", crypto::to_base64(head.signature)}};
  if (head.key != checkpoint_key_)
    params.emplace_back("chain", encode_chain(signer.chain));
  auto line = append("audit_log", checkpoint_event, params);
  if (!line)
    return line.err();
  checkpoint_line_ = *line;
  checkpoint_key_ = head.key;
  if (auto r = sync(); !r)
    return r.err();
  return std::optional<audit_head>{std::move(head)};
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

// -- verification -------------------------------------------------------------------------------------

namespace {

/// The checks of verify_audit_file against FILE.head and the kept head, after the chain verified.
audit_verdict check_heads(const std::filesystem::path& file, const audit_verify_options& opts,
                          scan& s) {
  auto records = s.verdict.records;
  std::ifstream head{head_of(file)};
  std::uint64_t head_seq = 0;
  std::string head_hash;
  if (head >> head_seq >> head_hash) {
    // The head may lag the file by the records written since the last sync, never lead it.
    if (head_seq > records)
      return broken(records, records + 1, "truncated: records after " + std::to_string(records)
                                            + " are missing (" + head_of(file).filename().string()
                                            + " says " + std::to_string(head_seq) + ")");
    std::ifstream in{file, std::ios::binary};
    std::string line;
    std::string hash;
    for (std::uint64_t i = 0; i < head_seq && std::getline(in, line); ++i)
      hash = line_hash(line);
    if (head_seq > 0 && hash != head_hash)
      return broken(records, head_seq,
                    "line " + std::to_string(head_seq) + " does not match the recorded head");
  }
  if (opts.kept) {
    const auto& kept = *opts.kept;
    if (kept.seq > records)
      return broken(records, records + 1,
                    "truncated: the log ends at record " + std::to_string(records) + " but the parent "
                      + "keeps a signed head of record " + std::to_string(kept.seq));
    if (kept.seq > 0 && s.hash_at_kept != kept.hash)
      return broken(records, kept.seq,
                    "rewritten: line " + std::to_string(kept.seq) + " is not the one whose signed "
                      + "head the parent keeps (the chain was rewritten and recomputed)");
  }
  return s.verdict;
}

} // namespace

result<audit_verdict> verify_audit_file(const std::filesystem::path& file,
                                        const audit_verify_options& options) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    if (options.kept && options.kept->seq > 0)
      return broken(0, 1, "deleted: the log is missing but the parent keeps a signed head of record "
                            + std::to_string(options.kept->seq));
    std::ifstream head{head_of(file)};
    std::uint64_t head_seq = 0;
    if (head >> head_seq && head_seq > 0)
      return broken(0, 1, "deleted: the log is missing but " + head_of(file).filename().string()
                            + " says it had " + std::to_string(head_seq) + " records");
    audit_verdict empty;
    empty.ok = true;
    return empty;
  }
  auto s = scan_file(file, &options);
  if (!s.verdict.ok)
    return s.verdict;
  if (s.torn_tail)
    return broken(s.verdict.records, s.verdict.records + 1,
                  "torn: line " + std::to_string(s.verdict.records + 1)
                    + " is incomplete (no newline: a torn write or a cut)");
  auto v = check_heads(file, options, s);
  if (!v.ok)
    return v;
  if (!options.ca && v.checkpoints > 0)
    v.notes.push_back("the checkpoints' certificates were not checked against a CA (give --ca or "
                      "--dir): signatures prove only that the log is consistent with itself");
  if (v.checkpoints == 0 && v.records > 0)
    v.notes.push_back("no signed checkpoint: nothing proves who wrote these records");
  else if (v.signed_records + 1 < v.records)
    v.notes.push_back("records " + std::to_string(v.signed_records + 2) + " to "
                      + std::to_string(v.records) + " follow the last signed checkpoint");
  if (!options.kept)
    v.notes.push_back("no head kept by the parent was given (--head): truncation or a recomputed "
                      "chain after the last checkpoint cannot be excluded");
  return v;
}

} // namespace joconde
