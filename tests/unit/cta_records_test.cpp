#define BOOST_TEST_MODULE cta_records
#include <boost/test/unit_test.hpp>

// How a node reads its CTA records back: the status is the Protobuf enum, and a record written
// before it was (its status by name in field 3) reads the same.

#include "cplane/cta_records.hpp"
#include "cplane/cta_state.hpp"

#include "joconde/messages/proto.hpp"

using namespace joconde;

namespace {

/// A record as a node wrote it before the status was an enum.
std::string legacy_record(const std::string& status) {
  v1::CtaRecord rec;
  rec.mutable_ctsc()->set_uuid("c0ffee00-0000-4000-8000-000000000000");
  rec.set_legacy_status(status);
  rec.set_updates(3);
  return proto::serialize(rec);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_record_keeps_its_status_as_the_enum) {
  v1::CtaRecord rec;
  rec.set_status(v1::CTA_STATUS_INSTANTIATED);
  auto back = parse_cta_record(proto::serialize(rec));
  BOOST_REQUIRE(back.ok());
  BOOST_CHECK(back->status() == v1::CTA_STATUS_INSTANTIATED);
  BOOST_CHECK_EQUAL(to_string(back->status()), "instantiated");
}

BOOST_AUTO_TEST_CASE(a_record_written_with_the_status_by_name_reads_the_same) {
  for (auto [name, status] : {std::pair{"emerging", v1::CTA_STATUS_EMERGING},
                              {"instantiated", v1::CTA_STATUS_INSTANTIATED},
                              {"finished", v1::CTA_STATUS_FINISHED},
                              {"cancelled", v1::CTA_STATUS_CANCELLED},
                              {"erased", v1::CTA_STATUS_ERASED}}) {
    auto back = parse_cta_record(legacy_record(name));
    BOOST_REQUIRE_MESSAGE(back.ok(), name);
    BOOST_CHECK_MESSAGE(back->status() == status, name);
    BOOST_CHECK(back->legacy_status().empty()); // written back without it
    BOOST_CHECK_EQUAL(back->updates(), 3u);
    BOOST_CHECK_EQUAL(to_string(back->status()), name);
  }
}

BOOST_AUTO_TEST_CASE(a_record_with_a_status_name_that_is_none_is_refused) {
  auto back = parse_cta_record(legacy_record("half-alive"));
  BOOST_REQUIRE(!back.ok());
  BOOST_CHECK(back.err().code == errc::malformed_input);
  BOOST_CHECK(back.err().message.find("half-alive") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_status_name_reads_back_as_its_status) {
  for (auto s : {v1::CTA_STATUS_EMERGING, v1::CTA_STATUS_INSTANTIATED, v1::CTA_STATUS_FINISHED,
                 v1::CTA_STATUS_CANCELLED, v1::CTA_STATUS_ERASED})
    BOOST_CHECK(cta_status_from_string(to_string(s)) == s);
  BOOST_CHECK(!cta_status_from_string("CTA_STATUS_FINISHED"));
  BOOST_CHECK_EQUAL(to_string(v1::CTA_STATUS_DRAFTED), "unknown");
}
