#define BOOST_TEST_MODULE vm_messages
#include <boost/test/unit_test.hpp>

// The plain data the actors of a CT VM exchange (messages/vm_data.hpp, vm.hpp): each type is
// registered under its name in the type-id block (type_ids.hpp), and survives CAF's serialisation with
// every field, so an inspect() overload that forgets a field fails here.

#include "joconde/messages/vm.hpp"
#include "support/registered_types.hpp"


#include <memory>
#include <string>
#include <vector>

using namespace joconde;

namespace {

using vm_types = test::registered_types;

vm::sealed_content sealed(const std::string& slot) {
  return {"/data/slots/" + slot + ".c0ffee.sealed", 42, std::string(64, 'e')};
}

} // namespace

BOOST_FIXTURE_TEST_CASE(every_vm_type_is_registered_under_its_name, vm_types) {
  for (const char* name : {"joconde::vm::sealed_content", "joconde::vm::authorized", "joconde::vm::mpc_outcome",
                           "joconde::vm::released_output", "joconde::vm::output_retrieval",
                           "joconde::vm::slot_status", "joconde::vm::vm_event", "joconde::vm::ct_status"})
    BOOST_CHECK_MESSAGE(registered(name), name << " is not registered");
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
