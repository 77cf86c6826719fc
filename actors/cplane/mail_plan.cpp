#include "cplane/mail_plan.hpp"

#include "cplane/cta_progress.hpp"

#include "joconde/runtime/crypto.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace joconde {

namespace {

/// What a person is asked to do, in words (the step's own text names the CLI command too).
std::string request_of(const cta_step& s) {
  if (s.action == "submit_ctsa" && s.what.rfind("submit a corrected CTSA", 0) == 0)
    return "submit a corrected CTSA of " + s.who + s.what.substr(23);  // "(rejected: REASON)"
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
  return s.what;
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

std::string short_id(const std::string& uuid) {
  return uuid.substr(0, 8);
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
      ending("cancelled", "was cancelled" + (progress.cause.empty() ? std::string{} : ": " + progress.cause));
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
    std::string what = refused ? "refused-" + s.action : s.action;
    std::string subject_line = refused ? "an upload of `" + s.subject + "` was refused" : "your turn: " + request_of(s);
    std::string body = refused ? "The last upload of input `" + s.subject + "` was refused; it must be uploaded again.\n\n"
                                   "What the node says: " + s.what + "\n"
                               : "A step of this Computation Task waits for you: " + request_of(s) + ".\n";
    bool ours = s.who == self_ || (at_root_ && s.who == "the System Operator");
    if (ours)
      add(what + "|" + s.subject + "|" + s.role + "|" + std::to_string(version_of(s)), with_role(users_, s.role),
          subject_line, body, phase);
    if (at_root_ && s.who != self_ && s.who != "the System Operator")
      if (auto contact = peer_contact(s.who); !contact.empty())
        add(what + "|" + s.subject + "|contact:" + s.who + "|" + std::to_string(version_of(s)), {contact},
            subject_line + " (" + s.who + ")",
            "A step of this Computation Task waits for your organisation (" + s.who + "): " + request_of(s)
              + ".\nThe people of your organisation do it at your own node's portal.\n",
            phase);
  }

  /// A CTSA step is told again for a newer version of the CTSA (a rejected one resubmitted).
  std::uint64_t version_of(const cta_step& s) const {
    const auto& peer = s.action == "approve" ? s.subject : s.who;
    for (const auto& a : rec_.addenda())
      if (a.peer() == peer)
        return a.ctsa().version();
    return 0;
  }

  void ending(const std::string& what, const std::string& text) {
    std::set<std::string> to;
    for (const auto* role : {"task_organiser", "general_manager", "data_custodian", "data_analyst"})
      for (auto& e : with_role(users_, role))
        to.insert(e);
    if (at_root_)
      for (auto& e : with_role(users_, "approver"))
        to.insert(e);
    add(what, {to.begin(), to.end()}, "the CT " + what, "This Computation Task " + text + ".\n", what);
    if (at_root_)
      for (const auto& p : rec_.ctsc().peers())
        if (auto contact = contact_of(p.chain()); !contact.empty())
          add(what + "|contact:" + p.fqdn(), {contact}, "the CT " + what + " (" + p.fqdn() + ")",
              "This Computation Task " + text + ".\n", what);
  }

  std::string peer_contact(const std::string& fqdn) const {
    for (const auto& p : rec_.ctsc().peers())
      if (p.fqdn() == fqdn)
        return contact_of(p.chain());
    return {};
  }

  void add(const std::string& what, std::vector<std::string> to, const std::string& subject_line,
           const std::string& body, const std::string& phase) {
    if (to.empty())
      return;
    const auto& ctsc = rec_.ctsc();
    mail_item m;
    m.key = ctsc.uuid() + "|" + what;
    m.to = std::move(to);
    m.subject = "[joconde] " + ctsc.title() + " (CT " + short_id(ctsc.uuid()) + "): " + subject_line;
    m.body = body + "\nComputation Task: " + ctsc.title() + "\nIdentifier: " + ctsc.uuid() + "\nPhase: " + phase
             + "\nOpen it in the portal: " + link_ + "\n\n"
             + "This message was sent by the joconde node " + self_ + ". It carries no data of the task; "
               "everything is on the portal page above.\n";
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
