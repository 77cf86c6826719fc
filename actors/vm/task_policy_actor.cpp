#include "task_policy_actor.hpp"

#include "joconde/messages/caf_error.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/clock.hpp"

#include <joconde/vm.pb.h>

namespace joconde::vm::detail {

task_policy_actor::behavior_type task_policy_engine(task_policy_actor::stateful_pointer<task_policy_state> self,
                                                    context_ptr ctx) {
  self->state.policy.emplace(ctx->final.cta());
  return {
    [=](check_atom, const std::string& signed_bytes, bool upload) -> caf::result<vm::authorized> {
      v1::SignedAuthorization sa;
      if (!proto::parse_into(sa, signed_bytes, 16 * 1024))
        return make_error(errc::malformed_input, "not a SignedAuthorization");
      auto r = self->state.policy->check(sa, upload, now_ms());
      if (!r)
        return to_caf(r.err());
      return std::move(*r);
    },
  };
}

} // namespace joconde::vm::detail
