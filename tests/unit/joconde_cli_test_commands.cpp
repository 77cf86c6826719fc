// The `joconde` commands that create agreements and send files (part of the joconde_cli test
// program).
#include <boost/test/unit_test.hpp>

#include "joconde_cli_test_support.hpp"

using namespace joconde;
using namespace joconde_cli_test_support;

BOOST_FIXTURE_TEST_SUITE(joconde_cli, fixture)

BOOST_AUTO_TEST_CASE(cta_create_prints_the_uuid_alone) {
  const std::string task =
    R"({"title": "Price index", "parties": ["client-a", "client-b"], "tee_measurements": []})";
  auto file = write("task.json", task);
  auto r = joconde_run(with_url({"cta", "create", file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "0b6c2a4e-1111-4222-8333-944455556666\n");
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.last_body(), task);
  r = joconde_run(with_url({"cta", "create", file.string(), "--json"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, R"({"ctsc_sha256":"ab12","status":"draft",)"
                           R"("uuid":"0b6c2a4e-1111-4222-8333-944455556666"})"
                           "\n");
  // Refused as invalid by the node: 400 and 409 are exit code 6, the node's error on stderr.
  r = joconde_run(with_url(
    {"cta", "create", write("untitled.json", R"({"parties": [], "tee_measurements": []})").string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK_EQUAL(r.out, "");
  BOOST_CHECK_EQUAL(r.err, "joconde: malformed_input: the task has no title\n");
  r = joconde_run(with_url(
    {"cta", "create", write("dup.json", R"({"title": "conflict", "tee_measurements": []})").string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK_EQUAL(r.err, "joconde: already_exists: a CTA with this title exists\n");
}

BOOST_AUTO_TEST_CASE(cta_create_fills_in_the_nodes_ct_vm_measurement) {
  const std::string task = R"({"title": "Price index", "parties": ["client-a", "client-b"]})";
  auto file = write("task-no-tee.json", task);
  auto before = node.requests();
  auto r = joconde_run(with_url({"cta", "create", file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "0b6c2a4e-1111-4222-8333-944455556666\n");
  BOOST_CHECK_EQUAL(r.err, std::string{"tee_measurements: simulated joconde-vm measurement "}
                             + fake_node::tee_measurement + " from client-a.joconde.test\n");
  BOOST_CHECK_EQUAL(node.requests(), before + 2);
  auto sent = json::parse(node.last_body());
  auto expected = json::parse(task);
  auto raw = crypto::from_hex(fake_node::tee_measurement).value();
  expected["tee_measurements"] = json::array({{{"platform", "simulated"}, {"image", "joconde-vm 0.1.0"},
                                               {"measurement", crypto::to_base64(raw)}}});
  BOOST_CHECK_EQUAL(sent, expected);
  // Stated in the task: sent as it is, nobody asked.
  before = node.requests();
  auto stated = write("task-tee.json", R"({"title": "t", "tee_measurements": [{"platform": "sev-snp"}]})");
  r = joconde_run(with_url({"cta", "create", stated.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.requests(), before + 1);
  BOOST_CHECK_EQUAL(json::parse(node.last_body())["tee_measurements"][0]["platform"], "sev-snp");
  // The node cannot tell: nothing is created, the error says what to do.
  node.tee_broken = true;
  before = node.requests();
  r = joconde_run(with_url({"cta", "create", file.string()}));
  node.tee_broken = false;
  BOOST_CHECK_EQUAL(r.rc, cli::exit_server);
  BOOST_CHECK_EQUAL(r.out, "");
  BOOST_CHECK(r.err.find("io_error: tee.vm-binary") != std::string::npos);
  BOOST_CHECK(r.err.find("give \"tee_measurements\" in the task file") != std::string::npos);
  BOOST_CHECK_EQUAL(node.requests(), before + 1);
  // Not even the measurement request without a valid token.
  r = joconde_run(with_url({"cta", "create", file.string()}, bad_token));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_denied);
}

BOOST_AUTO_TEST_CASE(cta_watch_follows_a_ct_until_it_ends) {
  auto r = joconde_run(with_url({"cta", "watch", "watched"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "CTA watched: instantiated\n"
                           "vm cp1: client 127.0.0.1:4100, peer 127.0.0.1:4200, mpc 127.0.0.1:4300 (joconde-simulated)\n"
                           "vm cp2: client 127.0.0.1:4101, peer 127.0.0.1:4201, mpc 127.0.0.1:4301 (joconde-simulated)\n"
                           "12:00:00.123 cp1 vm started\n"
                           "12:00:01.004 cp2 phase input agreed \\x1b[2J\n"
                           "12:00:02.050 cp1 erased finished exit status 0\n"
                           "CTA watched: finished\n");
  BOOST_CHECK_EQUAL(r.err, "");
  // Awaiting another end than the one that came: exit 9.
  r = joconde_run(with_url({"cta", "watch", "doomed", "--until", "finished"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_watch_other_end);
  BOOST_CHECK_EQUAL(r.out, "CTA doomed: instantiated\nCTA doomed: cancelled (budget withdrawn)\n");
  BOOST_CHECK(r.err.find("it will not be finished") != std::string::npos);
  // A CT that does not end in time: exit 8 after the time limit, with --json the last document.
  auto started = std::chrono::steady_clock::now();
  r = joconde_run(with_url({"cta", "watch", "stuck", "--timeout", "1.2", "--json"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_watch_timeout);
  BOOST_CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{5});
  BOOST_CHECK_EQUAL(json::parse(r.out)["status"], "instantiated");
  BOOST_CHECK(r.err.find("timeout: CTA stuck is still instantiated") != std::string::npos);
  // Unknown here: 404 is exit 5; a bad --until is a usage error and sends nothing.
  BOOST_CHECK_EQUAL(joconde_run(with_url({"cta", "watch", "nothing"})).rc, cli::exit_not_found);
  auto before = node.requests();
  r = joconde_run(with_url({"cta", "watch", "watched", "--until", "done"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("--until wants finished, cancelled or erased") != std::string::npos);
  BOOST_CHECK_EQUAL(joconde_run(with_url({"cta", "show", "c0ffee", "--until", "finished"})).rc,
                    cli::exit_usage);
  BOOST_CHECK_EQUAL(node.requests(), before);
  BOOST_CHECK(cli::usage().find("\n  cta watch UUID") != std::string::npos);
  BOOST_CHECK(cli::usage().find("8  cta watch") != std::string::npos);
  BOOST_CHECK(cli::usage("cta watch").rfind("usage: joconde cta watch UUID", 0) == 0);
}

BOOST_AUTO_TEST_CASE(sql_check_compiles_the_task_here_and_cta_create_states_its_disclosures) {
  std::ifstream in{std::string{JOCONDE_SOURCE_DIR} + "/config/examples/task.json"};
  std::stringstream buf;
  buf << in.rdbuf();
  auto doc = json::parse(buf.str());
  doc["main_algorithm"].erase("disclosures");
  auto good = write("task-good.json", doc.dump());
  const auto before = node.requests();
  auto r = joconde_run({"sql", "check", good.string()});  // no node needed
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK(r.out.find("compiles for rss3") != std::string::npos);
  BOOST_CHECK(r.out.find("union") != std::string::npos);
  BOOST_CHECK(r.out.find("are known to the Computing Parties") != std::string::npos);
  r = joconde_run({"sql", "check", good.string(), "--json"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  auto report = json::parse(r.out);
  BOOST_CHECK_EQUAL(report["engine"], "rss3");
  BOOST_CHECK_EQUAL(report["disclosures"].size(), 2u);  // the row counts; the groups without rows
  BOOST_CHECK(report["approximate"].is_array() && report["approximate"].empty());  // every value exact
  BOOST_CHECK_EQUAL(node.requests(), before);

  // cta create sends the task with the compiler's disclosures in it.
  r = joconde_run(with_url({"cta", "create", good.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  auto sent = json::parse(node.last_body());
  BOOST_CHECK(sent["main_algorithm"]["disclosures"] == report["disclosures"]);

  // A broken algorithm: the place and the reason, exit code 6, nothing sent.
  doc["main_algorithm"]["source"] = "INSERT INTO turnover_by_region\nSELECT regio FROM a_enterprises;";
  auto bad = write("task-bad.json", doc.dump());
  const auto sent_before = node.requests();
  r = joconde_run({"sql", "check", bad.string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK(r.err.find("compile_error: main algorithm: 2:8: unknown column `regio`")
              != std::string::npos);
  r = joconde_run(with_url({"cta", "create", bad.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK(r.err.find("2:8:") != std::string::npos);
  BOOST_CHECK_EQUAL(node.requests(), sent_before);

  // Garbage task files: not JSON (exit 2), JSON that is not a CTSC or names no known engine
  // (exit 6); nothing is sent.
  r = joconde_run({"sql", "check", write("task-garbage.json", "{\"title\": ").string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  r = joconde_run({"sql", "check", write("task-other.json", R"({"colour": "blue"})").string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK(r.err.find("malformed_input: the task file is not a CTSC") != std::string::npos);
  r = joconde_run({"sql", "check", write("task-noengine.json", R"({"title": "t"})").string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK(r.err.find("unsupported") != std::string::npos);
  r = joconde_run({"sql", "check"});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK_EQUAL(node.requests(), sent_before);

  // Without declared ranges the SUM could overflow: the compiler says which RANGE to declare.
  doc["main_algorithm"]["source"] = json::parse(buf.str())["main_algorithm"]["source"];
  doc["inputs"][0]["schema"][1].erase("max");
  r = joconde_run({"sql", "check", write("task-unbounded.json", doc.dump()).string()});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK(r.err.find("RANGE") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_readable_task_is_checked_shown_and_sent_as_its_ctsc) {
  const auto before = node.requests();
  // task init writes the template once; it compiles as it is and task show prints its CTSC.
  const auto file = (dir / "task.toml").string();
  auto r = joconde_run({"task", "init", file});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK(r.err.find("wrote " + file) != std::string::npos);
  r = joconde_run({"task", "init", file});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("File exists") != std::string::npos);
  r = joconde_run({"sql", "check", file});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK(r.out.find("compiles for rss3") != std::string::npos);
  BOOST_CHECK(r.out.find("reads as a CTSC of 2 input(s), 1 output(s) and 2 peer(s)") != std::string::npos);
  r = joconde_run({"task", "show", file});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  auto shown = json::parse(r.out);
  BOOST_CHECK_EQUAL(shown["peers"][1]["role"], "PEER_ROLE_INPUT_OUTPUT");
  BOOST_CHECK_EQUAL(shown["inputs"][0]["schema"][1]["max"], "1000000000.00");
  BOOST_CHECK_EQUAL(shown["main_algorithm"]["disclosures"].size(), 2u);
  BOOST_CHECK_EQUAL(node.requests(), before);

  // cta create sends that CTSC as JSON and says when the deadlines fall.
  r = joconde_run(with_url({"cta", "create", file}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK(r.err.find(file + ": deadlines approval 20") != std::string::npos);
  auto sent = json::parse(node.last_body());
  BOOST_CHECK_EQUAL(sent["title"], shown["title"]);
  BOOST_CHECK(sent["inputs"] == shown["inputs"]);
  BOOST_CHECK(sent["main_algorithm"]["disclosures"] == shown["main_algorithm"]["disclosures"]);

  // A mistake in the file: its line, column and field; exit 2; nothing sent. A broken algorithm:
  // exit 6, told in the file's lines.
  const auto after_create = node.requests();
  std::ifstream in{file};
  std::stringstream buf;
  buf << in.rdbuf();
  auto text = buf.str();
  auto bad = text;
  bad.replace(bad.find("approval = \"P14D\""), 17, "approval = \"P1M\"");
  const auto bad_file = write("bad.toml", bad).string();
  for (auto words : {std::vector<std::string>{"sql", "check", bad_file}, {"task", "show", bad_file},
                     with_url({"cta", "create", bad_file})}) {
    r = joconde_run(words);
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK_MESSAGE(r.err.find(bad_file + ":23:12: `approval`: 'P1M': years and months") != std::string::npos,
                        r.err);
  }
  auto broken = text;
  broken.replace(broken.find("SELECT region,"), 14, "SELECT regio,");
  const auto broken_file = write("broken.toml", broken).string();
  r = joconde_run(with_url({"cta", "create", broken_file}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  const auto line = std::count(broken.begin(), broken.begin() + static_cast<std::ptrdiff_t>(broken.find("SELECT regio,")),
                               '\n') + 1;
  BOOST_CHECK_MESSAGE(r.err.find("main algorithm: " + broken_file + ":" + std::to_string(line)
                                 + ":8: unknown column `regio`") != std::string::npos,
                      r.err);
  BOOST_CHECK_EQUAL(node.requests(), after_create);

  // The readable CTSA: ctsa init's template goes as the CTSA's JSON.
  const auto ctsa = (dir / "ctsa.toml").string();
  BOOST_CHECK_EQUAL(joconde_run({"ctsa", "init", ctsa}).rc, cli::exit_ok);
  r = joconde_run(with_url({"ctsa", "submit", "c0ffee", ctsa}));
  BOOST_CHECK_MESSAGE(r.rc == cli::exit_ok, r.err);
  BOOST_CHECK_EQUAL(json::parse(node.last_body()), (json{{"signatories", {{{"name", "Director of the office"}}}}}));
  const auto after_ctsa = node.requests();
  r = joconde_run(with_url({"ctsa", "submit", "c0ffee", write("bad-ctsa.toml", "[[signatory]]\nnam = 1").string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK(r.err.find("bad-ctsa.toml:2:1: unknown field `nam` in [[signatory]]") != std::string::npos);
  BOOST_CHECK_EQUAL(node.requests(), after_ctsa);
}

BOOST_AUTO_TEST_CASE(a_bad_task_file_is_refused_before_any_request) {
  fs::create_directories(dir / "a-directory");
  const auto before = node.requests();
  for (const auto& file : {(dir / "missing.json").string(),
                           write("broken.json", "{\"title\": ").string(),
                           write("array.json", "[1, 2]").string(), write("empty.json", "").string(),
                           (dir / "a-directory").string()}) {
    auto r = joconde_run(with_url({"cta", "create", file}));
    BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
    BOOST_CHECK_EQUAL(r.out, "");
    BOOST_CHECK_MESSAGE(r.err.find("task file") != std::string::npos, r.err);
  }
  // Also when the node is unreachable: the file is checked first.
  auto r = joconde_run({"cta", "create", (dir / "missing.json").string(), "--url", unreachable,
                        "--token", good_token});
  BOOST_CHECK_EQUAL(r.rc, cli::exit_usage);
  BOOST_CHECK_EQUAL(node.requests(), before);
}

BOOST_AUTO_TEST_CASE(ctsa_submit_sends_the_file_and_prints_the_hash_alone) {
  const std::string ctsa = R"({"version": 1, "signatories": [{"name": "Ann"}]})";
  auto file = write("ctsa.json", ctsa);
  auto r = joconde_run(with_url({"ctsa", "submit", "c0ffee", file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, std::string{fake_node::ctsa_sha256} + "\n");
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.last_body(), ctsa);
  r = joconde_run(with_url({"ctsa", "submit", "c0ffee", file.string(), "--json"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, R"({"ctsa_sha256":")" + std::string{fake_node::ctsa_sha256}
                             + R"(","status":"emerging","updates":4,"uuid":"c0ffee"})" + "\n");
  // The node's refusals keep their exit codes; the UUID stays one path segment.
  const auto old = write("old.json", R"({"version": 0})").string();
  r = joconde_run(with_url({"ctsa", "submit", "c0ffee", old}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK_EQUAL(r.out, "");
  BOOST_CHECK_EQUAL(r.err, "joconde: replayed: version 0 is not newer than version 1\n");
  r = joconde_run(with_url({"ctsa", "submit", "../whoami", file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_not_found);
  BOOST_CHECK_EQUAL(r.err, "joconde: not_found: no CTA ../whoami\n");
  // An answer without the hash is a server error, not an empty line.
  BOOST_CHECK(!cli::render_ctsa_submitted(json{{"uuid", "c0ffee"}}).ok());
}

BOOST_AUTO_TEST_CASE(cta_sign_sends_the_document_in_base64) {
  // A small binary file: a PNG signature, a NUL and bytes that are not UTF-8.
  const std::string png{"\x89PNG\r\n\x1a\n\x00\xff\xfe", 11};
  auto file = write("id-scan.PNG", png);
  auto r = joconde_run(with_url({"cta", "sign", "c0ffee", "--signatory", "2", "--document",
                                 file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "signatory 2 of client-a.joconde.test signed CTSA "
                             + std::string{fake_node::ctsa_sha256} + "\n");
  BOOST_CHECK_EQUAL(r.err, "");
  BOOST_CHECK_EQUAL(node.last_body(), R"({"document":{"data":"iVBORw0KGgoA//4=",)"
                                      R"("media_type":"image/png","name":"id-scan.PNG"},)"
                                      R"("signatory":2})");
  // --media-type wins over the extension; --key=value works too; an empty file is a document.
  r = joconde_run(with_url({"cta", "sign", "c0ffee", "--signatory=0", "--media-type",
                            "application/vnd.etsi.asic-e+zip",
                            "--document=" + write("signed", "").string(), "--json"}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(json::parse(node.last_body()),
                    (json{{"signatory", 0},
                          {"document", {{"name", "signed"},
                                        {"media_type", "application/vnd.etsi.asic-e+zip"},
                                        {"data", ""}}}}));
  BOOST_CHECK_EQUAL(r.out, R"({"ctsa_sha256":")" + std::string{fake_node::ctsa_sha256}
                             + R"(","peer":"client-a.joconde.test","signatory":0,)"
                               R"("status":"emerging","uuid":"c0ffee"})" + "\n");
  // An index the CTSA does not have: the node refuses it.
  r = joconde_run(with_url({"cta", "sign", "c0ffee", "--signatory", "7", "--document",
                            file.string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_invalid);
  BOOST_CHECK_EQUAL(r.err, "joconde: malformed_input: the CTSA has 3 signatories\n");
  BOOST_CHECK(
    !cli::render_signature(json{{"peer", "p"}, {"ctsa_sha256", "ab"}, {"signatory", -1}}).ok());
  BOOST_CHECK(!cli::render_signature(json{{"peer", "p"}, {"signatory", 1}}).ok());
}

BOOST_AUTO_TEST_CASE(media_types_follow_the_extension) {
  const std::vector<std::pair<std::string, std::string>> cases{
    {"agreement.pdf", "application/pdf"},
    {"dir.d/AGREEMENT.PDF", "application/pdf"},
    {"signed.asice", "application/vnd.etsi.asic-e+zip"},
    {"signed.sce", "application/vnd.etsi.asic-e+zip"},
    {"scan.png", "image/png"},
    {"scan.jpg", "image/jpeg"},
    {"scan.JPEG", "image/jpeg"},
    {"note.txt", "text/plain"},
    {"archive.zip", "application/octet-stream"},
    {"pdf", "application/octet-stream"},
    {".pdf", "application/octet-stream"}, // a hidden file named ".pdf" has no extension
    {"scan.png.gz", "application/octet-stream"},
  };
  for (const auto& [name, type] : cases)
    BOOST_CHECK_MESSAGE(cli::media_type_for(name) == type,
                        name + " -> " + cli::media_type_for(name));
}

BOOST_AUTO_TEST_CASE(pak_create_keeps_the_private_key_and_registers_the_public_one) {
  auto dir = std::filesystem::temp_directory_path() / ("joconde-pak-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream{dir / "pass"} << "a long enough pass phrase\n";
  auto key = (dir / "dc.key").string();
  auto r = joconde_run(with_url({"pak", "create", "c0ffee", "--input", "a_enterprises", "--name", "Cleo",
                                 "--out", key, "--passphrase-file", (dir / "pass").string()}));
  BOOST_CHECK_EQUAL(r.rc, cli::exit_ok);
  BOOST_CHECK_EQUAL(r.out, "ab12\n");
  // The private key is on disk, encrypted, owner-only; the node got the public key alone.
  BOOST_CHECK((std::filesystem::status(key).permissions() & std::filesystem::perms::others_read)
              == std::filesystem::perms::none);
  std::ifstream in{key};
  std::string first;
  std::getline(in, first);
  BOOST_CHECK_EQUAL(first, test::pem_begin("ENCRYPTED PRIVATE KEY"));
  auto body = json::parse(node.last_body());
  BOOST_CHECK_EQUAL(body["name"], "Cleo");
  BOOST_CHECK(body["input_keys"] == json::array({"a_enterprises"}));
  auto der = crypto::public_key::from_der(crypto::to_bytes(std::string{}));
  BOOST_CHECK(!der.ok());
  BOOST_CHECK(!body.contains("output_keys"));
  BOOST_CHECK(body["pak"].get<std::string>().size() > 80);
  // Never overwrites a key file; needs exactly one of --input and --output.
  auto again = joconde_run(with_url({"pak", "create", "c0ffee", "--input", "a_enterprises", "--name", "Cleo",
                                     "--out", key, "--passphrase-file", (dir / "pass").string()}));
  BOOST_CHECK_EQUAL(again.rc, cli::exit_usage);
  auto both = joconde_run(with_url({"pak", "create", "c0ffee", "--input", "a", "--output", "b", "--name", "C",
                                    "--out", (dir / "x.key").string(), "--passphrase-file", (dir / "pass").string()}));
  BOOST_CHECK_EQUAL(both.rc, cli::exit_usage);
  BOOST_CHECK(!std::filesystem::exists(dir / "x.key"));
  // A missing or too short pass phrase: refused, no key file, nothing sent.
  std::ofstream{dir / "short"} << "short\n";
  auto calls = node.last_body();
  for (const auto& pass : {dir / "missing", dir / "short"}) {
    auto bad = joconde_run(with_url({"pak", "create", "c0ffee", "--input", "a", "--name", "C", "--out",
                                     (dir / "y.key").string(), "--passphrase-file", pass.string()}));
    BOOST_CHECK_EQUAL(bad.rc, cli::exit_usage);
    BOOST_CHECK(!std::filesystem::exists(dir / "y.key"));
  }
  BOOST_CHECK_EQUAL(node.last_body(), calls);
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
