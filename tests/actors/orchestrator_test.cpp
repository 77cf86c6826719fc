#define BOOST_TEST_MODULE orchestrator
#include <boost/test/unit_test.hpp>

#include "support/sequence.hpp"

// The CT VM's task_orchestrator as sequence charts on CAF's test coordinator (support/sequence.hpp):
// CP 0 of three, its children strict mocks (task policy, attestation proxy, session manager, the
// mpc_party of the calculation), client sessions a scoped actor, and its two counterparts the far
// ends of real attested links (socket pairs), read by the test. Each chart checks every message the
// orchestrator sends, actor or counterpart, with its content, and that nothing else is sent.

#include "vm/peer_links.hpp"
#include "vm/task_orchestrator.hpp"

#include "joconde/runtime/clock.hpp"
#include "joconde/runtime/vm_metrics.hpp"

#include <joconde/vm.pb.h>

#include <openssl/rand.h>

#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

using namespace joconde;
using namespace joconde::vm;
using namespace joconde::vm::detail;
using namespace std::string_literals;
using test::refusal;
namespace fs = std::filesystem;

namespace {

struct vm_config : caf::actor_system_config {
  vm_config() {
    add_message_types<caf::id_block::joconde>();
  }
};

// -- control messages between CPs --

v1::PeerMessage vote(const std::string& phase) {
  v1::PeerMessage m;
  m.set_kind(v1::PeerMessage::KIND_VOTE);
  m.set_phase(phase);
  return m;
}

v1::PeerMessage slot_received(const std::string& slot, const std::string& id) {
  v1::PeerMessage m;
  m.set_kind(v1::PeerMessage::KIND_SLOT_RECEIVED);
  m.set_slot(slot);
  m.set_request_id(id);
  return m;
}

v1::PeerMessage check(const std::string& slot, const std::string& id) {
  v1::PeerMessage m;
  m.set_kind(v1::PeerMessage::KIND_CHECK);
  m.set_slot(slot);
  m.set_request_id(id);
  return m;
}

v1::PeerMessage cancel(const std::string& reason) {
  v1::PeerMessage m;
  m.set_kind(v1::PeerMessage::KIND_CANCEL);
  m.set_reason(reason);
  return m;
}

/// A counterpart VM: the far end of the orchestrator's attested link to it.
struct counterpart {
  enclave::secure_stream far;

  /// What ::recv peeks on the link: > 0 a message waits, 0 the orchestrator closed it, < 0 nothing.
  ssize_t peek() {
    char c;
    return ::recv(far.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  }

  /// True when the orchestrator sent nothing that is still unread.
  bool quiet() { return peek() <= 0; }

  /// True when the orchestrator closed the link.
  bool closed() { return peek() == 0; }

  /// The next control message the orchestrator sent (fails the test when there is none).
  v1::PeerMessage next() {
    BOOST_REQUIRE_MESSAGE(!quiet(), "the counterpart got no control message");
    auto bytes = far.receive();
    if (!bytes)
      BOOST_FAIL("cannot read the counterpart's link: " << bytes.err().describe());
    v1::PeerMessage m;
    BOOST_REQUIRE(m.ParseFromArray(bytes->data(), static_cast<int>(bytes->size())));
    return m;
  }
};

/// CP 0's view of a CT of three CPs: inputs persons (a.test) and income (b.test), output by_region
/// for a.test, every deadline far away; persons with a data-quality check if `check_persons`.
v1::FinalCta final_cta(bool check_persons) {
  v1::FinalCta f;
  auto& c = *f.mutable_cta()->mutable_ctsc();
  c.set_uuid("0b7e2c1a-5d4f-4e3a-9c8b-7a6f5e4d3c2b");
  auto now = now_ms();
  c.mutable_temporal()->set_input_deadline_ms(now + 600'000);
  c.mutable_temporal()->set_execution_deadline_ms(now + 1'200'000);
  c.mutable_temporal()->set_output_deadline_ms(now + 1'800'000);
  c.mutable_engine()->set_name("rss3");
  for (auto [key, peer] : {std::pair{"persons", "a.test"}, {"income", "b.test"}}) {
    auto* in = c.add_inputs();
    in->set_key(key);
    in->set_peer(peer);
    in->set_max_rows(1000);
    if (check_persons && std::string{key} == "persons")
      in->mutable_data_quality()->set_source("CHECK COUNT(*) >= 3;");
  }
  auto* out = c.add_outputs();
  out->set_key("by_region");
  out->add_peers("a.test");
  for (auto cp : {"cp1.test", "cp2.test", "cp3.test"})
    c.add_computing_parties()->set_fqdn(cp);
  return f;
}

struct fixture : test_coordinator_fixture<vm_config> {
  fs::path dir = fs::temp_directory_path() / ("joconde-orchestrator-" + std::to_string(::getpid()));
  std::shared_ptr<vm_context> ctx = std::make_shared<vm_context>();
  std::map<unsigned, counterpart> peers;
  caf::scoped_actor client{sys};  ///< the client sessions
  task_policy_actor policy = test::spawn_strict<task_policy_actor>(sys, "the mock task policy");
  attestation_proxy_actor proxy = test::spawn_strict<attestation_proxy_actor>(sys, "the mock attestation proxy");
  session_manager_actor sessions = test::spawn_strict<session_manager_actor>(sys, "the mock session manager");
  /// The mock mpc_parties, one for each run (the checks of uploads, the calculation).
  std::vector<mpc_party_actor> mocks{test::spawn_strict<mpc_party_actor>(sys, "a mock mpc_party", [](run_atom) {}),
                                     test::spawn_strict<mpc_party_actor>(sys, "a mock mpc_party", [](run_atom) {}),
                                     test::spawn_strict<mpc_party_actor>(sys, "a mock mpc_party", [](run_atom) {})};
  std::size_t spawned = 0;
  mpc_party_actor mpc;         ///< the mpc_party the orchestrator started last
  std::optional<mpc_job> job;  ///< what the orchestrator started it with
  task_orchestrator_actor orchestrator;

  explicit fixture(bool check_persons = false) {
    sched.run();  // the mocks start
    fs::remove_all(dir);
    fs::create_directories(dir / "slots");
    ctx->final = final_cta(check_persons);
    ctx->uuid = ctx->final.cta().ctsc().uuid();
    ctx->parties = 3;
    ctx->metrics = std::make_shared<metrics::vm_registry>();
    ctx->key = std::make_shared<enclave::sealing_key>(enclave::sealing_key::generate().value());
    ctx->slots_dir = dir / "slots";
    ctx->links = std::make_shared<peer_link_exchange>();
    for (unsigned cp : {1u, 2u}) {
      int fds[2];
      BOOST_REQUIRE_EQUAL(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
      enclave::channel_key key{};
      BOOST_REQUIRE_EQUAL(RAND_bytes(key.data(), static_cast<int>(key.size())), 1);
      std::array<std::uint8_t, 4> salt{'t', 'e', 's', 't'};
      using enclave::stream_side;
      auto near = enclave::secure_stream::create(fds[0], key, salt, stream_side::first, std::chrono::seconds{5});
      auto far = enclave::secure_stream::create(fds[1], key, salt, stream_side::second, std::chrono::seconds{5});
      BOOST_REQUIRE(near.ok() && far.ok());
      ctx->links->put(std::make_shared<peer_link>(cp, std::move(*near), key));
      peers.emplace(cp, counterpart{std::move(*far)});
    }
    auto spawn_mpc = [this](task_orchestrator_actor, mpc_job j) {
      job = std::move(j);
      BOOST_REQUIRE_LT(spawned, mocks.size());
      mpc = mocks[spawned++];
      return mpc;
    };
    orchestrator = spawn_task_orchestrator(sys, ctx, [](int) {}, std::make_shared<int>(-1), policy, proxy,
                                           spawn_mpc);
    sched.run_once();  // the orchestrator starts: it sets up the task and takes its first tick
    test::expect_quiet(sched);
    caf::anon_send(orchestrator, adopt_atom::value, sessions);
    expect((adopt_atom, session_manager_actor), from(_).to(orchestrator).with(_, sessions));
    test::expect_quiet(sched);
  }

  ~fixture() {
    caf::anon_send_exit(orchestrator, caf::exit_reason::user_shutdown);
    for (auto child : {caf::actor_cast<caf::actor>(policy), caf::actor_cast<caf::actor>(proxy),
                       caf::actor_cast<caf::actor>(sessions)})
      caf::anon_send_exit(child, caf::exit_reason::user_shutdown);
    for (auto& m : mocks)
      caf::anon_send_exit(m, caf::exit_reason::user_shutdown);
    sched.run();
    fs::remove_all(dir);
  }

  /// The orchestrator sent `want` to counterpart `cp`, exactly.
  void expect_sent(unsigned cp, const v1::PeerMessage& want) {
    auto got = peers.at(cp).next();
    BOOST_CHECK_MESSAGE(got.SerializeAsString() == want.SerializeAsString(),
                        "cp-" << cp << " got {" << got.ShortDebugString() << "}, expected {" << want.ShortDebugString()
                              << "}");
  }

  /// Neither counterpart has an unread control message.
  void expect_counterparts_quiet() {
    for (auto& [cp, peer] : peers)
      if (!peer.quiet())
        BOOST_ERROR("cp-" << cp << " got " << peer.next().ShortDebugString());
  }

  /// A client session asks the orchestrator; the reply lands in the client's mailbox.
  template <class... Ts>
  void ask(Ts... xs) {
    (void)client->request(orchestrator, caf::infinite, std::move(xs)...);
  }

  /// Counterpart `cp` sends `m` (through the session manager, which reads its link).
  void from_peer(unsigned cp, const v1::PeerMessage& m) {
    inject((peer_atom, uint32_t, std::string),
           from(sessions).to(orchestrator).with(peer_atom::value, cp, m.SerializeAsString()));
  }

  /// The session manager attested counterpart `cp`.
  void peer_up(unsigned cp) {
    inject((peer_up_atom, uint32_t, std::string),
           from(sessions).to(orchestrator).with(peer_up_atom::value, cp, "127.0.0.1:700" + std::to_string(cp)));
  }

  /// The CT's status with every event, as the admin endpoint sees it.
  ct_status status() {
    auto reply = client->request(orchestrator, caf::infinite, state_atom::value, uint64_t{0});
    expect((state_atom, uint64_t), from(_).to(orchestrator));
    ct_status out;
    reply.receive([&](ct_status& s) { out = std::move(s); }, [](caf::error& err) { BOOST_FAIL(describe(err)); });
    return out;
  }

  /// Slot `key` in the CT's status.
  slot_status slot(const std::string& key) {
    for (auto& sl : status().slots)
      if (sl.key == key)
        return sl;
    BOOST_FAIL("no slot " << key);
    return {};
  }

  /// A custodian's upload of `slot` granted by the task policy.
  static authorized grant(const std::string& slot, const std::string& id) {
    return {slot, true, slot == "persons" ? "a.test" : "b.test", "fingerprint-of-" + slot, "custodian of " + slot,
            id, 1000};
  }

  /// The sealed file of content `id` of `slot` at this CP (named as slot_files.hpp names them).
  sealed_content sealed(const std::string& slot, const std::string& id) {
    auto path = (dir / "slots" / (slot + "." + id + ".sealed")).string();
    std::ofstream{path} << "sealed shares";
    return {path, 3, std::string(64, 'a')};
  }

  // -- chapters several charts share --

  /// Both counterparts attested: this CP votes for the Input phase, and with the counterparts' votes
  /// the CT is in it.
  void to_input_phase() {
    peer_up(1);
    expect_counterparts_quiet();  // one counterpart still missing
    peer_up(2);
    expect_sent(1, vote("input"));
    expect_sent(2, vote("input"));
    from_peer(1, vote("input"));
    BOOST_CHECK_EQUAL(status().phase, "initialisation");
    from_peer(2, vote("input"));
    BOOST_CHECK_EQUAL(status().phase, "input");
    expect_counterparts_quiet();
    test::expect_quiet(sched);
  }

  /// Upload `id` of `slot` sealed here and told to the counterparts, and at both of them: the
  /// client's reply waits (for a slot without a check, the reply comes then).
  void seal_everywhere(const std::string& slot, const std::string& id) {
    ask(begin_atom::value, grant(slot, id));
    expect((begin_atom, authorized), from(_).to(orchestrator).with(_, grant(slot, id)));
    expect((void), from(orchestrator).to(client));
    ask(sealed_atom::value, id, sealed(slot, id));
    expect((sealed_atom, std::string, sealed_content), from(_).to(orchestrator).with(_, id, sealed(slot, id)));
    expect_sent(1, slot_received(slot, id));
    expect_sent(2, slot_received(slot, id));
    disallow((std::string), from(orchestrator).to(client.ptr()));
    from_peer(1, slot_received(slot, id));
    disallow((std::string), from(orchestrator).to(client.ptr()));
    from_peer(2, slot_received(slot, id));
  }

  /// Upload `id` of `slot`: granted, sealed here and told to the counterparts; the client's reply
  /// waits until both counterparts sealed it too.
  void upload(const std::string& slot, const std::string& id) {
    seal_everywhere(slot, id);
    expect((std::string), from(orchestrator).to(client).with("ready at every CP"s));
  }

  /// Upload `id` of persons sealed everywhere: CP 0 announces its check to the counterparts and
  /// starts it on the engine with that upload alone.
  void upload_checked(const std::string& id) {
    seal_everywhere("persons", id);
    expect_sent(1, check("persons", id));
    expect_sent(2, check("persons", id));
    expect((run_atom), from(orchestrator).to(mpc));
    BOOST_REQUIRE(job.has_value());
    BOOST_CHECK_EQUAL(job->check_input, "persons");
    BOOST_CHECK_EQUAL(job->check_of, id);
    BOOST_CHECK_EQUAL(job->inputs.size(), 1u);
    BOOST_CHECK(job->inputs.at("persons") == sealed("persons", id));
    BOOST_CHECK_EQUAL(slot("persons").state, "ready");  // complete, but not yet counted as filled
    test::expect_quiet(sched);
  }

  /// The engine's verdict on upload `id` of persons.
  void verdict(const std::string& id, bool passed) {
    mpc_outcome out{{}, {{"persons", passed}}, 4, 512, {{1, 256}, {2, 256}}, id};
    inject((mpc_ok_atom, mpc_outcome), from(mpc).to(orchestrator).with(mpc_ok_atom::value, out));
    expect((caf::exit_msg), from(_).to(mpc));  // its run is over
  }

  /// Every input is in: this CP votes for the calculation, the counterparts' votes come, and the
  /// orchestrator starts the mpc_party of the calculation.
  void to_calculation_votes() {
    expect_sent(1, vote("calculation"));
    expect_sent(2, vote("calculation"));
    from_peer(1, vote("calculation"));
    from_peer(2, vote("calculation"));
    expect((run_atom), from(orchestrator).to(mpc));
  }

  /// Both inputs uploaded: the input closes, the CPs vote for the calculation, and the orchestrator
  /// starts the mpc_party with its inputs, the counterparts' MPC endpoints and pair keys.
  void to_calculation_phase() {
    to_input_phase();
    upload("persons", "11111111111111111111111111111111");
    expect_counterparts_quiet();  // income is still missing
    upload("income", "22222222222222222222222222222222");
    to_calculation_votes();
    BOOST_REQUIRE(job.has_value());
    BOOST_CHECK(job->inputs.at("persons") == sealed("persons", "11111111111111111111111111111111"));
    BOOST_CHECK(job->inputs.at("income") == sealed("income", "22222222222222222222222222222222"));
    BOOST_CHECK((job->addresses == std::map<unsigned, std::string>{{1, "127.0.0.1:7001"}, {2, "127.0.0.1:7002"}}));
    BOOST_CHECK_EQUAL(job->keys.size(), 2u);
    BOOST_CHECK_EQUAL(status().phase, "calculation");
    test::expect_quiet(sched);
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(orchestrator, fixture)

BOOST_AUTO_TEST_CASE(attested_counterparts_and_their_votes_open_the_input_phase) {
  to_input_phase();
}

BOOST_AUTO_TEST_CASE(an_upload_before_the_input_phase_is_refused_and_nothing_is_sent) {
  ask(begin_atom::value, grant("persons", "33"));
  expect((begin_atom, authorized), from(_).to(orchestrator).with(_, grant("persons", "33")));
  expect((caf::error), from(orchestrator).to(client)
                         .with(refusal{errc::invalid_state, "the CT is in the initialisation phase; it accepts input "
                                                            "only in the input phase, until every input is ready"}));
  test::expect_quiet(sched);
  expect_counterparts_quiet();
  // The same upload's shares then arrive: refused as failed, and still nothing for the counterparts.
  auto shares = sealed("persons", "33");
  ask(sealed_atom::value, "33"s, shares);
  expect((sealed_atom, std::string, sealed_content), from(_).to(orchestrator));
  expect((caf::error), from(orchestrator).to(client)
                         .with(refusal{errc::io_error, "the upload failed at another Computing Party"}));
  BOOST_CHECK(!fs::exists(shares.path));
  test::expect_quiet(sched);
  expect_counterparts_quiet();
  BOOST_CHECK_EQUAL(slot("persons").state, "empty");
}

BOOST_AUTO_TEST_CASE(an_upload_is_ready_once_every_cp_sealed_it) {
  to_input_phase();
  upload("persons", "44444444444444444444444444444444");
  BOOST_CHECK_EQUAL(status().phase, "input");
  BOOST_CHECK_EQUAL(slot("persons").state, "ready");
  BOOST_CHECK_EQUAL(slot("persons").rows, 3u);
  BOOST_CHECK_EQUAL(slot("income").state, "empty");  // so no vote for the calculation yet
  expect_counterparts_quiet();
  test::expect_quiet(sched);
}

BOOST_AUTO_TEST_CASE(a_counterpart_lost_in_the_input_phase_cancels_the_ct_and_tells_the_other) {
  to_input_phase();
  inject((peer_down_atom, uint32_t, std::string),
         from(sessions).to(orchestrator).with(peer_down_atom::value, 1u, "connection reset"s));
  expect_sent(2, cancel("lost counterpart cp-1: connection reset"));
  expect_counterparts_quiet();  // nothing more for cp-2, nothing at all on the lost link
  BOOST_CHECK(peers.at(1).closed());
  test::expect_quiet(sched);
  auto st = status();
  BOOST_CHECK_EQUAL(st.phase, "cancelled");
  BOOST_CHECK_EQUAL(st.reason, "lost counterpart cp-1: connection reset");
  BOOST_CHECK(ctx->key->erased());
}

BOOST_AUTO_TEST_CASE(a_counterpart_lost_in_the_output_phase_ends_it_finished) {
  to_calculation_phase();
  auto out = sealed("by_region", "55555555555555555555555555555555");
  mpc_outcome outcome{{{"by_region", out}}, {{"persons", true}, {"income", true}}, 12, 3456, {{1, 1728}, {2, 1728}}, {}};
  inject((mpc_ok_atom, mpc_outcome), from(mpc).to(orchestrator).with(mpc_ok_atom::value, outcome));
  v1::PeerMessage quality;
  quality.set_kind(v1::PeerMessage::KIND_QUALITY);
  quality.add_quality_passed("income");
  quality.add_quality_passed("persons");
  for (unsigned cp : {1u, 2u}) {
    expect_sent(cp, quality);
    expect_sent(cp, vote("output"));
  }
  from_peer(1, vote("output"));
  from_peer(2, vote("output"));
  BOOST_CHECK_EQUAL(status().phase, "output");
  inject((peer_down_atom, uint32_t, std::string),
         from(sessions).to(orchestrator).with(peer_down_atom::value, 1u, "connection reset"s));
  // Finished as at the output deadline: no cancel goes to the other counterpart, nothing is sent.
  expect_counterparts_quiet();
  test::expect_quiet(sched);
  auto st = status();
  BOOST_CHECK_EQUAL(st.phase, "finished");
  BOOST_CHECK(st.finished);
  bool told = false;
  for (const auto& e : st.events)
    told = told
           || (e.kind == "erased" && e.subject == "output by_region"
               && e.value == "output by_region not retrieved by a.test before counterpart cp-1 was lost: erased");
  BOOST_CHECK_MESSAGE(told, "no erasure event for the output a.test did not retrieve");
  BOOST_CHECK(!fs::exists(out.path));
  BOOST_CHECK(ctx->key->erased());
}

BOOST_AUTO_TEST_CASE(the_mpc_party_stopping_in_the_calculation_cancels_the_ct_everywhere) {
  to_calculation_phase();
  caf::anon_send_exit(mpc, caf::exit_reason::user_shutdown);
  expect((caf::exit_msg), from(_).to(mpc));
  expect((caf::down_msg), from(_).to(orchestrator));
  auto why = "the MPC party stopped: " + sys.render(caf::make_error(caf::exit_reason::user_shutdown));
  expect_sent(1, cancel(why));
  expect_sent(2, cancel(why));
  expect_counterparts_quiet();
  test::expect_quiet(sched);
  BOOST_CHECK_EQUAL(status().phase, "cancelled");
  BOOST_CHECK(!fs::exists(dir / "slots" / "persons.11111111111111111111111111111111.sealed"));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

/// CP 0 of a CT whose input persons has a data-quality check.
struct checks_fixture : fixture {
  checks_fixture() : fixture(true) {}
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(orchestrator_checks, checks_fixture)

BOOST_AUTO_TEST_CASE(a_failed_check_empties_the_slot_answers_the_custodian_and_the_task_goes_on) {
  to_input_phase();
  const std::string id = "66666666666666666666666666666666";
  upload_checked(id);
  verdict(id, false);
  expect((caf::error), from(orchestrator).to(client));
  BOOST_CHECK_EQUAL(slot("persons").state, "empty");
  BOOST_CHECK(!fs::exists(dir / "slots" / ("persons." + id + ".sealed")));
  auto st = status();
  BOOST_CHECK_EQUAL(st.phase, "input");
  bool told = false;
  for (const auto& e : st.events)
    told = told || (e.kind == "slot" && e.subject == "persons" && e.value.rfind("empty (its data-quality check failed;", 0) == 0);
  BOOST_CHECK(told);
  expect_counterparts_quiet();  // each CP learns the verdict from the engine: nothing to tell
  test::expect_quiet(sched);

  // Corrected data: passes, the custodian hears so, and the slot counts as filled.
  const std::string id2 = "77777777777777777777777777777777";
  upload_checked(id2);
  verdict(id2, true);
  expect((std::string), from(orchestrator).to(client).with("ready at every CP; its data-quality check passed"s));
  BOOST_CHECK_EQUAL(slot("persons").state, "ready");
  expect_counterparts_quiet();  // income is still missing
  upload("income", "88888888888888888888888888888888");
  to_calculation_votes();
  BOOST_REQUIRE(job.has_value());
  BOOST_CHECK(job->check_of.empty());
  BOOST_CHECK((job->checked == std::set<std::string>{"persons"}));  // not checked again
  BOOST_CHECK_EQUAL(job->inputs.size(), 2u);
  BOOST_CHECK_EQUAL(status().phase, "calculation");
}

BOOST_AUTO_TEST_CASE(no_upload_replaces_one_whose_check_has_not_answered_and_no_vote_comes_before_it) {
  to_input_phase();
  const std::string id = "99999999999999999999999999999999";
  upload_checked(id);
  upload("income", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  expect_counterparts_quiet();  // every input is sealed, but persons has not passed yet: no vote
  ask(begin_atom::value, grant("persons", "bb"));
  expect((begin_atom, authorized), from(_).to(orchestrator));
  expect((caf::error), from(orchestrator).to(client));
  BOOST_CHECK(slot("persons").state == "ready");
  verdict(id, true);
  expect((std::string), from(orchestrator).to(client).with("ready at every CP; its data-quality check passed"s));
  expect_sent(1, vote("calculation"));
  expect_sent(2, vote("calculation"));
}

BOOST_AUTO_TEST_CASE(checks_announced_by_a_cp_other_than_cp_0_are_ignored) {
  to_input_phase();
  from_peer(1, check("persons", "cccccccccccccccccccccccccccccccc"));
  from_peer(2, check("income", "dddddddddddddddddddddddddddddddd"));
  test::expect_quiet(sched);
  expect_counterparts_quiet();
  BOOST_CHECK(!job.has_value());
  BOOST_CHECK_EQUAL(status().phase, "input");
}

BOOST_AUTO_TEST_CASE(a_check_that_cannot_run_refuses_the_upload_at_every_cp) {
  to_input_phase();
  const std::string id = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
  upload_checked(id);
  inject((mpc_fail_atom, std::string),
         from(mpc).to(orchestrator).with(mpc_fail_atom::value, "cannot reach party 1"s));
  expect((caf::exit_msg), from(_).to(mpc));
  expect((caf::error), from(orchestrator).to(client));
  v1::PeerMessage failed;
  failed.set_kind(v1::PeerMessage::KIND_SLOT_FAILED);
  failed.set_slot("persons");
  failed.set_request_id(id);
  expect_sent(1, failed);
  expect_sent(2, failed);
  BOOST_CHECK_EQUAL(slot("persons").state, "empty");
  BOOST_CHECK_EQUAL(status().phase, "input");  // not cancelled
}

BOOST_AUTO_TEST_SUITE_END()
