#include "cli/cli_render.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

namespace joconde::cli {

namespace {

using nlohmann::json;

/// The number of code points of UTF-8 text (its width for alignment).
size_t width(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

/// A scalar (or empty container) as one line: strings raw but printable, the rest as JSON.
std::string scalar(const json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return s.empty() ? std::string{"\"\""} : printable(s);
  }
  return printable(v.dump(-1, ' ', false, json::error_handler_t::replace));
}

bool is_nested(const json& v) {
  return (v.is_object() || v.is_array()) && !v.empty();
}

/// Appends `v` (a non-empty object or array) as indented lines; objects iterate in key order.
void render_nested(std::string& out, const json& v, size_t indent) {
  const std::string pad(indent, ' ');
  if (v.is_object()) {
    for (const auto& [key, val] : v.items()) {
      out += pad + printable(key) + ":";
      if (is_nested(val)) {
        out += "\n";
        render_nested(out, val, indent + 2);
      } else {
        out += " " + scalar(val) + "\n";
      }
    }
    return;
  }
  for (const auto& item : v) {
    if (is_nested(item)) {
      std::string sub;
      render_nested(sub, item, indent + 2);
      sub.replace(indent, 2, "- ");
      out += sub;
    } else {
      out += pad + "- " + scalar(item) + "\n";
    }
  }
}

bool is_integer(const json& v) {
  return v.is_number_integer() || v.is_number_unsigned();
}

/// The non-empty string `doc[key]`, or nullptr.
const std::string* text_field(const json& doc, const char* key) {
  if (!doc.is_object() || !doc.contains(key) || !doc[key].is_string()
      || doc[key].get_ref<const std::string&>().empty())
    return nullptr;
  return &doc[key].get_ref<const std::string&>();
}

/// SYS-2.1: the members of the CTA `doc` that this node has not confirmed out of band, as a warning
/// that says what to compare and how to confirm or override; "" when there are none.
std::string unconfirmed_warning(const json& doc) {
  if (!doc.contains("members") || !doc["members"].is_array())
    return {};
  std::vector<const json*> unconfirmed;
  for (const auto& m : doc["members"])
    if (m.is_object() && m.value("trust", "") == "unconfirmed")
      unconfirmed.push_back(&m);
  if (unconfirmed.empty())
    return {};
  const auto* uuid = text_field(doc, "uuid");
  const auto shown_uuid = uuid == nullptr ? std::string{"UUID"} : printable(*uuid);
  std::string out = "WARNING: " + std::to_string(unconfirmed.size())
                    + (unconfirmed.size() == 1 ? " member of this CTA is" : " members of this CTA are")
                    + " NOT confirmed out of band at this node (SYS-2.1).\n"
                      "This node submits no CTSA for it until each is confirmed or overridden.\n";
  for (const auto* m : unconfirmed) {
    const auto* fqdn = text_field(*m, "fqdn");
    const auto* fp = text_field(*m, "fingerprint");
    const auto name = fqdn == nullptr ? std::string{"?"} : printable(*fqdn);
    const auto print = fp == nullptr ? std::string{"?"} : printable(*fp);
    const auto* role = text_field(*m, "role");
    out += "  UNCONFIRMED " + name
           + (role == nullptr ? std::string{} : " (" + printable(*role) + ")") + "\n"
           + "    fingerprint: " + print + "\n"
           + "    compare it with " + name + "'s operator over another channel, then at this node:\n"
           + "      joconde-node trust confirm " + print + " --dir DATA_DIR\n"
           + "    or, accepting the risk (it_admin):\n"
           + "      joconde cta override " + shown_uuid + " --member " + name + " --reason TEXT\n";
  }
  return out;
}

} // namespace

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    auto escape = [&out](unsigned value) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", value);
      out += buf;
    };
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f)
      escape(c);
    else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80
             && static_cast<unsigned char>(s[i + 1]) <= 0x9f)
      escape(static_cast<unsigned char>(s[++i]));
    else
      out += static_cast<char>(c);
  }
  return out;
}

std::string format_utc_ms(std::int64_t ms) {
  // 0000-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z; beyond that, the number itself.
  if (ms < -62'167'219'200'000 || ms > 253'402'300'799'999)
    return std::to_string(ms) + " ms since the epoch";
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{ms}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const auto in_day = static_cast<unsigned>((tp - day).count()); // [0, 86'400'000)
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                in_day / 3'600'000, in_day / 60'000 % 60, in_day / 1000 % 60, in_day % 1000);
  return buf;
}

result<std::string> render_whoami(const json& doc) {
  auto str = [&](const char* key) -> const std::string* {
    return doc.is_object() && doc.contains(key) && doc[key].is_string()
             ? &doc[key].get_ref<const std::string&>()
             : nullptr;
  };
  const auto* user = str("user");
  const auto* node = str("node");
  if (user == nullptr || node == nullptr || !doc.contains("roles") || !doc["roles"].is_array())
    return fail(errc::malformed_input, "the node's answer lacks \"user\", \"node\" or \"roles\"");
  std::string roles;
  for (const auto& r : doc["roles"]) {
    if (!r.is_string())
      return fail(errc::malformed_input, "the node's answer has a role that is not a string");
    roles += (roles.empty() ? "" : ", ") + printable(r.get_ref<const std::string&>());
  }
  return printable(*user) + " at " + printable(*node) + " (roles: "
         + (roles.empty() ? "none" : roles) + ")\n";
}

result<std::string> render_cta_list(const json& doc) {
  if (!doc.is_object() || !doc.contains("ctas") || !doc["ctas"].is_array())
    return fail(errc::malformed_input, "the node's answer has no \"ctas\" array");
  using row = std::array<std::string, 4>;
  std::vector<row> rows{{"UUID", "STATUS", "UPDATES", "TITLE"}};
  auto cell = [](const json& cta, const char* key) {
    return cta.contains(key) ? scalar(cta[key]) : std::string{"-"};
  };
  for (const auto& cta : doc["ctas"]) {
    if (!cta.is_object())
      return fail(errc::malformed_input, "the node's answer lists a CTA that is not an object");
    rows.push_back({cell(cta, "uuid"), cell(cta, "status"), cell(cta, "updates"), cell(cta, "title")});
  }
  std::array<size_t, 3> widths{};
  for (const auto& r : rows)
    for (size_t c = 0; c < widths.size(); ++c)
      widths[c] = std::max(widths[c], width(r[c]));
  std::string out;
  for (const auto& r : rows) {
    for (size_t c = 0; c < widths.size(); ++c)
      out += r[c] + std::string(widths[c] - width(r[c]) + 2, ' ');
    out += r[3] + "\n";
  }
  return out;
}

namespace {

/// The lines of a CTA's "progress" (taken out of `rest`): its phase with the phase's deadline,
/// what each organisation still has to do, and why it was cancelled.
std::string progress_lines(const json& doc, json& rest) {
  if (!doc.contains("progress") || !doc["progress"].is_object())
    return {};
  const auto& p = doc["progress"];
  rest.erase("progress");
  std::string out;
  if (const auto* phase = text_field(p, "phase")) {
    out += "phase:        " + printable(*phase);
    if (p.contains("until_ms") && is_integer(p["until_ms"]) && p["until_ms"].get<std::int64_t>() > 0)
      out += ", until " + format_utc_ms(p["until_ms"].get<std::int64_t>());
    out += "\n";
  }
  if (const auto* cause = text_field(p, "cause")) {
    out += "cause:        " + printable(*cause) + "\n";
    rest.erase("reason");
  }
  if (p.contains("to_do") && p["to_do"].is_array()) {
    std::string label = "to do:        ";
    for (const auto& step : p["to_do"]) {
      const auto* who = text_field(step, "who");
      const auto* what = text_field(step, "what");
      if (who == nullptr || what == nullptr)
        continue;
      out += label + printable(*who) + ": " + printable(*what) + "\n";
      label = std::string(14, ' ');
    }
  }
  return out;
}

} // namespace

result<std::string> render_cta(const json& doc) {
  if (!doc.is_object())
    return fail(errc::malformed_input, "the node's answer is not a JSON object");
  constexpr std::array<std::pair<const char*, const char*>, 6> key_fields{{
    {"uuid", "uuid"},
    {"title", "title"},
    {"status", "status"},
    {"ctsc_sha256", "ctsc_sha256"},
    {"updates", "updates"},
    {"last_changed_ms", "last changed"},
  }};
  std::string out;
  json rest = doc;
  for (const auto& [key, label] : key_fields) {
    if (!doc.contains(key))
      continue;
    const auto& v = doc[key];
    std::string text;
    if (std::string_view{key} == "last_changed_ms" && is_integer(v))
      text = format_utc_ms(v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX
                             ? INT64_MAX
                             : v.get<std::int64_t>());
    else
      text = scalar(v);
    std::string head = std::string{label} + ":";
    head.resize(14, ' ');
    out += head + text + "\n";
    rest.erase(key);
  }
  out += progress_lines(doc, rest);
  if (auto warning = unconfirmed_warning(doc); !warning.empty())
    out += (out.empty() ? "" : "\n") + warning;
  if (!rest.empty()) {
    if (!out.empty())
      out += "\n";
    render_nested(out, rest, 0);
  }
  return out;
}

result<std::string> render_ctsa_submitted(const json& doc) {
  const auto* sha = text_field(doc, "ctsa_sha256");
  if (sha == nullptr)
    return fail(errc::malformed_input, "the node's answer has no \"ctsa_sha256\"");
  return printable(*sha) + "\n";
}

result<std::string> render_signature(const json& doc) {
  const auto* peer = text_field(doc, "peer");
  const auto* sha = text_field(doc, "ctsa_sha256");
  const bool index = doc.is_object() && doc.contains("signatory")
                     && (doc["signatory"].is_number_unsigned()
                         || (doc["signatory"].is_number_integer()
                             && doc["signatory"].get<std::int64_t>() >= 0));
  if (peer == nullptr || sha == nullptr || !index)
    return fail(errc::malformed_input,
                "the node's answer lacks \"signatory\", \"peer\" or \"ctsa_sha256\"");
  return "signatory " + scalar(doc["signatory"]) + " of " + printable(*peer) + " signed CTSA "
         + printable(*sha) + "\n";
}

result<std::string> render_decision(const json& doc, bool approved) {
  const auto* peer = text_field(doc, "peer");
  const auto* status = text_field(doc, "status");
  if (peer == nullptr || status == nullptr)
    return fail(errc::malformed_input, "the node's answer lacks \"peer\" or \"status\"");
  return printable(*peer) + (approved ? ": approved" : ": rejected") + "; CTA "
         + printable(*status) + "\n";
}

result<std::string> render_override(const json& doc) {
  const auto* member = text_field(doc, "member");
  const auto* uuid = text_field(doc, "uuid");
  const auto* by = text_field(doc, "by");
  if (member == nullptr || uuid == nullptr || by == nullptr)
    return fail(errc::malformed_input, "the node's answer lacks \"member\", \"uuid\" or \"by\"");
  const auto* fp = text_field(doc, "fingerprint");
  return "override: " + printable(*member) + " (fingerprint "
         + (fp == nullptr ? std::string{"none"} : printable(*fp)) + ") accepted unconfirmed for CTA "
         + printable(*uuid) + " by " + printable(*by) + "\n";
}

std::string compact_json(const json& doc) {
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace joconde::cli
