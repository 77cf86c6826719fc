#include "http_audit.hpp"

#include "joconde/runtime/audit_chain.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/metrics.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <fstream>
#include <thread>

namespace joconde {

namespace {

using nlohmann::json;

std::filesystem::path log_file(const node_context& ctx) {
  return ctx.cfg.data_dir / "audit.log";
}

/// Query parameter `name` as a number in [lo, hi]; `fallback` when absent; nullopt when malformed.
std::optional<std::uint64_t> number(const http::request& req, const char* name, std::uint64_t fallback,
                                    std::uint64_t lo, std::uint64_t hi) {
  auto it = req.query.find(name);
  if (it == req.query.end())
    return fallback;
  std::uint64_t v = 0;
  const auto& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < lo || v > hi)
    return std::nullopt;
  return v;
}

/// A record line: its RFC 5424 TIMESTAMP (2nd field) and MSGID (6th: the component that wrote it),
/// and the event its audit element names.
json record_json(std::uint64_t seq, const std::string& line) {
  std::vector<std::string_view> fields;
  std::string_view rest{line};
  for (int i = 0; i < 6 && !rest.empty(); ++i) {
    auto sp = rest.find(' ');
    fields.push_back(rest.substr(0, sp));
    rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  }
  auto field = [&](std::size_t i) { return i < fields.size() ? std::string{fields[i]} : std::string{}; };
  return json{{"seq", seq}, {"time", field(1)}, {"component", field(5)}, {"event", audit_param(line, "event")},
              {"line", line}};
}

/// Calls `fn(seq, line)` for the complete lines `from`..`to` of the log (a line still being written,
/// without its newline, is not a record yet); the number of complete lines in the file.
template <class Fn>
result<std::uint64_t> read_lines(const node_context& ctx, std::uint64_t from, std::uint64_t to, Fn fn) {
  std::ifstream in{log_file(ctx), std::ios::binary};
  if (!in)
    return fail(errc::io_error, "cannot read this node's audit log");
  std::string line;
  std::uint64_t seq = 0;
  while (std::getline(in, line)) {
    if (in.eof())
      break;  // no newline: torn or being written
    ++seq;
    if (seq >= from && seq <= to)
      fn(seq, line);
  }
  return seq;
}

http::response refuse(const error& e) {
  return http::response::error(http_status(e.code), std::string{to_string(e.code)}, e.message);
}

} // namespace

http::response get_audit_records(const node_context& ctx, const http::request& req) {
  auto from = number(req, "from", 1, 1, UINT64_MAX / 2);
  auto limit = number(req, "limit", 100, 1, 1000);
  if (!from || !limit)
    return http::response::error(400, "malformed_input", "from is a record number (1 or more), limit 1 to 1000");
  json records = json::array();
  auto total = read_lines(ctx, *from, *from + *limit - 1,
                          [&](std::uint64_t seq, const std::string& line) { records.push_back(record_json(seq, line)); });
  if (!total)
    return refuse(total.err());
  json doc{{"records", records}, {"total", *total}};
  if (*from + *limit <= *total)
    doc["next"] = *from + *limit;
  return http::response::json(200, doc);
}

http::response export_audit_records(const node_context& ctx, const http::request& req) {
  auto from = number(req, "from", 1, 1, UINT64_MAX / 2);
  auto to = number(req, "to", UINT64_MAX / 2, 1, UINT64_MAX / 2);
  if (!from || !to || *to < *from)
    return http::response::error(400, "malformed_input", "from and to are record numbers, from <= to");
  if (*to - *from >= 100000)
    return http::response::error(413, "too_large", "export at most 100000 records at once");
  std::string body;
  std::uint64_t first = 0, last = 0;
  auto total = read_lines(ctx, *from, *to, [&](std::uint64_t seq, const std::string& line) {
    first = first == 0 ? seq : first;
    last = seq;
    body += line;
    body += '\n';
  });
  if (!total)
    return refuse(total.err());
  if (first == 0)
    return http::response::error(404, "not_found", "no record from " + std::to_string(*from) + " to "
                                                     + std::to_string(*to) + ": the log has "
                                                     + std::to_string(*total));
  http::response res;
  res.status = 200;
  res.content_type = "text/plain; charset=utf-8";
  res.body = std::move(body);
  res.headers["Content-Disposition"] = "attachment; filename=\"audit-" + ctx.cfg.name + "-" + std::to_string(first)
                                       + "-" + std::to_string(last) + ".log\"";
  return res;
}

http::response verify_audit_log(const node_context& ctx) {
  audit_verify_options opts;
  opts.node = ctx.fqdn;
  if (auto pem = [&]() -> std::optional<std::string> {
        std::ifstream in{ctx.cfg.ca};
        if (!in)
          return std::nullopt;
        return std::string{std::istreambuf_iterator<char>{in}, {}};
      }())
    if (auto ca = crypto::certificate::from_pem(*pem))
      opts.ca = std::move(*ca);
  // The node writes while this reads: a line or the head file written between the reads may look
  // like a truncation. A log really broken stays broken when read again.
  auto v = verify_audit_file(log_file(ctx), opts);
  for (int again = 0; again < 2 && v && !v->ok; ++again) {
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
    v = verify_audit_file(log_file(ctx), opts);
  }
  if (!v)
    return refuse(v.err());
  json doc{{"ok", v->ok},
           {"records", v->records},
           {"checkpoints", v->checkpoints},
           {"signed_records", v->signed_records},
           {"notes", v->notes},
           {"against_root_ca", opts.ca.has_value()},
           {"parent_head", "not checked here: joconde-node audit verify --head with the head the parent keeps"}};
  if (!v->ok) {
    doc.update({{"first_bad_line", v->first_bad_line}, {"reason", v->reason}});
    if (ctx.metrics)
      ctx.metrics->audit_verify_failures().Increment();
  }
  return http::response::json(200, doc);
}

} // namespace joconde
