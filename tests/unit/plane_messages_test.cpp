#define BOOST_TEST_MODULE plane_messages
#include <boost/test/unit_test.hpp>

// The plain data the planes' actors answer with (messages/cplane_data.hpp, mplane_data.hpp,
// policy_data.hpp): each type is registered under its name in the type-id block (type_ids.hpp), and
// survives CAF's serialisation with every field, so an inspect() overload that forgets a field fails
// here. The status documents (status.hpp) keep their keys literally.

#include "joconde/messages/status.hpp"
#include "support/registered_types.hpp"


#include <string>
#include <vector>

using namespace joconde;

using plane_types = test::registered_types;

BOOST_FIXTURE_TEST_CASE(every_plane_type_is_registered_under_its_name, plane_types) {
  for (const char* name : {"joconde::store_change", "joconde::commit_writes", "joconde::policy_decision",
                           "joconde::cta_receipt", "joconde::member_view", "joconde::cta_view",
                           "joconde::io_request", "joconde::io_receipt"})
    BOOST_CHECK_MESSAGE(registered(name), name << " is not registered");
  BOOST_CHECK_EQUAL(get_or(cfg, "middleman.app-identifiers", std::vector<std::string>{}).size(), 1u);
}

BOOST_FIXTURE_TEST_CASE(every_field_survives_serialisation, plane_types) {
  // Every field differs from its default, so that a field left out of inspect() shows.
  policy_decision d{true, "pki.rotation-request", "the parent asks"};
  BOOST_CHECK(round_trip(d) == d);
  cta_receipt r{"7f0c", "emerging", "client-a.joconde.test", "aa", "bb", 3, "approved", "why not"};
  BOOST_CHECK(round_trip(r) == r);
  member_view m{"cp1.joconde.test", true, "AB:CD", "override", true, 5, "EF:01", true, "admin", "board", 9};
  cta_view v{{{"record one"}, {"record two"}}, {m, m}};
  v.members[1].fqdn = "cp2.joconde.test";
  BOOST_CHECK(round_trip(v) == v);
  io_request up{"7f0c", "persons", {"signed"}, "dee", "id,age\n1,30\n"};
  BOOST_CHECK(round_trip(up) == up);
  io_receipt got{"7f0c", "mean", 18, "output", 2, "region,mean\n", true, {{"attest", 1.5}, {"transfer", 2.25}}};
  BOOST_CHECK(round_trip(got) == got);
  // The broker's writes: a put with a NUL byte in its value, an erase, in order.
  commit_writes w{{{store_change::database::inbox, false, "k1", std::string{"v\0v", 3}},
                   {store_change::database::pending_local, true, "k2", ""},
                   {store_change::database::outbox, false, "k3", "v3"}}};
  BOOST_CHECK(round_trip(w) == w);
}

BOOST_AUTO_TEST_CASE(status_keys_are_taken_literally) {
  // A host name's dots do not make nested documents, as caf::put would.
  caf::settings doc;
  put_status(doc, "cp1.joconde.test", true);
  put_status(doc, "count", uint64_t{7});
  caf::settings inner;
  put_status(inner, "up", false);
  put_status(doc, "peers", std::move(inner));
  BOOST_CHECK_EQUAL(doc.size(), 3u);
  BOOST_CHECK(doc.contains("cp1.joconde.test"));
  BOOST_CHECK(!doc.contains("cp1"));
  BOOST_CHECK_EQUAL(caf::get_or(doc, "count", int64_t{0}), 7);
  BOOST_CHECK_EQUAL(caf::get_or(doc, "peers.up", true), false);
}
