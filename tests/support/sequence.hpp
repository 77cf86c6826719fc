#pragma once

// Actor tests that read as sequence charts (CONVENTIONS.md "Tests"): CAF's deterministic DSL under
// Boost.Test (caf_boost.hpp) gives
//   expect((check_atom, std::string, bool), from(session).to(policy).with(check_atom::value, _, true));
//   disallow((sealed_atom, std::string, vm::sealed_content), from(_).to(orchestrator));
// on a test_coordinator_fixture; this header adds the glue those charts need:
//   strict_behavior / spawn_strict  a mock of a typed interface that answers what the test gives it
//                                   handlers for and fails the test, naming the message, on anything
//                                   else of its interface;
//   expect_quiet(sched)             no actor has a message waiting (the chart ends here);
//   refusal{code, message}          in with(...), an error reply with that joconde code and message.
// Include once per test program, after BOOST_TEST_MODULE and <boost/test/unit_test.hpp>.

#include "support/caf_boost.hpp"

#include "joconde/messages/caf_error.hpp"

#include <caf/actor_system.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/replies_to.hpp>
#include <caf/result.hpp>
#include <caf/sec.hpp>

#include <string>
#include <type_traits>

namespace joconde::test {

namespace detail {

/// The inputs and outputs of one signature of a typed interface.
template <class Signature>
struct signature_parts;

template <class... In, class... Out>
struct signature_parts<caf::typed_mpi<caf::detail::type_list<In...>, caf::output_tuple<Out...>>> {
  /// True when handler `F` takes this signature's inputs.
  template <class F>
  static constexpr bool takes = std::is_invocable_v<const F&, In&...>;

  /// The handler for this signature when the test gave none: fails the test, naming the message.
  static auto refuse(std::string mock) {
    return [mock](In&... xs) -> caf::result<Out...> {
      BOOST_ERROR(mock << " got a message it does not expect: " << caf::deep_to_string(xs...));
      return caf::make_error(caf::sec::unexpected_message);
    };
  }
};

/// The refusing handler: no handler of the test takes `Signature`'s inputs.
template <class Signature>
auto pick(const std::string& mock) {
  return signature_parts<Signature>::refuse(mock);
}

/// The first of `fs` that takes `Signature`'s inputs, or the refusing handler.
template <class Signature, class F, class... Fs>
auto pick(const std::string& mock, const F& f, const Fs&... fs) {
  if constexpr (signature_parts<Signature>::template takes<F>)
    return f;
  else
    return pick<Signature>(mock, fs...);
}

/// True when some signature of `Signatures` has inputs handler `F` takes.
template <class F, class... Signatures>
constexpr bool takes_any = (signature_parts<Signatures>::template takes<F> || ...);

template <class Handle, class... Signatures, class... Fs>
typename Handle::behavior_type strict_behavior(caf::detail::type_list<Signatures...>, const std::string& mock,
                                               const Fs&... fs) {
  static_assert((takes_any<Fs, Signatures...> && ...),
                "a handler of the strict mock takes no message of its interface");
  return {pick<Signatures>(mock, fs...)...};
}

} // namespace detail

/// The behaviour of a strict mock of interface `Handle` (a caf::typed_actor) called `mock`: each
/// message goes to the first of `handlers` that takes it; any other message of the interface fails
/// the test with its text (and is answered with sec::unexpected_message).
template <class Handle, class... Fs>
typename Handle::behavior_type strict_behavior(const std::string& mock, Fs... handlers) {
  return detail::strict_behavior<Handle>(typename Handle::signatures{}, mock, handlers...);
}

/// Spawns a strict mock of interface `Handle` (strict_behavior).
template <class Handle, class... Fs>
Handle spawn_strict(caf::actor_system& sys, std::string mock, Fs... handlers) {
  return sys.spawn([=](typename Handle::pointer) { return strict_behavior<Handle>(mock, handlers...); });
}

/// Fails the test, naming the next message, if any actor has a message waiting.
inline void expect_quiet(caf::scheduler::test_coordinator& sched) {
  if (!sched.has_job())
    return;
  auto& next = sched.next_job<caf::scheduled_actor>();
  auto* msg = next.peek_at_next_mailbox_element();
  BOOST_ERROR("expected no more messages, but " << next.name() << " has "
                                                << (msg ? caf::deep_to_string(msg->content()) : "a job"));
}

/// An error reply with joconde code `code` and message `message` (for expect's with()).
struct refusal {
  errc code;
  std::string message;
};

/// True when `err` is `r`; says what it was otherwise.
inline bool operator==(const caf::error& err, const refusal& r) {
  bool same = code_of(err) == r.code && message_of(err) == r.message;
  if (!same)
    BOOST_TEST_MESSAGE("refused with " << describe(err) << ", expected " << to_string(r.code) << ": " << r.message);
  return same;
}

} // namespace joconde::test
