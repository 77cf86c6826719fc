#include "ctsc_rules.hpp"

#include "joconde/engines/ctsc.hpp"
#include "joconde/engines/engine.hpp"
#include "joconde/runtime/crypto.hpp"

#include <map>
#include <set>

namespace joconde {

namespace {

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 64)
    return false;
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

bool valid_fqdn(std::string_view name) {
  if (name.empty() || name.size() > 253)
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
      return false;
  return name.front() != '.' && name.back() != '.';
}

result<void> check_schema(const google::protobuf::RepeatedPtrField<v1::Column>& columns,
                          const std::string& what) {
  if (columns.empty())
    return fail(errc::malformed_input, what + " has no columns");
  std::set<std::string> names;
  for (const auto& c : columns) {
    if (!valid_key(c.name()))
      return fail(errc::malformed_input, what + ": column name '" + c.name()
                                           + "' is not 1 to 64 characters of a-z, 0-9, '_' and '-'");
    if (!names.insert(c.name()).second)
      return fail(errc::malformed_input, what + ": column " + c.name() + " appears twice");
    switch (c.type()) {
      case v1::Column::TYPE_INTEGER:
      case v1::Column::TYPE_BOOLEAN:
      case v1::Column::TYPE_TEXT_KEY:
        if (c.scale() != 0 || c.domain_size() != 0)
          return fail(errc::malformed_input, what + ": column " + c.name()
                                               + " has a scale or domain its type does not use");
        break;
      case v1::Column::TYPE_FIXED_POINT:
        if (c.scale() == 0 || c.scale() > 18 || c.domain_size() != 0)
          return fail(errc::malformed_input, what + ": fixed-point column " + c.name()
                                               + " needs a scale of 1 to 18 digits and no domain");
        break;
      case v1::Column::TYPE_CATEGORY: {
        if (c.domain_size() == 0 || c.scale() != 0)
          return fail(errc::malformed_input, what + ": category column " + c.name()
                                               + " needs its declared domain and no scale");
        std::set<std::string> values{c.domain().begin(), c.domain().end()};
        if (values.size() != static_cast<size_t>(c.domain_size()))
          return fail(errc::malformed_input, what + ": category column " + c.name()
                                               + " declares a value twice");
        break;
      }
      default:
        return fail(errc::malformed_input, what + ": column " + c.name() + " has no type");
    }
  }
  return ok();
}

/// The engine exists, is not for tests only and runs with as many distinct Computing Parties as
/// the CTSC names; the CTSC has a main algorithm.
result<void> check_engine_and_parties(const v1::Ctsc& c) {
  const auto* engine = engines::find_engine(c.engine().name());
  if (engine == nullptr)
    return fail(errc::malformed_input, "unknown MPC engine '" + c.engine().name() + "'");
  if (engine->caps().testing_only)
    return fail(errc::forbidden, "engine " + c.engine().name() + " is for tests only");
  if (static_cast<size_t>(c.computing_parties_size()) != engine->caps().parties)
    return fail(errc::malformed_input, "engine " + c.engine().name() + " runs with "
                                         + std::to_string(engine->caps().parties)
                                         + " computing parties; the CTSC names "
                                         + std::to_string(c.computing_parties_size()));
  std::set<std::string> cps;
  for (const auto& cp : c.computing_parties()) {
    if (!valid_fqdn(cp.fqdn()))
      return fail(errc::malformed_input, "computing party '" + cp.fqdn() + "' is not a node name");
    if (!cps.insert(cp.fqdn()).second)
      return fail(errc::malformed_input, "computing party " + cp.fqdn() + " is named twice");
  }
  if (c.main_algorithm().source().empty())
    return fail(errc::malformed_input, "the CTSC has no main algorithm");
  return ok();
}

/// The peers by node name with their roles, each named once; the Task Organiser's node is one of them.
result<std::map<std::string, v1::PeerRole>> check_peers(const v1::Ctsc& c) {
  if (c.peers().empty())
    return fail(errc::malformed_input, "the CTSC names no peers");
  std::map<std::string, v1::PeerRole> peers;
  for (const auto& p : c.peers()) {
    if (!valid_fqdn(p.fqdn()))
      return fail(errc::malformed_input, "peer '" + p.fqdn() + "' is not a node name");
    if (p.role() == v1::PEER_ROLE_UNSPECIFIED)
      return fail(errc::malformed_input, "peer " + p.fqdn() + " has no role (input, output or both)");
    if (!peers.emplace(p.fqdn(), p.role()).second)
      return fail(errc::malformed_input, "peer " + p.fqdn() + " is named twice");
  }
  if (peers.count(c.organiser().peer()) == 0)
    return fail(errc::forbidden, "the Task Organiser's node " + c.organiser().peer()
                                   + " is not one of the peers");
  return peers;
}

/// Every input and output has a unique key, a well-formed schema, and belongs to (or goes to)
/// peers whose role allows it.
result<void> check_inputs_outputs(const v1::Ctsc& c, const std::map<std::string, v1::PeerRole>& peers) {
  auto gives_input = [&](const std::string& fqdn) {
    auto r = peers.at(fqdn);
    return r == v1::PEER_ROLE_INPUT || r == v1::PEER_ROLE_INPUT_OUTPUT;
  };
  auto gets_output = [&](const std::string& fqdn) {
    auto r = peers.at(fqdn);
    return r == v1::PEER_ROLE_OUTPUT || r == v1::PEER_ROLE_INPUT_OUTPUT;
  };
  if (c.inputs().empty() || c.outputs().empty())
    return fail(errc::malformed_input, "the CTSC needs at least one input and one output");
  std::set<std::string> keys;
  for (const auto& in : c.inputs()) {
    if (!valid_key(in.key()) || !keys.insert(in.key()).second)
      return fail(errc::malformed_input, "input key '" + in.key() + "' is malformed or not unique");
    if (peers.count(in.peer()) == 0 || !gives_input(in.peer()))
      return fail(errc::malformed_input, "input " + in.key() + " belongs to " + in.peer()
                                           + ", which is not a peer that provides inputs");
    if (auto r = check_schema(in.schema(), "input " + in.key()); !r)
      return r;
  }
  for (const auto& out : c.outputs()) {
    if (!valid_key(out.key()) || !keys.insert(out.key()).second)
      return fail(errc::malformed_input, "output key '" + out.key() + "' is malformed or not unique");
    if (out.peers().empty())
      return fail(errc::malformed_input, "output " + out.key() + " goes to no peer");
    for (const auto& p : out.peers())
      if (peers.count(p) == 0 || !gets_output(p))
        return fail(errc::malformed_input, "output " + out.key() + " goes to " + p
                                             + ", which is not a peer that receives outputs");
    if (auto r = check_schema(out.schema(), "output " + out.key()); !r)
      return r;
  }
  return ok();
}

/// Deadlines: approval < input < execution < output, retention positive, and a new CTSC's
/// approval deadline still ahead.
result<void> check_deadlines(const v1::Ctsc& c, int64_t now_ms, bool registered) {
  const auto& t = c.temporal();
  if (!(t.approval_deadline_ms() < t.input_deadline_ms() && t.input_deadline_ms() < t.execution_deadline_ms()
        && t.execution_deadline_ms() < t.output_deadline_ms()))
    return fail(errc::malformed_input, "the deadlines must come in the order approval < input < "
                                       "execution < output");
  if (t.data_retention_s() <= 0)
    return fail(errc::malformed_input, "the data retention time must be positive");
  if (!registered && t.approval_deadline_ms() <= now_ms)
    return fail(errc::malformed_input, "the approval deadline has passed already");
  return ok();
}

} // namespace

result<void> check_ctsc(const v1::Ctsc& c, int64_t now_ms, bool registered) {
  if (c.title().empty() || c.title().size() > 200)
    return fail(errc::malformed_input, "the title must have 1 to 200 characters");
  if (auto r = check_engine_and_parties(c); !r)
    return r;
  auto peers = check_peers(c);
  if (!peers)
    return peers.err();
  if (auto r = check_inputs_outputs(c, *peers); !r)
    return r;
  if (auto r = check_deadlines(c, now_ms, registered); !r)
    return r;
  // The algorithm compiles for the engine and the CTSC states what it discloses (DESIGN.md §9).
  return engines::check_algorithm(c);
}

result<void> check_ctsa(const v1::Ctsa& ctsa, const v1::Ctsc& ctsc, bool require_coverage) {
  std::set<std::string> my_inputs;
  std::set<std::string> my_outputs;
  for (const auto& in : ctsc.inputs())
    if (in.peer() == ctsa.peer())
      my_inputs.insert(in.key());
  for (const auto& out : ctsc.outputs())
    for (const auto& p : out.peers())
      if (p == ctsa.peer())
        my_outputs.insert(out.key());
  if (ctsa.signatories().empty())
    return fail(errc::malformed_input, "a CTSA names at least one signatory");
  // A person in committed form (personal_data.hpp) has no name here, only its commitment.
  for (const auto& s : ctsa.signatories())
    if (s.name().empty() && s.commitment().empty())
      return fail(errc::malformed_input, "every signatory has a name");
  auto check_pak = [](const std::string& who, const std::string& pak) -> result<void> {
    auto key = crypto::public_key::from_der(crypto::to_bytes(pak));
    if (!key)
      return fail(errc::malformed_input, "the PAK of " + who + " is not a public key: "
                                           + key.err().message);
    if (!key->is_p256())
      return fail(errc::malformed_input, "the PAK of " + who + " is not an EC P-256 key");
    return ok();
  };
  std::set<std::string> inputs_covered;
  for (int i = 0; i < ctsa.data_custodians_size(); ++i) {
    const auto& dc = ctsa.data_custodians(i);
    if (dc.name().empty() && dc.name_commitment().empty())
      return fail(errc::malformed_input, "every data custodian has a name");
    auto who = dc.name().empty() ? "data custodian " + std::to_string(i) : dc.name();
    if (auto r = check_pak(who, dc.pak()); !r)
      return r;
    for (const auto& k : dc.input_keys()) {
      if (my_inputs.count(k) == 0)
        return fail(errc::forbidden, "data custodian " + who + " is given input " + k
                                       + ", which is not an input of " + ctsa.peer());
      inputs_covered.insert(k);
    }
  }
  std::set<std::string> outputs_covered;
  for (int i = 0; i < ctsa.data_analysts_size(); ++i) {
    const auto& da = ctsa.data_analysts(i);
    if (da.name().empty() && da.name_commitment().empty())
      return fail(errc::malformed_input, "every data analyst has a name");
    auto who = da.name().empty() ? "data analyst " + std::to_string(i) : da.name();
    if (auto r = check_pak(who, da.pak()); !r)
      return r;
    for (const auto& k : da.output_keys()) {
      if (my_outputs.count(k) == 0)
        return fail(errc::forbidden, "data analyst " + who + " is given output " + k
                                       + ", which does not go to " + ctsa.peer());
      outputs_covered.insert(k);
    }
  }
  if (!require_coverage)
    return ok();
  for (const auto& k : my_inputs)
    if (inputs_covered.count(k) == 0)
      return fail(errc::malformed_input, "no data custodian may upload input " + k);
  for (const auto& k : my_outputs)
    if (outputs_covered.count(k) == 0)
      return fail(errc::malformed_input, "no data analyst may retrieve output " + k);
  return ok();
}

std::string new_uuid() {
  auto b = crypto::random_bytes(16);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40); // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80); // RFC 4122 variant
  auto h = crypto::hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-"
         + h.substr(20);
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36)
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = s[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  return true;
}

} // namespace joconde
