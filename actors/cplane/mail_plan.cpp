#include "cplane/mail_plan.hpp"

#include "cplane/cta_progress.hpp"

#include "joconde/runtime/crypto.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace joconde {

namespace {

/// What a person is asked to do, in words. No text a person or a CT VM wrote goes into an e-mail (a
/// reason, a refusal's message): it may quote data; the portal page shows it to those who may see it.
std::string request_of(const cta_step& s) {
  if (s.action == "submit_ctsa" && s.what.rfind("submit a corrected CTSA", 0) == 0)
    return "submit a corrected CTSA of " + s.who + " (the System Operator rejected it; the reason is on the page)";
  if (s.action == "submit_ctsa")
    return "submit the CTSA of " + s.who;
  if (s.action == "sign")
    return "sign the CTSA of " + s.who;
  if (s.action == "approve")
    return "approve or reject the CTSA of " + s.subject;
  if (s.action == "upload")
    return "upload input `" + s.subject + "`";
  if (s.action == "download")
    return "download output `" + s.subject + "` (once)";
  return s.action;
}

/// The addresses of `users` who have `role` (by name) and gave one.
std::vector<std::string> with_role(const std::vector<user>& users, const std::string& role) {
  std::vector<std::string> out;
  auto r = user_role_from_string(role);
  for (const auto& u : users)
    if (r && u.has(*r) && !u.email.empty())
      out.push_back(u.email);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

/// A title on one line and at most 120 characters (it goes into a Subject header).
std::string short_title(const std::string& title) {
  std::string out;
  for (char c : title)
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  if (out.size() > 120) {
    out.resize(117);
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xc0) == 0x80)
      out.pop_back();  // not in the middle of a UTF-8 sequence
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xc0)
      out.pop_back();
    out += "...";
  }
  return out;
}

class planner {
public:
  planner(const v1::CtaRecord& rec, const std::string& self, bool at_root, const std::vector<user>& users,
          const std::string& portal_url)
    : rec_(rec), self_(self), at_root_(at_root), users_(users) {
    link_ = portal_url + "/portal/#/ct/" + rec.ctsc().uuid();
  }

  std::vector<mail_item> plan() {
    auto progress = progress_of(rec_, self_, at_root_);
    if (progress.phase == "cancelled") {
      ending("cancelled", "was cancelled; why is on its portal page");
    } else if (progress.phase == "finished") {
      ending("finished", "has finished: every output was read and the Computing Parties erased their data");
    } else {
      for (const auto& s : progress.to_do)
        step(s, progress.phase);
    }
    return std::move(out_);
  }

private:
  /// A step that waits for someone: their people here, and at the root the organisation's contact.
  void step(const cta_step& s, const std::string& phase) {
    if (s.role.empty())
      return;  // the Computing Parties' turn: nobody can act
    bool refused = s.action == "upload" && (s.what.find("refused") != std::string::npos
                                            || s.what.find("failed") != std::string::npos);
    std::string what = (refused ? "refused-" : "") + s.action + "|" + s.subject + "|" + std::to_string(version_of(s));
    bool ours = s.who == self_ || (at_root_ && s.who == "the System Operator");
    if (ours) {
      auto subject = refused ? "an upload of `" + s.subject + "` was refused" : "your turn: " + request_of(s);
      auto body = refused ? "The last upload of input `" + s.subject + "` was refused; it must be uploaded again. "
                              "What was wrong is on the portal page.\n"
                          : "A step of this Computation Task waits for you: " + request_of(s) + ".\n";
      for (const auto& to : with_role(users_, s.role))
        add(what + "|" + s.role, to, subject, body, phase, true);
    }
    // The organisation's contact has no account at the root: told what waits, not linked here.
    if (at_root_ && s.who != self_ && s.who != "the System Operator" && !refused)
      if (auto contact = peer_contact(s.who); !contact.empty())
        add(what + "|contact:" + s.who, contact, s.who + " is to " + request_of(s),
            "A step of this Computation Task waits for your organisation (" + s.who + "): " + request_of(s)
              + ".\nThe people of your organisation do it at the portal of your own node.\n",
            phase, false);
  }

  /// A CTSA step is told again for a newer version of the CTSA (a rejected one resubmitted).
  std::uint64_t version_of(const cta_step& s) const {
    const auto& peer = s.action == "approve" ? s.subject : s.who;
    for (const auto& a : rec_.addenda())
      if (a.peer() == peer)
        return a.ctsa().version();
    return 0;
  }

  /// The end of the CT: the people who took part in it here (at the root, its approvers), and from
  /// the root every peer's contact.
  void ending(const std::string& what, const std::string& text) {
    std::set<std::string> to;
    auto roles = at_root_ ? std::vector<const char*>{"approver"}
                          : std::vector<const char*>{"task_organiser", "general_manager", "data_custodian",
                                                     "data_analyst"};
    for (const auto* role : roles)
      for (auto& e : with_role(users_, role))
        to.insert(e);
    for (const auto& address : to)
      add(what, address, "the CT " + what, "This Computation Task " + text + ".\n", what, true);
    if (at_root_)
      for (const auto& p : rec_.ctsc().peers())
        if (auto contact = contact_of(p.chain()); !contact.empty())
          add(what + "|contact:" + p.fqdn(), contact, "the CT " + what,
              "This Computation Task " + text + ".\nYour organisation (" + p.fqdn()
                + ") took part; its people see it at the portal of your own node.\n",
              what, false);
  }

  std::string peer_contact(const std::string& fqdn) const {
    for (const auto& p : rec_.ctsc().peers())
      if (p.fqdn() == fqdn)
        return contact_of(p.chain());
    return {};
  }

  /// One e-mail to one address (nobody sees who else was told); `linked`: the link to this node's
  /// portal, for people who have an account here.
  void add(const std::string& what, const std::string& to, const std::string& subject_line,
           const std::string& body, const std::string& phase, bool linked) {
    const auto& ctsc = rec_.ctsc();
    mail_item m;
    m.key = ctsc.uuid() + "|" + what + "|" + to;
    m.to = {to};
    m.subject = "[joconde] " + short_title(ctsc.title()) + " (CT " + ctsc.uuid().substr(0, 8) + "): " + subject_line;
    m.body = body + "\nComputation Task: " + ctsc.title() + "\nIdentifier: " + ctsc.uuid() + "\nPhase: " + phase + "\n"
             + (linked ? "Open it in the portal: " + link_ + "\n" : std::string{}) + "\n"
             + "This message was sent by the joconde node " + self_ + ". It carries no data of the task.\n";
    out_.push_back(std::move(m));
  }

  const v1::CtaRecord& rec_;
  const std::string& self_;
  bool at_root_;
  const std::vector<user>& users_;
  std::string link_;
  std::vector<mail_item> out_;
};

} // namespace

std::string contact_of(const v1::CertificateChain& chain) {
  if (chain.certificates_size() == 0)
    return {};
  auto cert = crypto::certificate::from_der(crypto::to_bytes(chain.certificates(0)));
  if (!cert)
    return {};
  return cert->subject().email;
}

std::vector<mail_item> plan_mail(const v1::CtaRecord& rec, const std::string& self, bool at_root,
                                 const std::vector<user>& users, const std::string& portal_url) {
  if (rec.status() == v1::CTA_STATUS_ERASED)
    return {};
  return planner{rec, self, at_root, users, portal_url}.plan();
}

} // namespace joconde
