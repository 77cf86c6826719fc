#define BOOST_TEST_MODULE vm_messages
#include <boost/test/unit_test.hpp>

// The plain data the actors of a CT VM exchange (messages/vm_data.hpp, vm.hpp): each type is
// registered under its name from the joconde_vm type-id block, and survives CAF's serialisation with
// every field, so an inspect() overload that forgets a field fails here.

#include "joconde/messages/vm.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace joconde;

namespace {

/// An actor system that knows the VM's types, as joconde-vm's does.
struct vm_types {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  vm_types() {
    cfg.add_message_types<caf::id_block::joconde_vm>();
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  /// `x` in a message, serialised and read back.
  template <class T>
  T round_trip(const T& x) {
    std::vector<char> buf;
    caf::binary_serializer sink{*sys, buf};
    auto out = caf::make_message(x);
    auto written = sink(out);
    BOOST_REQUIRE_MESSAGE(!written, sys->render(written));
    caf::message back;
    caf::binary_deserializer source{*sys, buf};
    auto read = source(back);
    BOOST_REQUIRE_MESSAGE(!read, sys->render(read));
    BOOST_REQUIRE(back.match_elements<T>());
    return back.get_as<T>(0);
  }
};

vm::sealed_content sealed(const std::string& slot) {
  return {"/data/slots/" + slot + ".c0ffee.sealed", 42, std::string(64, 'e')};
}

} // namespace

BOOST_FIXTURE_TEST_CASE(every_vm_type_is_registered_under_its_name, vm_types) {
  for (const char* name : {"joconde::vm::sealed_content", "joconde::vm::authorized", "joconde::vm::mpc_outcome",
                           "joconde::vm::released_output", "joconde::vm::output_retrieval",
                           "joconde::vm::slot_status", "joconde::vm::vm_event", "joconde::vm::ct_status"})
    BOOST_CHECK_MESSAGE(sys->types().make_value(name) != nullptr, name << " is not registered");
}

BOOST_FIXTURE_TEST_CASE(every_field_survives_serialisation, vm_types) {
  // Every field differs from its default, so that a field left out of inspect() shows.
  auto content = sealed("a");
  BOOST_CHECK(round_trip(content) == content);
  vm::authorized grant{"a", true, "a.joconde.test", "fp", "Dee Custodian", std::string(32, 'f'), 1000};
  BOOST_CHECK(round_trip(grant) == grant);
  vm::mpc_outcome outcome{{{"mean", sealed("mean")}, {"total", sealed("total")}}, {{"a", true}, {"b", false}}, 7, 9000};
  BOOST_CHECK(round_trip(outcome) == outcome);
  vm::released_output shares{{"JSH1...", "JSH1 valid"}, 3};
  BOOST_CHECK(round_trip(shares) == shares);
  vm::ct_status status;
  status.uuid = "7f0c";
  status.cp_index = 2;
  status.phase = "cancelled";
  status.reason = "stopped by the host";
  status.finished = true;
  status.slots.push_back({"a", true, "ready", 10, {}, {}, {}});
  status.slots.push_back({"mean", false, "ready", 1, {"a.joconde.test", "b.joconde.test"},
                          {{"a.joconde.test", "Ana Lyst", 1700000000000}}, {"b.joconde.test"}});
  status.events.push_back({5, 1700000000001, "slot", "mean", "released to a.joconde.test (by Ana Lyst)"});
  BOOST_CHECK(round_trip(status) == status);
}
