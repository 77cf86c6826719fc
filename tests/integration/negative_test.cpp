#define BOOST_TEST_MODULE negative
#include <boost/test/unit_test.hpp>

// Negative twins on a real cluster: a malicious node (joconde-inject) attacks the root's link
// handshake, frames and envelope admission, and `openssl s_client` attacks its TLS listener. Each
// attack must be refused, counted in the root's metrics, logged, leave the cluster healthy and store
// nothing. One cluster is shared by every test case (a global fixture); every wait is bounded.

#include "negative_test_support.hpp"

using namespace joconde;
using namespace std::chrono_literals;
using namespace negative_test_support;

BOOST_TEST_GLOBAL_FIXTURE(global_environment);

BOOST_AUTO_TEST_SUITE(handshake)

// The control: the same harness and identity, honestly, is accepted (else every refusal below
// could be the harness's fault).
BOOST_AUTO_TEST_CASE(honest_handshake_is_accepted) {
  check_attack({"honest", "outcome: accepted", handshakes("ok"), 1,
                {"link to child " + rogue_fqdn + " is up"}});
}

BOOST_AUTO_TEST_CASE(proof_signed_with_another_key_is_refused) {
  check_attack({"forged-proof", "outcome: refused bad_signature ", handshakes("bad_signature"), 1,
                {"link.proof refused", reason("bad_signature"), "peer=\"" + rogue_fqdn + "\""}});
}

BOOST_AUTO_TEST_CASE(replayed_proof_is_refused) {
  check_attack({"replayed-proof", "outcome: refused replayed ", handshakes("replayed"), 1,
                {"link.proof refused", reason("replayed")}});
}

BOOST_AUTO_TEST_CASE(impersonating_another_child_with_its_public_chain_is_refused) {
  check_attack({"impersonate", "outcome: refused bad_signature ", handshakes("bad_signature"), 1,
                {"link.proof refused", reason("bad_signature"), "peer=\"cp2." + domain + "\""}});
}

BOOST_AUTO_TEST_CASE(hello_with_a_chain_from_another_root_is_refused) {
  check_attack({"foreign-hello", "outcome: refused untrusted_chain ", handshakes("untrusted_chain"), 1,
                {"link.hello refused", reason("untrusted_chain")}});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(envelopes)

BOOST_AUTO_TEST_CASE(random_bytes_are_refused) {
  check_attack({"env-malformed", "outcome: acked", rejected("malformed_input"), 1,
                {envelope_refused, reason("malformed_input")}});
}

BOOST_AUTO_TEST_CASE(truncated_envelope_is_refused) {
  check_attack({"env-truncated", "outcome: acked", rejected("malformed_input"), 1,
                {envelope_refused, reason("malformed_input")}});
}

BOOST_AUTO_TEST_CASE(oversized_envelope_is_refused) {
  check_attack({"env-oversized", "outcome: acked", rejected("too_large"), 1,
                {envelope_refused, reason("too_large")}});
}

BOOST_AUTO_TEST_CASE(unsigned_envelope_is_refused) {
  check_attack({"env-unsigned", "outcome: acked", rejected("bad_signature"), 1,
                {envelope_refused, reason("bad_signature"), "not signed"}});
}

BOOST_AUTO_TEST_CASE(envelope_signed_with_another_key_is_refused) {
  check_attack({"env-wrong-signature", "outcome: acked", rejected("bad_signature"), 1,
                {envelope_refused, reason("bad_signature"), "does not verify"}});
}

BOOST_AUTO_TEST_CASE(envelope_from_outside_the_senders_subtree_is_refused) {
  check_attack({"env-foreign-origin", "outcome: acked", rejected("forbidden"), 1,
                {envelope_refused, reason("forbidden"), "cp2." + domain}});
}

// Valid and signed, but against the access policy: a rotation request may go to the origin's
// parent only, and this one is addressed to the root and cp1.
BOOST_AUTO_TEST_CASE(envelope_against_the_access_policy_is_refused) {
  auto& e = *env;
  auto denials_before = e.c.metric("root", "joconde_policy_denials_total{rule=\"pki.rotation-request\"}");
  check_attack({"env-policy", "outcome: acked", rejected("forbidden"), 1,
                {envelope_refused, reason("forbidden"), "rule=\"pki.rotation-request\""}});
  BOOST_CHECK_EQUAL(e.c.metric("root", "joconde_policy_denials_total{rule=\"pki.rotation-request\"}"),
                    denials_before + 1);
  BOOST_CHECK_EQUAL(e.inbox_count("cp1", "pki.rotation.request"), 0u);
}

BOOST_AUTO_TEST_CASE(frame_with_a_bad_mac_is_refused_and_not_acknowledged) {
  check_attack({"frame-bad-mac", "outcome: no-ack", rejected("bad_mac"), 1,
                {"link.frame refused", reason("bad_mac"), "peer=\"" + rogue_fqdn + "\""}});
}

BOOST_AUTO_TEST_CASE(replayed_frame_is_refused_and_not_acknowledged) {
  check_attack({"frame-replayed", "outcome: no-ack", rejected("replayed"), 1,
                {"link.frame refused", reason("replayed"), "peer=\"" + rogue_fqdn + "\""}});
}

BOOST_AUTO_TEST_CASE(duplicate_envelope_is_dropped) {
  auto& e = *env;
  auto topic = "inject.env-duplicate";
  auto root_before = e.inbox_count("root", topic);
  auto cp1_before = e.inbox_count("cp1", topic);
  // The original is admitted and delivered once (routed in +1); the copy is dropped and audited.
  check_attack({"env-duplicate", "outcome: acked", "joconde_envelopes_duplicate_total", 1,
                {"topic=\"inject.env-duplicate\"", "decision=\"duplicate\""}, true, 1});
  BOOST_CHECK_EQUAL(e.inbox_count("root", topic), root_before + 1);
  BOOST_CHECK(test::cluster::wait_until([&] { return e.inbox_count("cp1", topic) == cp1_before + 1; },
                                        10s));
  BOOST_CHECK_EQUAL(test::count_lines_with_all(e.root_audit(), {"topic=\"inject.env-duplicate\"", "decision=\"delivered"}),
                    root_before + 1);
}

// Signed as one batch, the intact first envelope is admitted and its signature remembered; the
// second, changed after signing, must not ride on that memory.
BOOST_AUTO_TEST_CASE(a_tampered_member_of_a_signed_batch_is_refused_after_its_intact_sibling) {
  auto& e = *env;
  auto topic = "inject.env-batch-tampered";
  auto root_before = e.inbox_count("root", topic);
  auto cp1_before = e.inbox_count("cp1", topic);
  check_attack({"env-batch-tampered", "outcome: acked", rejected("bad_signature"), 1,
                {envelope_refused, reason("bad_signature"), "batch signature"}, false, 1});
  BOOST_CHECK_EQUAL(e.inbox_count("root", topic), root_before + 1);
  BOOST_CHECK(test::cluster::wait_until([&] { return e.inbox_count("cp1", topic) == cp1_before + 1; },
                                        10s));
}

// Everything refused above left no trace in an inbox; only the original of the duplicate and the
// intact half of the tampered batch arrived.
BOOST_AUTO_TEST_CASE(nothing_refused_was_stored) {
  auto& e = *env;
  for (const auto* node : {"root", "cp1"}) {
    auto entries = e.injected_entries(node);
    for (const auto& [topic, n] : entries)
      BOOST_CHECK_MESSAGE((topic == "inject.env-duplicate" || topic == "inject.env-batch-tampered")
                            && n <= 1,
                          node << " stored " << n << " envelope(s) of " << topic);
  }
  BOOST_CHECK_EQUAL(e.c.ops("status"), 0);
}

BOOST_AUTO_TEST_SUITE_END()

// TLS-level twins: refused by OpenSSL inside CAF before joconde's code runs, so no joconde metric
// counts them; the refusal is read from s_client's output and the node must stay healthy.
BOOST_AUTO_TEST_SUITE(tls)

namespace {

/// PEM files of a client certificate (leaf, its chain, encrypted key, pass phrase), mode 0600.
struct client_files {
  fs::path cert, chain, key, pass;

  std::string args() const {
    return "-cert " + shell_quote(cert.string()) + " -cert_chain " + shell_quote(chain.string())
           + " -key " + shell_quote(key.string()) + " -pass file:" + shell_quote(pass.string());
  }
};

client_files write_client(const std::string& name, const crypto::certificate& leaf,
                          const std::vector<crypto::certificate>& chain,
                          const crypto::private_key& key) {
  auto dir = env->tmp / name;
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all);
  auto pass = crypto::hex(crypto::random_bytes(16));
  client_files f{dir / "cert.pem", dir / "chain.pem", dir / "key.pem", dir / "passphrase"};
  std::string chain_pem;
  for (const auto& c : chain)
    chain_pem += c.to_pem();
  write_secret_file(f.cert, leaf.to_pem());
  write_secret_file(f.chain, chain_pem);
  write_secret_file(f.key, must(key.to_encrypted_pem(pass), "encrypting a key"));
  write_secret_file(f.pass, pass + "\n");
  return f;
}

std::string rogue_client_args() {
  auto r = env->rogue;
  return "-cert " + shell_quote((r / "node-chain.pem").string()) + " -cert_chain "
         + shell_quote((r / "node-chain.pem").string()) + " -key "
         + shell_quote((r / "node.key").string()) + " -pass file:"
         + shell_quote((r / "passphrase").string());
}

std::string ca_args() {
  return "-CAfile " + shell_quote((env->rogue / "root-ca.pem").string());
}

std::string tls_refused(const std::string& reason) {
  return "joconde_tls_refused_total{direction=\"in\",reason=\"" + reason + "\"}";
}

/// What the root must show before an s_client attack, to compare with afterwards.
struct tls_baseline {
  size_t drops;
  double refused;
  size_t log_lines;
};

tls_baseline tls_before(const std::string& reason) {
  return {env->link_drops(), env->c.metric("root", tls_refused(reason)),
          test::count_lines_with_all(env->root_log(), {"TLS handshake from 127.0.0.1:", "reason=\"" + reason + "\""})};
}

/// s_client saw the alert; the root counted the refusal once under `reason`, logged it and stayed
/// healthy.
void check_refused(const std::string& what, const std::string& out, const std::string& alert,
                   const std::string& reason, const tls_baseline& before) {
  BOOST_TEST_MESSAGE(what << ": " << (out.find(alert) != std::string::npos ? alert : "?"));
  BOOST_CHECK_MESSAGE(out.find("CONNECTED") != std::string::npos,
                      what << ": s_client did not reach the port: " << out);
  BOOST_CHECK_MESSAGE(out.find(alert) != std::string::npos,
                      what << ": no \"" << alert << "\" in: " << out);
  BOOST_CHECK_MESSAGE(test::cluster::wait_until(
                        [&] { return env->c.metric("root", tls_refused(reason)) >= before.refused + 1; },
                        5s),
                      what << ": " << tls_refused(reason) << " did not rise from " << before.refused);
  BOOST_CHECK_EQUAL(env->c.metric("root", tls_refused(reason)), before.refused + 1);
  BOOST_CHECK_MESSAGE(test::count_lines_with_all(env->root_log(), {"TLS handshake from 127.0.0.1:",
                                                    "reason=\"" + reason + "\""})
                        > before.log_lines,
                      what << ": the root logged no refusal with reason " << reason);
  env->check_healthy(before.drops, what);
}

} // namespace

// The control: s_client with a valid certificate over TLS 1.3 completes the handshake and gets no
// alert, so the refusals below are the node's doing.
BOOST_AUTO_TEST_CASE(tls13_with_a_valid_certificate_is_accepted) {
  auto drops = env->link_drops();
  auto out = env->s_client("-tls1_3 " + rogue_client_args() + " " + ca_args());
  BOOST_CHECK_MESSAGE(out.find("New, TLSv1.3, Cipher is ") != std::string::npos, out);
  BOOST_CHECK_MESSAGE(out.find("alert") == std::string::npos, out);
  env->check_healthy(drops, "TLS 1.3 with a valid certificate");
}

BOOST_AUTO_TEST_CASE(tls12_is_refused) {
  auto before = tls_before("protocol_version");
  auto out = env->s_client("-tls1_2 " + rogue_client_args() + " " + ca_args());
  check_refused("TLS 1.2", out, "alert protocol version", "protocol_version", before);
  BOOST_CHECK_MESSAGE(out.find("Cipher is (NONE)") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(tls13_without_a_client_certificate_is_refused) {
  auto before = tls_before("no_certificate");
  auto out = env->s_client("-tls1_3 " + ca_args());
  check_refused("no client certificate", out, "alert certificate required", "no_certificate", before);
}

BOOST_AUTO_TEST_CASE(anonymous_ciphers_are_refused) {
  // Anonymous suites exist only below TLS 1.3.
  auto before = tls_before("protocol_version");
  auto out = env->s_client("-no_tls1_3 -cipher 'aNULL:@SECLEVEL=0' " + ca_args());
  check_refused("anonymous ciphers", out, "alert protocol version", "protocol_version", before);
  BOOST_CHECK_MESSAGE(out.find("Cipher is (NONE)") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(client_certificate_from_another_root_is_refused) {
  // Same domain and a well-formed tree, but under a root CA of its own.
  test::test_pki foreign{domain};
  auto& node = foreign.add("rogue", domain, 24h);
  auto files = write_client("foreign", node.chain.front(), node.chain, node.key);
  auto before = tls_before("untrusted_chain");
  auto out = env->s_client("-tls1_3 " + files.args() + " " + ca_args());
  check_refused("another root", out, "alert unknown ca", "untrusted_chain", before);
}

BOOST_AUTO_TEST_CASE(expired_client_certificate_is_refused) {
  // Issued at run time under the root node's key: valid chain, but expired a day ago.
  auto root_dir = env->c.data_dir("root");
  auto pass = must(pki::read_secret(root_dir / "passphrase"), "root pass phrase");
  auto root_key = must(crypto::private_key::from_pem(must(pki::read_file(root_dir / "node.key"), "root key"),
                                                     pass),
                       "root key");
  auto root_chain = must(crypto::certificate::chain_from_pem(
                           must(pki::read_file(root_dir / "node-chain.pem"), "root chain")),
                         "root chain");
  auto key = must(crypto::private_key::generate(), "key");
  crypto::issue_profile profile;
  profile.is_ca = false;
  profile.not_before = std::chrono::system_clock::now() - 48h;
  profile.validity = 1h;
  auto leaf = must(crypto::issue({"expired", "Rogue", "", "it@rogue.example"}, {"expired." + domain},
                                 key.public_key(), &root_chain.front(), root_key, profile),
                   "expired leaf");
  BOOST_REQUIRE(leaf.not_after() < std::chrono::system_clock::now());
  std::vector<crypto::certificate> chain{leaf};
  chain.insert(chain.end(), root_chain.begin(), root_chain.end());
  auto files = write_client("expired", leaf, chain, key);
  auto before = tls_before("certificate_expired");
  auto out = env->s_client("-tls1_3 " + files.args() + " " + ca_args());
  check_refused("expired certificate", out, "alert certificate expired", "certificate_expired",
                before);
}

// CAF 0.17.6's OpenSSL session never clears the thread's OpenSSL error queue: a refused TLS
// handshake leaves its error there, and the next SSL_read that merely wants more data on any other
// connection of the root's multiplexer would be taken for a fatal error, closing that link. The
// guard in runtime/include/joconde/runtime/tls_error_queue.hpp clears it; without the guard this
// test saw dozens of link drops. Unauthenticated TLS 1.2 probes while envelopes flow: no drop.
BOOST_AUTO_TEST_CASE(unauthenticated_tls12_probes_do_not_drop_active_links) {
  auto& e = *env;
  auto drops_before = e.link_drops();
  auto refused_before = e.c.metric("root", tls_refused("protocol_version"));
  std::atomic<bool> stop{false};
  std::thread publisher{[&] {
    // client-a -> cp1 through the root, 5 x 200 kB per batch; bounded in count and time.
    for (int i = 0; i < 300 && !stop; ++i) {
      e.c.call("client-a", "POST", "/v1/envelopes",
               nlohmann::json{{"topic", "traffic.probe"}, {"recipients", {"cp1"}},
                              {"payload", std::string(200000, 'y')}, {"count", 5}});
      std::this_thread::sleep_for(50ms);
    }
  }};
  std::this_thread::sleep_for(1s);
  for (int i = 0; i < 20; ++i) {
    auto [rc, out] = run("timeout 5 openssl s_client -connect " + e.root_listen
                           + " -tls1_2 < /dev/null > /dev/null 2>&1",
                         e.tmp / "probe.err");
    std::this_thread::sleep_for(300ms);
  }
  stop = true;
  publisher.join();
  auto drops = e.link_drops() - drops_before;
  BOOST_CHECK_MESSAGE(drops == 0, drops << " link(s) of the root dropped while unauthenticated "
                                           "TLS 1.2 probes were refused");
  BOOST_CHECK(test::cluster::wait_until([&] { return e.c.ops("status") == 0; }, 15s));
  BOOST_CHECK_EQUAL(e.c.metric("root", tls_refused("protocol_version")), refused_before + 20);
}

BOOST_AUTO_TEST_SUITE_END()

// -- campaigns (issue 14): many mutated messages of every link type and of the HTTP API at the
// root; nothing crashes, nothing in its stores changes, every link stays up. Last in this file: its
// refusals are logged rate-limited, which would hide the log lines the single attacks above look for.

BOOST_AUTO_TEST_SUITE(campaigns)

namespace {

/// Runs a joconde-inject campaign at the root; {exit code, its JSON lines}.
std::pair<int, std::vector<nlohmann::json>> campaign(const std::string& types, int count, bool control = false) {
  auto& e = *env;
  auto root = e.c.node("root");
  auto cmd = "timeout " + std::to_string(600 + count / 20) + " " + shell_quote(e.inject_bin) + " --campaign " + types + " --count "
             + std::to_string(count) + " --identity " + shell_quote(e.rogue.string()) + " --target "
             + e.root_listen + " --pid " + std::to_string(root["pid"].get<int>()) + " --api-url "
             + root["http_url"].get<std::string>() + " --ca-file "
             + shell_quote(root["root_ca"].get<std::string>()) + " --token-file "
             + shell_quote(root["admin_token_file"].get<std::string>()) + " --metrics-url "
             + root["metrics_url"].get<std::string>() + (control ? " --control yes" : "");
  auto [rc, out] = run(cmd, e.tmp / "campaign.err");
  std::vector<nlohmann::json> lines;
  std::istringstream in{out};
  for (std::string line; std::getline(in, line);)
    if (auto doc = nlohmann::json::parse(line, nullptr, false); doc.is_object())
      lines.push_back(doc);
  BOOST_TEST_MESSAGE("campaign " << types << ": " << out << read_all(e.tmp / "campaign.err"));
  return {rc, lines};
}

} // namespace

/// Messages per type: 150 in CI, JOCONDE_CAMPAIGN_COUNT for a full-size run.
int campaign_count() {
  const char* n = std::getenv("JOCONDE_CAMPAIGN_COUNT");
  return n != nullptr && std::atoi(n) > 0 ? std::atoi(n) : 150;
}

BOOST_AUTO_TEST_CASE(mutated_link_messages_and_api_requests_change_nothing) {
  auto& e = *env;
  auto drops_before = e.link_drops();
  auto count = campaign_count();
  auto [rc, lines] = campaign("link-hello,link-proof,link-frame,envelope,replay,http", count);
  BOOST_CHECK_EQUAL(rc, 0);
  BOOST_REQUIRE_EQUAL(lines.size(), 7u);
  for (size_t i = 0; i < 6; ++i)
    BOOST_TEST_CONTEXT("type " << lines[i].value("type", "?")) {
      BOOST_CHECK_EQUAL(lines[i].value("sent", 0), count);
      BOOST_CHECK(!lines[i].value("crashed", true));
      BOOST_CHECK(!lines[i].value("state_changed", true));
      BOOST_CHECK(!lines[i].contains("harness_failure"));
    }
  // The root counted what it refused: handshakes, frames and envelopes by reason, HTTP requests.
  auto counted = [&](size_t i) { return lines[i]["counted_by_target"].dump(); };
  BOOST_CHECK_MESSAGE(counted(0).find("joconde_handshakes_total") != std::string::npos, counted(0));
  BOOST_CHECK_MESSAGE(counted(2).find("joconde_envelopes_rejected_total") != std::string::npos, counted(2));
  BOOST_CHECK_MESSAGE(counted(3).find("joconde_envelopes_rejected_total") != std::string::npos, counted(3));
  auto http_answers = lines[5]["answers"].dump();
  BOOST_CHECK_MESSAGE(http_answers.find("http-4") != std::string::npos, http_answers);
  BOOST_CHECK(lines[6].value("crashes", 1) == 0);
  e.check_healthy(drops_before, "the campaign");
}

BOOST_AUTO_TEST_CASE(the_control_campaign_of_valid_envelopes_is_seen_changing_the_state) {
  // The twin: the same harness sending valid envelopes sees the root's inbox grow (exit 3).
  auto [rc, lines] = campaign("envelope", 5, true);
  BOOST_CHECK_EQUAL(rc, 3);
  BOOST_REQUIRE_GE(lines.size(), 1u);
  BOOST_CHECK(lines[0].value("state_changed", false));
  BOOST_CHECK(!lines[0].value("crashed", true));
}

BOOST_AUTO_TEST_SUITE_END()
