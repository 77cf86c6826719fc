// One Computation Task end to end with three real CT VMs (actors/vm/vm_run.hpp) in this process
// (the `inproc` way of tests/support/ct_fixture.hpp: each VM has its own actor system, sockets on
// 127.0.0.1, sealed files and an in-memory simulated attester) and the client node's IO service
// (actors/cplane/io_service.hpp): the VMs attest each other, custodians upload CSV files, the VMs
// run the algorithm with rss3, the analysts of each peer the output is named for download it once
// (the CT waits for every such peer, or for the output deadline), everything is erased. With the
// negative twins of each step.
//
// Here: the CT's run and its failures; an output named for two peers is in ct_run_test_output.cpp,
// the VMs' endpoints under attack in ct_run_test_attacks.cpp.
#define BOOST_TEST_MODULE ct_run
#include <boost/test/unit_test.hpp>

#include "ct_run_test_support.hpp"

using namespace joconde;
using namespace ct_run_test_support;

BOOST_FIXTURE_TEST_CASE(a_ct_runs_end_to_end_once_and_leaves_nothing, ct_in_input) {

  // Refused before anything leaves the node: a CSV that does not match the schema.
  auto bad = io::upload(c.target, "persons", "id,region\nP1,north\nP2,west\n",
                        authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.err().code == errc::malformed_input);
  BOOST_TEST(bad.err().message.find("line 3, column 2 (region)") != std::string::npos, bad.err().message);
  // Refused at the node too: a repeated join key (the program joins persons on id, 1:1).
  auto twice = io::upload(c.target, "persons", "id,region\nP1,north\nP2,south\nP1,east\n",
                          authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE(!twice);
  BOOST_TEST((twice.err().code == errc::malformed_input));
  BOOST_TEST(twice.err().message.find("persons: lines 2 and 4, column 1 (id): the same value twice") != std::string::npos,
             twice.err().message);
  // A custodian whose PAK may not write that input (b's custodian, named for persons in b's CTSA).
  auto wrong = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_b, uuid, "persons", true));
  BOOST_REQUIRE(!wrong);
  BOOST_TEST(wrong.err().code == errc::forbidden, wrong.err().describe());
  auto stranger = io::upload(c.target, "income", income_csv(), authorize(f.stranger, uuid, "income", true));
  BOOST_REQUIRE(!stranger);
  BOOST_TEST(stranger.err().code == errc::forbidden);
  // A replayed authorization: accepted once, refused the second time.
  auto once = authorize(f.custodian_b, uuid, "income", true);
  // A download before the output phase.
  auto early = io::download(c.target, "by_region", authorize(f.analyst_a, uuid, "by_region", false));
  BOOST_REQUIRE(!early);
  BOOST_TEST(early.err().code == errc::invalid_state, early.err().describe());
  // Attestation twins at the client: an unknown platform root, a CTA other than the VMs'.
  {
    auto other = enclave::simulated_platform::create();
    auto t = c.target;
    t.trusted_roots = {other->root_certificate()};
    auto r = io::upload(t, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true));
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.err().code == errc::untrusted_chain, r.err().describe());
    auto changed = f.final;
    changed.mutable_cta()->mutable_ctsc()->set_title("another agreement");
    t = c.target;
    t.final = &changed;
    r = io::upload(t, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true));
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.err().code == errc::host_data_mismatch, r.err().describe());
    t = c.target;
    t.allow_simulated = false;
    r = io::upload(t, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true));
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.err().code == errc::forbidden, r.err().describe());
  }
  // None of the refusals changed a slot.
  for (unsigned i = 0; i < 3; ++i) {
    auto status = c.status(i);
    for (auto& s : status["slots"])
      BOOST_TEST(s["state"].get<std::string>() == "empty");
  }

  // The latest upload wins until input closes: persons twice, then income (the last input).
  auto up_a1 = io::upload(c.target, "persons", "id,region\nP0,east\n", authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE_MESSAGE(up_a1, (up_a1 ? "" : up_a1.err().describe()));
  BOOST_TEST(up_a1->phase == "input");
  BOOST_TEST(up_a1->simulated);
  auto up_a2 = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE_MESSAGE(up_a2, (up_a2 ? "" : up_a2.err().describe()));
  BOOST_TEST(up_a2->rows == 21u);
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 1u, "the replaced upload is erased");
  auto up_b = io::upload(c.target, "income", income_csv(), once);
  BOOST_REQUIRE_MESSAGE(up_b, (up_b ? "" : up_b.err().describe()));
  BOOST_TEST(up_b->rows == 12u);
  auto replay = io::upload(c.target, "income", income_csv(), once);
  BOOST_REQUIRE(!replay);
  BOOST_TEST((replay.err().code == errc::replayed || replay.err().code == errc::invalid_state),
             replay.err().describe());
  BOOST_REQUIRE_MESSAGE(c.wait_phase("output"), "the VMs did not compute the output");
  auto late = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE(!late);
  BOOST_TEST(late.err().code == errc::invalid_state, late.err().describe());

  // b's CTSA lists an analyst for by_region, which the CTSC names for a.test only: every VM's task
  // policy refuses that PAK, and nothing changes.
  auto not_named = io::download(c.target, "by_region", authorize(f.analyst_b, uuid, "by_region", false));
  BOOST_REQUIRE(!not_named);
  BOOST_TEST(not_named.err().code == errc::forbidden, not_named.err().describe());
  BOOST_TEST(not_named.err().message.find("output by_region is not granted to peer b.test") != std::string::npos,
             not_named.err().message);
  for (unsigned i = 0; i < 3; ++i) {
    auto out = slot_json(c, i, "by_region");
    BOOST_TEST(out.value("state", "") == "ready");
    BOOST_TEST(out["retrieved_by"].empty(), out.dump());
  }

  auto got = io::download(c.target, "by_region", authorize(f.analyst_a, uuid, "by_region", false));
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.err().describe()));
  BOOST_TEST(got->csv == expected_table, got->csv);
  BOOST_TEST(got->suppressed == 0u);
  BOOST_TEST(got->confidential == 1u);
  // A second download: every VM released its shares once to a.test.
  auto again = io::download(c.target, "by_region", authorize(f.analyst_a, uuid, "by_region", false));
  BOOST_REQUIRE(!again);
  BOOST_TEST(again.err().code == errc::already_exists, again.err().describe());
  BOOST_TEST(again.err().message.find("output by_region was retrieved by peer a.test already (by "
                                       + f.analyst_a.label() + ")")
               != std::string::npos,
             again.err().message);
  auto exits = c.exits();
  BOOST_TEST(exits == (std::vector<int>{vm::exit_finished, vm::exit_finished, vm::exit_finished}));
  for (unsigned i = 0; i < 3; ++i) {
    auto slots = c.dir / ("cp" + std::to_string(i)) / "slots";
    BOOST_TEST(files_below(slots) == 0u, "cp" << i << " left slot files");
  }
  BOOST_TEST(files_containing(c.dir, canary).empty());
}

BOOST_FIXTURE_TEST_CASE(the_result_equals_the_statistics_of_the_inputs, ct_in_input) {
  auto up_a = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE_MESSAGE(up_a, (up_a ? "" : up_a.err().describe()));
  BOOST_TEST(up_a->phase == "input");
  auto up_b = io::upload(c.target, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true));
  BOOST_REQUIRE_MESSAGE(up_b, (up_b ? "" : up_b.err().describe()));
  BOOST_REQUIRE(c.wait_phase("output"));
  auto got = io::download(c.target, "by_region", authorize(f.analyst_a, uuid, "by_region", false));
  BOOST_REQUIRE_MESSAGE(got, (got ? "" : got.err().describe()));
  // Joined: P0..P10 even (north: 0,2,4,6,8,10 → 6 persons, income 1000+1002+...+1010 = 6030),
  // P12..P18 even (south: 4 persons, 1012+1014+1016+1018 = 4060), P19 (south? no: 19 is east, 5):
  // east has one person: withheld, marked C.
  BOOST_TEST(got->csv == expected_table, got->csv);
  BOOST_TEST(got->suppressed == 0u);
  BOOST_TEST(got->confidential == 1u);
  BOOST_TEST(c.exits() == (std::vector<int>{0, 0, 0}));
  BOOST_TEST(files_containing(c.dir, canary).empty());
}

BOOST_FIXTURE_TEST_CASE(a_cancel_at_one_cp_cancels_and_erases_at_every_cp, ct_in_input) {
  auto up = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE_MESSAGE(up, (up ? "" : up.err().describe()));
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 1u);
  auto r = c.admin(1, "POST", "/cancel", R"({"reason":"test"})");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 202);
  BOOST_TEST(c.exits() == (std::vector<int>{3, 3, 3}));
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 0u);
  BOOST_TEST(files_containing(c.dir, canary).empty());
}

BOOST_AUTO_TEST_CASE(the_input_deadline_cancels_the_ct_at_every_cp) {
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 4'000};
  ct_cluster c{*platform, f};
  BOOST_REQUIRE(c.wait_phase("input"));
  BOOST_TEST(c.exits() == (std::vector<int>{3, 3, 3}));
}

BOOST_AUTO_TEST_CASE(a_vm_launched_with_debugging_is_refused_by_its_counterparts) {
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 600'000};
  ct_cluster c{*platform, f, {.debug_vm2 = true}};
  // cp-2's evidence says debug: cp-0 and cp-1 refuse it, the CT never opens input and is cancelled.
  BOOST_TEST(!c.wait_phase("input", 5));
  auto s0 = c.status(0);
  BOOST_TEST(s0.value("phase", "") != "input");
  // cp-2's attempts are counted where they are refused (cp-0 accepts cp-2 on its peer port).
  for (int k = 0; k < 300 && c.metric(0, "joconde_vm_peer_refused_total{reason=\"handshake\"}") < 1; ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  BOOST_TEST(c.metric(0, "joconde_vm_peer_refused_total{reason=\"handshake\"}") >= 1);
  c.stop->store(true);
  auto exits = c.exits();
  BOOST_TEST(exits[0] == vm::exit_cancelled);
}

BOOST_FIXTURE_TEST_CASE(an_upload_that_fails_at_one_cp_leaves_the_slot_empty_at_all_three, ct_in_input) {
  // A first upload makes the slot ready everywhere.
  auto first = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_REQUIRE_MESSAGE(first, (first ? "" : first.err().describe()));
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(slot_state(c, i, "persons") == "ready");
  // The next one reaches cp-0 and cp-1 whole, but its connection to cp-2 breaks mid-way.
  enclave::simulated_verifier verifier{{platform->root_certificate()}};
  const auto* engine = engines::find_engine("rss3");
  std::vector<engines::word> ids(3, 42), regions(3, 1);
  auto id_shares = engine->split(ids);
  auto region_shares = engine->split(regions);
  auto auth = authorize(f.custodian_a, uuid, "persons", true);
  std::vector<std::future<v1::VmReply>> replies;
  for (unsigned cp = 0; cp < 3; ++cp) {
    auto s = std::make_shared<enclave::client_session>(session_with(c, f, cp, verifier));
    v1::VmRequest req;
    req.set_kind(v1::VmRequest::KIND_UPLOAD);
    *req.mutable_authorization() = auth;
    req.set_rows(3);
    BOOST_REQUIRE(s->stream.send(crypto::to_bytes(proto::serialize(req))));
    auto go = s->stream.receive(1 << 20);
    BOOST_REQUIRE(go);
    v1::VmReply go_reply;
    BOOST_REQUIRE(go_reply.ParseFromArray(go->data(), static_cast<int>(go->size())));
    BOOST_REQUIRE_EQUAL(go_reply.code(), 0u);
    BOOST_REQUIRE(s->stream.send(engines::encode_shares(id_shares[cp])));
    if (cp == 2) {
      s->stream.close();  // the column of regions never arrives at cp-2
      continue;
    }
    BOOST_REQUIRE(s->stream.send(engines::encode_shares(region_shares[cp])));
    replies.push_back(std::async(std::launch::async, [s] {
      v1::VmReply r;
      auto msg = s->stream.receive(1 << 20);
      if (msg)
        r.ParseFromArray(msg->data(), static_cast<int>(msg->size()));
      else
        r.set_code(9999);
      return r;
    }));
  }
  for (auto& r : replies) {
    auto reply = r.get();
    BOOST_TEST(reply.code() == static_cast<std::uint32_t>(errc::io_error), reply.message());
  }
  // Empty at all three CPs, nothing sealed left.
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_TEST(slot_state(c, i, "persons") == "empty", c.status(i).dump());
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 0u);
  }
  // The CT goes on: a new upload is accepted.
  auto again = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_TEST(again.ok(), (again ? "" : again.err().describe()));
}

BOOST_AUTO_TEST_CASE(silence_between_the_vms_is_not_a_lost_counterpart) {
  // A long calculation sends no control message for minutes: the links' read timeout (here 1 s)
  // must not count as a counterpart lost.
  auto platform = enclave::simulated_platform::create();
  BOOST_REQUIRE(platform);
  fixture_cta f{*platform, now_ms() + 600'000};
  const auto& uuid = f.final.cta().ctsc().uuid();
  ct_cluster c{*platform, f, {.peer_timeout = std::chrono::milliseconds{1000}}};
  BOOST_REQUIRE(c.wait_phase("input"));
  std::this_thread::sleep_for(std::chrono::seconds{4});
  for (unsigned i = 0; i < 3; ++i)
    BOOST_TEST(c.status(i).value("phase", "") == "input");
  auto up_a = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_TEST(up_a.ok(), (up_a ? "" : up_a.err().describe()));
}

BOOST_FIXTURE_TEST_CASE(two_downloads_at_once_one_gets_the_whole_output_the_other_nothing, ct_in_input) {
  // Each CP releases its shares once: two downloads racing must not each get the shares of only
  // some CPs (CP 0 decides which one every CP serves).
  BOOST_REQUIRE(io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true)));
  BOOST_REQUIRE(io::upload(c.target, "income", income_csv(), authorize(f.custodian_b, uuid, "income", true)));
  BOOST_REQUIRE(c.wait_phase("output"));
  auto a1 = authorize(f.analyst_a, uuid, "by_region", false);
  auto a2 = authorize(f.analyst_a, uuid, "by_region", false);
  auto d1 = std::async(std::launch::async, [&] { return io::download(c.target, "by_region", a1); });
  auto d2 = std::async(std::launch::async, [&] { return io::download(c.target, "by_region", a2); });
  auto r1 = d1.get();
  auto r2 = d2.get();
  BOOST_TEST(r1.ok() != r2.ok(), "exactly one download succeeds: " << (r1 ? "ok" : r1.err().describe())
                                   << " / " << (r2 ? "ok" : r2.err().describe()));
  const auto& got = r1 ? r1 : r2;
  const auto& lost = r1 ? r2 : r1;
  if (got)
    BOOST_TEST(got->csv == expected_table, got->csv);
  if (!lost)
    BOOST_TEST(lost.err().code == errc::already_exists, lost.err().describe());
  BOOST_TEST(c.exits() == (std::vector<int>{0, 0, 0}));
}

BOOST_FIXTURE_TEST_CASE(garbage_at_the_vms_endpoints_is_refused_and_changes_nothing, ct_in_input) {
  // The host's admin endpoint: no token, a wrong token, malformed bodies.
  auto admin_url = "http://" + c.endpoints[0]["admin"].get<std::string>();
  for (const auto* path : {"/status", "/metrics", "/health"}) {
    auto r = http::client::send(admin_url, "GET", path);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->status == 401);
    r = http::client::send(admin_url, "GET", path, {}, "not-the-token");
    BOOST_REQUIRE(r);
    BOOST_TEST(r->status == 401);
  }
  auto r = http::client::send(admin_url, "POST", "/cancel", "{}", "not-the-token");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 401);
  for (const auto* body : {"", "[]", "{\"peers\":1}", "{\"peers\":[{\"cp_index\":\"x\"}]}",
                           "{\"peers\":[{\"cp_index\":1,\"peer_address\":\"nowhere\",\"mpc_address\":\"h:1\"}]}"}) {
    auto p = c.admin(0, "POST", "/peers", body);
    BOOST_REQUIRE(p);
    BOOST_TEST(p->status == 400, body << " -> " << p->status);
  }
  // Client sessions: garbage instead of a request, a request without authorization, a forged one.
  enclave::simulated_verifier verifier{{platform->root_certificate()}};
  std::mt19937_64 rng{7};
  for (int round = 0; round < 20; ++round) {
    auto s = session_with(c, f, static_cast<unsigned>(round % 3), verifier);
    std::vector<std::uint8_t> junk(1 + rng() % 200);
    for (auto& b : junk)
      b = static_cast<std::uint8_t>(rng());
    if (round % 4 == 1) {  // a well-formed upload request whose authorization is garbage
      v1::VmRequest req;
      req.set_kind(v1::VmRequest::KIND_UPLOAD);
      req.mutable_authorization()->set_authorization(std::string(junk.begin(), junk.end()));
      req.set_rows(3);
      junk = crypto::to_bytes(proto::serialize(req));
    } else if (round % 4 == 2) {  // a signed authorization with one byte of its signature flipped
      auto a = authorize(f.custodian_a, uuid, "persons", true);
      auto sig = a.signature();
      sig[sig.size() / 2] ^= 1;
      a.set_signature(sig);
      v1::VmRequest req;
      req.set_kind(v1::VmRequest::KIND_UPLOAD);
      *req.mutable_authorization() = a;
      req.set_rows(3);
      junk = crypto::to_bytes(proto::serialize(req));
    }
    BOOST_REQUIRE(s.stream.send(junk));
    auto reply = s.stream.receive(1 << 20);
    if (reply) {
      v1::VmReply vr;
      BOOST_REQUIRE(vr.ParseFromArray(reply->data(), static_cast<int>(reply->size())));
      BOOST_TEST(vr.code() != 0u, "round " << round << " was accepted");
    }
  }
  for (unsigned i = 0; i < 3; ++i) {
    BOOST_TEST(c.status(i).value("phase", "") == "input");
    BOOST_TEST(slot_state(c, i, "persons") == "empty");
    BOOST_TEST(files_below(c.dir / ("cp" + std::to_string(i)) / "slots") == 0u);
  }
  // Still serving: a correct upload is accepted.
  auto up = io::upload(c.target, "persons", persons_csv(), authorize(f.custodian_a, uuid, "persons", true));
  BOOST_TEST(up.ok(), (up ? "" : up.err().describe()));
}
