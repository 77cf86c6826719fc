#pragma once

// joconde-inject's campaign mode: many mutated messages of every type it knows, sent at a live node
// (link handshake, link frames, envelopes, replayed and reordered frames, HTTP API) or a live CT VM
// (peer, MPC, client and admin endpoints), with a report per type: sent, what the target answered or
// counted (by reason), crashes and state changes. The target's stores are read before and after each
// type (node: CTAs, users, trust, the campaign's inbox; VM: phase and slots) and must not change; its
// process must stay up.

#include "inject_support.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

namespace joconde::inject {

/// What a campaign attacks and how much.
struct campaign_options {
  /// The node to attack over its links (identity, target, timeouts); empty host: no link types.
  options link;
  /// Messages per type.
  std::uint64_t count = 1000;
  /// The types to run (empty: every type the targets given allow).
  std::vector<std::string> types;
  /// The seed of the mutations (a campaign is repeatable).
  std::uint64_t seed = 1;
  /// The target process, watched for crashes (0: reachability only).
  pid_t pid = 0;
  /// The node's HTTPS API, the CA file it chains to and a token that may read users and trust (the
  /// admin token): the http type and the state checks.
  std::string api_url;
  std::string ca_file;
  std::string token;
  /// The node's (or VM's, through its admin endpoint) Prometheus metrics URL: refusals by reason.
  std::string metrics_url;
  /// A CT VM's endpoints.json and its admin token: the vm-* types.
  std::string vm_endpoints;
  std::string vm_token;
  /// The control run: the envelope type sends fresh valid envelopes instead of mutants, so the
  /// target's state must change (a campaign that could not see a change would prove nothing).
  bool control = false;
};

/// The types a campaign knows.
const std::vector<std::string>& campaign_types();

/// Runs the campaign; prints one JSON line per type and a summary line. 0 when every type ran,
/// nothing crashed and no state changed; 3 on a crash or a state change; 1 when a type could not
/// run to its end (its harness_failure says why: e.g. the honest half of a step was refused).
int run_campaign(caf::actor_system& sys, const campaign_options& o);

} // namespace joconde::inject
