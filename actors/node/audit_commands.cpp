#include "audit_commands.hpp"

#include "node_config.hpp"
#include "pki_commands.hpp"

#include "mplane/audit_heads.hpp"
#include "mplane/node_store.hpp"

#include "joconde/runtime/audit_chain.hpp"

#include <fstream>
#include <sstream>

namespace joconde::audit_cli {

namespace fs = std::filesystem;

namespace {

result<crypto::certificate> read_certificate(const fs::path& file) {
  auto pem = pki::read_file(file);
  if (!pem)
    return pem.err();
  return crypto::certificate::from_pem(*pem);
}

/// The most a kept-head file is read of: `audit heads` prints one short line per node.
constexpr std::streamsize max_kept_heads_bytes = 1 << 20;

/// The kept head for `node` in `file` (the only line, or the line of that node).
result<audit_head> read_kept_head(const fs::path& file, const std::string& node) {
  std::ifstream in{file, std::ios::binary};
  if (!in || fs::is_directory(file))
    return fail(errc::io_error, "cannot read the kept head " + file.string());
  std::string text(static_cast<std::size_t>(max_kept_heads_bytes) + 1, '\0');
  in.read(text.data(), max_kept_heads_bytes + 1);
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > static_cast<std::size_t>(max_kept_heads_bytes))
    return fail(errc::too_large, file.string() + " is over " + std::to_string(max_kept_heads_bytes)
                                   + " bytes: not a file of kept heads (`joconde-node audit heads`)");
  std::istringstream lines{text};
  std::string line;
  std::vector<audit_head> heads;
  for (std::size_t number = 1; std::getline(lines, line); ++number) {
    if (line.empty())
      continue;
    auto h = parse_audit_head(line);
    if (!h)
      return fail(h.err().code, file.string() + " line " + std::to_string(number) + ": "
                                  + h.err().message);
    heads.push_back(std::move(*h));
  }
  for (auto& h : heads)
    if (h.node == node || (node.empty() && heads.size() == 1))
      return std::move(h);
  return fail(errc::not_found, file.string() + " holds no kept head of " + (node.empty() ? "one node" : node));
}

} // namespace

result<std::pair<bool, std::vector<std::string>>> verify(const verify_request& req) {
  audit_verify_options opts;
  opts.node = req.node;
  auto file = req.file;
  auto ca_file = req.ca;
  if (!req.dir.empty()) {
    auto cfg = load_node_config(req.dir / "joconde.ini", {});
    if (!cfg)
      return cfg.err();
    if (file.empty())
      file = cfg->data_dir / "audit.log";
    if (ca_file.empty())
      ca_file = cfg->ca;
    if (opts.node.empty()) {
      auto pem = pki::read_file(cfg->certificate);
      if (!pem)
        return pem.err();
      auto chain = crypto::certificate::chain_from_pem(*pem);
      if (!chain)
        return fail(chain.err().code, cfg->certificate.string() + ": " + chain.err().message);
      if (!chain->front().dns_names().empty())
        opts.node = chain->front().dns_names().front();
    }
  }
  if (!ca_file.empty()) {
    auto ca = read_certificate(ca_file);
    if (!ca)
      return fail(ca.err().code, "the root CA " + ca_file.string() + ": " + ca.err().message);
    opts.ca = std::move(*ca);
  }
  if (!req.head.empty()) {
    auto kept = read_kept_head(req.head, opts.node);
    if (!kept)
      return kept.err();
    if (!opts.node.empty() && kept->node != opts.node)
      return fail(errc::unknown_peer, "the kept head is of " + kept->node + ", not " + opts.node);
    opts.kept = std::move(*kept);
  }
  auto v = verify_audit_file(file, opts);
  if (!v)
    return v.err();
  std::vector<std::string> lines;
  if (!v->ok) {
    lines.push_back("audit log " + file.string() + " is BROKEN at line " + std::to_string(v->first_bad_line)
                    + ": " + v->reason);
    return std::pair{false, lines};
  }
  auto summary = "audit log " + file.string() + " is intact: " + std::to_string(v->records) + " records, "
                 + std::to_string(v->checkpoints) + " signed checkpoints";
  if (v->checkpoints > 0)
    summary += " (the last covers records 1 to " + std::to_string(v->signed_records) + ")";
  if (opts.kept)
    summary += ", the parent's head of record " + std::to_string(opts.kept->seq) + " matches";
  lines.push_back(summary);
  for (const auto& n : v->notes)
    lines.push_back("note: " + n);
  return std::pair{true, lines};
}

result<std::vector<std::string>> heads(const fs::path& dir, const std::string& node) {
  auto store = node_store::open(dir, 1ull << 30);
  if (!store)
    return fail(store.err().code, "cannot open the store of " + dir.string() + ": " + store.err().message);
  auto kept = kept_audit_heads(*store);
  if (!kept)
    return kept.err();
  std::vector<std::string> lines;
  for (const auto& k : *kept)
    if (node.empty() || k.head.node == node)
      lines.push_back(format_audit_head(k.head));
  if (!node.empty() && lines.empty())
    return fail(errc::not_found, "no audit head of " + node + " is kept in " + dir.string());
  return lines;
}

} // namespace joconde::audit_cli
