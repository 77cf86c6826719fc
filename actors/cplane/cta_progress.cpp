#include "cplane/cta_progress.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <string_view>

namespace joconde {

namespace {

/// The CT VMs' phases in the order a CT goes through them (vm/task_state.hpp).
constexpr std::array<std::string_view, 4> phases{"initialisation", "input", "calculation", "output"};

/// The place of `phase` in `phases`, or -1.
int rank_of(std::string_view phase) {
  auto it = std::find(phases.begin(), phases.end(), phase);
  return it == phases.end() ? -1 : static_cast<int>(it - phases.begin());
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.rfind(prefix, 0) == 0;
}

/// The phase every CP's VM has reached: the least advanced of their last phase events (a CP that
/// reported none counts as initialisation).
int common_phase(const v1::CtaRecord& rec) {
  std::map<std::string, int> reached;
  for (const auto& cp : rec.ctsc().computing_parties())
    reached[cp.fqdn()] = 0;
  for (const auto& ev : rec.telemetry())
    if (ev.kind() == "phase")
      if (auto r = rank_of(ev.subject()); r >= 0 && reached.count(ev.cp()))
        reached[ev.cp()] = std::max(reached[ev.cp()], r);
  int least = static_cast<int>(phases.size()) - 1;
  for (const auto& [cp, r] : reached)
    least = std::min(least, r);
  return reached.empty() ? 0 : least;
}

/// The last slot event of `key` at each CP that reported one.
std::map<std::string, std::string> slot_states(const v1::CtaRecord& rec, const std::string& key) {
  std::map<std::string, std::string> out;
  for (const auto& ev : rec.telemetry())
    if (ev.kind() == "slot" && ev.subject() == key)
      out[ev.cp()] = ev.value();
  return out;
}

void agreement_steps(const v1::CtaRecord& rec, const std::string& self, bool at_root, cta_progress& out) {
  for (const auto& peer : rec.ctsc().peers()) {
    const auto* ad = [&]() -> const v1::AddendumRecord* {
      for (const auto& a : rec.addenda())
        if (a.peer() == peer.fqdn())
          return &a;
      return nullptr;
    }();
    if (ad == nullptr) {
      // A peer's node holds only its own addendum: the others' are the root's to tell.
      if (at_root || peer.fqdn() == self)
        out.to_do.push_back({peer.fqdn(), "submit its CTSA (joconde ctsa submit)", "task_organiser", "submit_ctsa"});
      continue;
    }
    const auto& s = ad->status();
    if (s == "missing" || s.empty())
      out.to_do.push_back({peer.fqdn(), "submit its CTSA (joconde ctsa submit)", "task_organiser", "submit_ctsa"});
    else if (s == "submitted")
      out.to_do.push_back({peer.fqdn(), "its signatories sign its CTSA (" + std::to_string(ad->signed_by_size())
                                          + " of " + std::to_string(ad->ctsa().signatories_size())
                                          + " signed; joconde cta sign)",
                           "signatory", "sign"});
    else if (s == "signed")
      out.to_do.push_back({"the System Operator", "approve or reject the CTSA of " + peer.fqdn()
                                                    + " (joconde cta approve or cta reject, at the root)",
                           "approver", "approve", peer.fqdn()});
    else if (s == "rejected")
      out.to_do.push_back({peer.fqdn(), "submit a corrected CTSA (rejected: " + ad->reason() + ")", "task_organiser",
                           "submit_ctsa"});
  }
}

void input_steps(const v1::CtaRecord& rec, cta_progress& out) {
  const auto cps = static_cast<std::size_t>(rec.ctsc().computing_parties_size());
  for (const auto& in : rec.ctsc().inputs()) {
    auto states = slot_states(rec, in.key());
    auto ready = std::count_if(states.begin(), states.end(), [](const auto& s) { return starts_with(s.second, "ready"); });
    if (static_cast<std::size_t>(ready) == cps && cps > 0)
      continue;
    auto checking = std::count_if(states.begin(), states.end(), [](const auto& s) {
      return starts_with(s.second, "sealed at every CP") && s.second.find("data-quality check") != std::string::npos;
    });
    if (checking > 0) {
      out.to_do.push_back({in.peer(), "wait for the data-quality check of the upload of `" + in.key()
                                        + "` (it runs at the Computing Parties; joconde cta watch)",
                           "", "wait", in.key()});
      continue;
    }
    std::string what = "upload input `" + in.key() + "` (a Data Custodian: joconde upload)";
    for (const auto& [cp, state] : states) {
      if (starts_with(state, "empty (upload failed: ")) {
        what += "; the last upload failed at " + cp + ": " + state.substr(22, state.size() - 23);
        break;
      }
      if (starts_with(state, "empty (its data-quality check")) {
        what += "; the last upload was refused: " + state.substr(7, state.find(';') - 7);
        break;
      }
    }
    out.to_do.push_back({in.peer(), what, "data_custodian", "upload", in.key()});
  }
}

void output_steps(const v1::CtaRecord& rec, cta_progress& out) {
  for (const auto& o : rec.ctsc().outputs()) {
    auto states = slot_states(rec, o.key());
    for (const auto& peer : o.peers()) {
      bool released = false;
      for (const auto& ev : rec.telemetry())
        released = released
                   || (ev.kind() == "slot" && ev.subject() == o.key() && starts_with(ev.value(), "released to " + peer + " "));
      if (!released)
        out.to_do.push_back({peer, "download output `" + o.key() + "` (a Data Analyst: joconde download)",
                             "data_analyst", "download", o.key()});
    }
  }
}

} // namespace

std::string cancel_cause(const v1::CtaRecord& rec) {
  // The VMs name each other by MPC index ("cp-0"); people know the CPs by their nodes' names.
  auto named = [&](const v1::TelemetryEvent& ev) {
    std::string text = ev.value();
    const auto& cps = rec.ctsc().computing_parties();
    for (std::size_t at = text.find("cp-"); at != std::string::npos; at = text.find("cp-", at + 1)) {
      std::size_t end = at + 3;
      while (end < text.size() && end - at < 6 && std::isdigit(static_cast<unsigned char>(text[end])))
        ++end;
      if (end == at + 3 || (end < text.size() && std::isalnum(static_cast<unsigned char>(text[end]))))
        continue;
      auto index = std::stoul(text.substr(at + 3, end - at - 3));
      if (index < static_cast<std::size_t>(cps.size()))
        text.replace(at, end - at, cps[static_cast<int>(index)].fqdn());
    }
    return ev.cp() + ": " + text;
  };
  // The first CP to cancel says what failed; the others cancel "cancelled by cp-N: ...".
  const v1::TelemetryEvent* last = nullptr;
  for (const auto& ev : rec.telemetry())
    if (ev.kind() == "phase" && ev.subject() == "cancelled") {
      if (!starts_with(ev.value(), "cancelled by cp-"))
        return named(ev);
      last = &ev;
    }
  return last == nullptr ? std::string{} : named(*last);
}

cta_progress progress_of(const v1::CtaRecord& rec, const std::string& self, bool at_root) {
  cta_progress out;
  const auto& t = rec.ctsc().temporal();
  switch (rec.status()) {
    case v1::CTA_STATUS_EMERGING:
      out.phase = "agreement";
      out.until_ms = t.approval_deadline_ms();
      agreement_steps(rec, self, at_root, out);
      return out;
    case v1::CTA_STATUS_INSTANTIATED:
      break;
    case v1::CTA_STATUS_FINISHED:
      out.phase = "finished";
      return out;
    case v1::CTA_STATUS_CANCELLED:
      out.phase = "cancelled";
      out.cause = rec.reason();
      return out;
    case v1::CTA_STATUS_ERASED:
      out.phase = "erased";
      return out;
    default:
      out.phase = "unknown";
      return out;
  }
  switch (common_phase(rec)) {
    case 0:
      out.phase = "starting";
      out.until_ms = t.input_deadline_ms();
      out.to_do.push_back({"the Computing Parties", "start their CT VMs, which attest each other", "", "wait"});
      break;
    case 1:
      out.phase = "input";
      out.until_ms = t.input_deadline_ms();
      input_steps(rec, out);
      break;
    case 2:
      out.phase = "calculation";
      out.until_ms = t.execution_deadline_ms();
      out.to_do.push_back({"the Computing Parties", "compute the outputs (nobody else has anything to do)", "", "wait"});
      break;
    default:
      out.phase = "output";
      out.until_ms = t.output_deadline_ms();
      output_steps(rec, out);
      break;
  }
  return out;
}

} // namespace joconde
