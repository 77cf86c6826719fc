// The mpc_party actor of a CT VM: the engine run at this CP (vm_internal.hpp).

#include "vm_internal.hpp"

#include "joconde/runtime/log.hpp"

#include "joconde/engines/ctsc.hpp"
#include "joconde/engines/engine.hpp"
#include "joconde/engines/sql/compiler.hpp"

#include <joconde/agreement.pb.h>

#include <openssl/crypto.h>

#include <cstring>

namespace joconde::vm::detail {

/// Runs the engine at this CP (a detached actor: the engine blocks on its channels).
caf::behavior mpc_party(caf::event_based_actor* self, context_ptr ctx, caf::actor parent) {
  return {
    [=](run_atom, std::map<std::string, sealed_content> inputs, std::map<unsigned, std::string> mpc_addresses,
        std::map<unsigned, std::string> keys, std::shared_ptr<int> listen_fd) {
      auto failed = [&](const std::string& why) { self->send(parent, mpc_fail_atom::value, why); };
      const auto& ctsc = ctx->final.cta().ctsc();
      const auto* engine = engines::find_engine(ctsc.engine().name());
      if (engine == nullptr || engine->caps().testing_only)
        return failed("engine " + ctsc.engine().name() + " is not available in this VM");
      auto prog = engines::compile_ctsc(ctsc);
      if (!prog)
        return failed("the algorithm does not compile: " + prog.err().describe());
      engines::activation act;
      act.party = ctx->options.cp_index;
      act.endpoints.resize(ctx->parties);
      act.keys.resize(ctx->parties);
      for (unsigned i = 0; i < ctx->parties; ++i) {
        if (i == act.party)
          continue;
        auto a = parse_address(mpc_addresses[i]);
        if (!a)
          return failed("no MPC address of cp-" + std::to_string(i));
        act.endpoints[i] = {a->host, a->port};
        std::memcpy(act.keys[i].data(), keys[i].data(), std::min<std::size_t>(32, keys[i].size()));
      }
      act.endpoints[act.party] = {ctx->options.bind_host, 0};
      act.listen_fd = std::exchange(*listen_fd, -1);
      act.connect_timeout = ctx->options.peer_timeout;
      act.io_timeout = ctx->options.io_timeout;
      act.on_refused_connections = [ctx](const engines::refused_connections& r) {
        log::warning("vm", r.line);
        for (const auto& [reason, n] : r.by_reason)
          ctx->metrics->mpc_refused(reason).Increment(static_cast<double>(n));
      };
      for (const auto& in : ctsc.inputs()) {
        auto it = inputs.find(in.key());
        if (it == inputs.end())
          return failed("input " + in.key() + " is not ready");
        auto content = fs::path{it->second.path}.filename().string();
        content = content.substr(in.key().size() + 1, content.size() - in.key().size() - 1 - 7);
        auto sealed = read_sealed(it->second.path);
        if (!sealed)
          return failed("input " + in.key() + ": " + sealed.err().describe());
        auto cols = unseal_columns(*ctx, in.key(), content, *sealed);
        if (!cols)
          return failed("input " + in.key() + ": " + cols.err().describe());
        engines::secret_table t;
        t.rows = it->second.rows;
        for (const auto& c : *cols) {
          auto s = engines::decode_shares(crypto::to_bytes(c), t.rows);
          if (!s || s->a.size() != t.rows)
            return failed("input " + in.key() + ": damaged shares");
          t.columns.push_back(std::move(*s));
        }
        act.inputs[in.key()] = std::move(t);
      }
      for (auto& k : keys)
        OPENSSL_cleanse(k.second.data(), k.second.size());
      auto report = engine->activate(*prog, std::move(act));
      if (!report)
        return failed("the engine failed: " + report.err().describe());
      mpc_outcome out;
      out.quality = report->quality;
      out.stats = report->stats;
      for (auto& [name, table] : report->outputs) {
        std::vector<std::string> cols;
        for (const auto& c : table.columns)
          cols.push_back(to_string(engines::encode_shares(c)));
        cols.push_back(to_string(engines::encode_shares(table.valid)));
        auto content = crypto::hex(crypto::random_bytes(16));
        auto sealed = seal_columns(*ctx, name, content, cols, table.rows);
        for (auto& c : cols)
          OPENSSL_cleanse(c.data(), c.size());
        if (!sealed)
          return failed("cannot seal output " + name + ": " + sealed.err().describe());
        out.outputs[name] = *sealed;
      }
      self->send(parent, mpc_ok_atom::value, std::move(out));
    },
  };
}


} // namespace joconde::vm::detail
