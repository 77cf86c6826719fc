#pragma once

// Which e-mails a node sends about a CTA it holds (DESIGN.md §12, spec §4.4.1.1): a person is told
// when a step waits for them, when an upload was refused, and when the CT was cancelled or finished;
// the root also tells a peer's organisation at the contact address of its certificate. Each e-mail
// goes to one address and has a key: the notifier sends a key once. The text names the CT, its
// phase, the step and (for people with an account at the sending node) the portal page; never a
// value of anyone's data, nor any text a person or a CT VM wrote (a reason or a refusal may quote
// data). Plain code, no CAF.

#include "mplane/user_directory.hpp"

#include "joconde/agreement.pb.h"

#include <string>
#include <vector>

namespace joconde {

/// One e-mail to send.
struct mail_item {
  std::string key;              ///< sent once per key: uuid '|' what '|' address
  std::vector<std::string> to;  ///< one address
  std::string subject;
  std::string body;             ///< plain text, '\n' line ends
};

/// What node `self` (the root when `at_root`) tells its `users` (and, at the root, the peers'
/// contact addresses) about the CTA in `rec`; links go to `portal_url` (https://host:port).
std::vector<mail_item> plan_mail(const v1::CtaRecord& rec, const std::string& self, bool at_root,
                                 const std::vector<user>& users, const std::string& portal_url);

/// The contact address in the leaf certificate of `chain` (its subject's emailAddress), or "".
std::string contact_of(const v1::CertificateChain& chain);

} // namespace joconde
