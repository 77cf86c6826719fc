#include "joconde/engines/reference.hpp"

#include "joconde/engines/sql/compiler.hpp"
#include "joconde/engines/sql/executor.hpp"

namespace joconde::engines {

namespace {

class reference_engine_impl final : public engine {
public:
  reference_engine_impl() {
    caps_.name = "reference";
    caps_.version = "1.0.0";
    caps_.parties = 1;
    caps_.security_model = "none: plaintext, for testing only";
    caps_.data_types = {"integer", "decimal", "boolean", "category", "key"};
    caps_.language_features = sql::all_features();
    caps_.testing_only = true;
  }

  const capabilities& caps() const noexcept override { return caps_; }

  std::vector<secret> split(std::span<const word> values) const override {
    return {secret{{values.begin(), values.end()}, {}}};
  }

  result<std::vector<word>> rebuild(std::span<const secret> shares) const override {
    if (shares.size() != 1)
      return fail(errc::malformed_input, "the reference engine has 1 party, "
                                           + std::to_string(shares.size()) + " shares given");
    if (!shares[0].b.empty())
      return fail(errc::malformed_input, "reference shares carry one component");
    return shares[0].a;
  }

  result<void> supports(const sql::program&) const override { return ok(); }

  result<run_report> activate(const sql::program& prog, activation act) const override {
    if (act.party != 0)
      return fail(errc::unsupported, "the reference engine has only party 0");
    reference_backend b;
    try {
      auto res = sql::run(prog, b, act.inputs, {act.check_only, act.checked});
      return run_report{std::move(res.outputs), std::move(res.quality), b.stats()};
    } catch (const engine_failure& e) {
      return e.err();
    }
  }

private:
  capabilities caps_;
};

} // namespace

const engine& reference_engine() {
  static const reference_engine_impl instance;
  return instance;
}

} // namespace joconde::engines
