#include "mpc_party.hpp"

#include "slot_files.hpp"
#include "vm_sockets.hpp"

#include "joconde/engines/ctsc.hpp"
#include "joconde/engines/engine.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/runtime/crypto.hpp"
#include "joconde/runtime/log.hpp"
#include "joconde/runtime/vm_metrics.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace joconde::vm::detail {

namespace {

/// Where the engine at this CP meets its counterparts: their MPC endpoints and pair keys (cleansed
/// from `job` once copied), this CP's listening socket (taken from `job`).
result<void> connect_parties(const vm_context& ctx, mpc_job& job, engines::activation& act) {
  act.party = ctx.options.cp_index;
  act.endpoints.resize(ctx.parties);
  act.keys.resize(ctx.parties);
  for (unsigned i = 0; i < ctx.parties; ++i) {
    if (i == act.party)
      continue;
    auto a = parse_address(job.addresses[i]);
    if (!a)
      return fail(errc::malformed_input, "no MPC address of cp-" + std::to_string(i));
    act.endpoints[i] = {a->host, a->port};
    auto& pair = job.keys[i];
    if (job.check_of.empty()) {
      std::memcpy(act.keys[i].data(), pair.data(), std::min<std::size_t>(32, pair.size()));
    } else {
      // Each check has keys of its own: a counterpart still in (or stale from) another run fails
      // the key proof instead of being taken for this one.
      auto key = crypto::hmac_sha256(crypto::to_bytes(pair), crypto::to_bytes("joconde check " + job.check_of));
      std::memcpy(act.keys[i].data(), key.data(), std::min<std::size_t>(32, key.size()));
      OPENSSL_cleanse(key.data(), key.size());
    }
  }
  for (auto& k : job.keys)
    OPENSSL_cleanse(k.second.data(), k.second.size());
  act.endpoints[act.party] = {ctx.options.bind_host, 0};
  act.listen_fd = std::exchange(*job.listen_fd, -1);
  act.connect_timeout = ctx.options.peer_timeout;
  act.io_timeout = ctx.options.io_timeout;
  auto metrics = ctx.metrics;
  act.on_refused_connections = [metrics](const engines::refused_connections& r) {
    log::warning("vm", r.line);
    for (const auto& [reason, n] : r.by_reason)
      metrics->mpc_refused(reason).Increment(static_cast<double>(n));
  };
  return ok();
}

/// This CP's shares of every input of the CTSC (of the checked input only, for a check), unsealed
/// into the engine's activation.
result<void> unseal_inputs(const vm_context& ctx, const mpc_job& job, engines::activation& act) {
  for (const auto& in : ctx.final.cta().ctsc().inputs()) {
    if (!job.check_input.empty() && in.key() != job.check_input)
      continue;
    auto it = job.inputs.find(in.key());
    if (it == job.inputs.end())
      return fail(errc::invalid_state, "input " + in.key() + " is not ready");
    auto sealed = read_sealed(it->second.path);
    if (!sealed)
      return fail(sealed.err().code, "input " + in.key() + ": " + sealed.err().describe());
    auto cols = unseal_columns(ctx, in.key(), content_of(in.key(), it->second), *sealed);
    if (!cols)
      return fail(cols.err().code, "input " + in.key() + ": " + cols.err().describe());
    engines::secret_table t;
    t.rows = it->second.rows;
    for (const auto& c : *cols) {
      auto s = engines::decode_shares(crypto::to_bytes(c), t.rows);
      if (!s || s->a.size() != t.rows)
        return fail(errc::malformed_input, "input " + in.key() + ": damaged shares");
      t.columns.push_back(std::move(*s));
    }
    act.inputs[in.key()] = std::move(t);
  }
  return ok();
}

/// The engine's report as the orchestrator takes it: each output's shares sealed at this CP.
result<mpc_outcome> seal_outputs(const vm_context& ctx, engines::run_report& report,
                                 const std::string& job_check_of) {
  mpc_outcome out;
  out.quality = report.quality;
  out.check_of = job_check_of;
  out.rounds = report.stats.rounds;
  out.bytes_sent = report.stats.bytes_sent;
  out.bytes_to = report.stats.bytes_to;
  for (auto& [name, table] : report.outputs) {
    std::vector<std::string> cols;
    for (const auto& c : table.columns)
      cols.push_back(to_string(engines::encode_shares(c)));
    cols.push_back(to_string(engines::encode_shares(table.valid)));
    auto content = crypto::hex(crypto::random_bytes(16));
    auto sealed = seal_columns(ctx, name, content, cols, table.rows);
    for (auto& c : cols)
      OPENSSL_cleanse(c.data(), c.size());
    if (!sealed)
      return fail(sealed.err().code, "cannot seal output " + name + ": " + sealed.err().describe());
    out.outputs[name] = *sealed;
  }
  return out;
}

/// Runs the engine at this CP: its outcome, or why it failed (for the calculation, the reason the task
/// is cancelled with; for a check, why the upload is refused).
result<mpc_outcome> run_engine(const vm_context& ctx, mpc_job& job) {
  const auto& ctsc = ctx.final.cta().ctsc();
  const auto* engine = engines::find_engine(ctsc.engine().name());
  if (engine == nullptr || engine->caps().testing_only)
    return fail(errc::invalid_config, "engine " + ctsc.engine().name() + " is not available in this VM");
  auto prog = engines::compile_ctsc(ctsc);
  if (!prog)
    return fail(prog.err().code, "the algorithm does not compile: " + prog.err().describe());
  engines::activation act;
  if (auto r = connect_parties(ctx, job, act); !r)
    return r.err();
  if (auto r = unseal_inputs(ctx, job, act); !r)
    return r.err();
  act.check_only = job.check_input;
  act.checked = job.checked;
  auto report = engine->activate(*prog, std::move(act));
  if (!report)
    return fail(report.err().code, "the engine failed: " + report.err().describe());
  return seal_outputs(ctx, *report, job.check_of);
}

} // namespace

mpc_party_actor::behavior_type mpc_party(mpc_party_actor::pointer self, context_ptr ctx,
                                         task_orchestrator_actor parent, mpc_job job) {
  auto shared_job = std::make_shared<mpc_job>(std::move(job));
  return {
    [=](run_atom) {
      auto out = run_engine(*ctx, *shared_job);
      if (!out)
        self->send(parent, mpc_fail_atom::value, out.err().message);
      else
        self->send(parent, mpc_ok_atom::value, std::move(*out));
    },
  };
}

} // namespace joconde::vm::detail
