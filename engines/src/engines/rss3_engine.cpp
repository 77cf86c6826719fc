// The rss3 engine behind the engine interface: client-side sharing and rebuilding from
// rss3/rss3.hpp, and activation = encrypted channels to the two counterparts + the executor.

#include "joconde/engines/engine.hpp"
#include "joconde/engines/reference.hpp"
#include "joconde/engines/rss3/rss3.hpp"
#include "joconde/engines/sql/compiler.hpp"
#include "joconde/engines/sql/executor.hpp"

#include <algorithm>

namespace joconde::engines {

namespace {

class rss3_engine final : public engine {
public:
  rss3_engine() {
    caps_.name = "rss3";
    caps_.version = "1.0.0";
    caps_.parties = 3;
    caps_.security_model = "semi-honest, honest majority: any one Computing Party alone learns "
                           "nothing; two colluding parties can rebuild the data";
    caps_.data_types = {"integer", "decimal", "boolean", "category", "key"};
    caps_.language_features = sql::all_features();
    caps_.testing_only = false;
  }

  const capabilities& caps() const noexcept override { return caps_; }

  std::vector<secret> split(std::span<const word> values) const override {
    return rss3::split(values);
  }

  result<std::vector<word>> rebuild(std::span<const secret> shares) const override {
    return rss3::rebuild(shares);
  }

  result<void> supports(const sql::program& prog) const override {
    for (const auto& f : prog.features())
      if (std::find(caps_.language_features.begin(), caps_.language_features.end(), f)
          == caps_.language_features.end())
        return fail(errc::unsupported, "engine rss3 cannot run language feature '" + f + "'");
    return ok();
  }

  result<run_report> activate(const sql::program& prog, activation act) const override {
    if (act.party >= caps_.parties || act.endpoints.size() != caps_.parties
        || act.keys.size() != caps_.parties)
      return fail(errc::invalid_config, "rss3 runs with 3 parties: party index 0..2, three "
                                        "endpoints and three channel keys");
    rss3::options opts;
    opts.party = act.party;
    opts.endpoints = std::move(act.endpoints);
    opts.keys = std::move(act.keys);
    opts.connect_timeout = act.connect_timeout;
    opts.io_timeout = act.io_timeout;
    opts.listen_fd = act.listen_fd;
    opts.report = std::make_shared<rss3::accept_report>();
    auto refusals = opts.report;
    auto b = rss3::connect(std::move(opts));
    if (act.on_refused_connections && refusals->total() > 0) {
      refused_connections refused;
      refused.line = "rss3 MPC endpoint: " + refusals->describe();
      for (const auto& [reason, count] : refusals->by_reason())
        refused.by_reason[reason] = count;
      act.on_refused_connections(refused);
    }
    if (!b)
      return std::move(b).err();
    try {
      auto res = sql::run(prog, **b, act.inputs, {act.check_only, act.checked});
      return run_report{std::move(res.outputs), std::move(res.quality), (*b)->stats()};
    } catch (const engine_failure& e) {
      return e.err();
    }
  }

private:
  capabilities caps_;
};

} // namespace

const engine* find_engine(std::string_view name) {
  static const rss3_engine rss3;
  if (name == "rss3")
    return &rss3;
  if (name == "reference")
    return &reference_engine();
  return nullptr;
}

std::vector<std::string> engine_names() {
  return {"reference", "rss3"};
}

} // namespace joconde::engines
