#define BOOST_TEST_MODULE erasure
#include "ct_lifecycle_test_support.hpp"

// Erasure that leaves nothing (issue 20, spec §4.4.3, BUS-4.9): two CTAs carry a distinct canary in
// every artefact kind — the CTSC's description and algorithm, each peer's CTSA (its signatory), the
// signed document, the PAK records (custodians' and analysts' names) — and in every input. One runs
// to the end (both analysts download), the other is cancelled after an upload. Each canary is first
// found in some node's files (the search can fail); once both CTAs are erased at every node, no
// file of any node — LMDB environments, logs, audit logs, CT VM logs — holds any canary (raw
// bytes), and every node's audit log still verifies.

using namespace joconde;
using namespace std::chrono_literals;
using namespace ct_lifecycle_test_support;

BOOST_TEST_GLOBAL_FIXTURE(global_cluster);

namespace {

/// A canary: a word found nowhere by chance.
std::string canary(const std::string& kind) {
  return "CANARY" + kind + crypto::hex(crypto::random_bytes(6));
}

/// The canaries of one CTA, by where they were planted.
struct planted {
  std::map<std::string, std::string> words;

  const std::string& operator[](const std::string& where) {
    auto& w = words[where];
    if (w.empty())
      w = canary(where);
    return w;
  }
};

/// The demo task with canaries in its description and its algorithm (a comment of the SQL), and
/// these deadlines from now (ms) and retention (s).
json task_with(planted& p, std::int64_t input_in, std::int64_t output_in, std::int64_t retention_s) {
  auto task = demo_task();
  auto now = now_ms();
  task["description"] = task["description"].get<std::string>() + " " + p["ctsc"];
  task["main_algorithm"]["source"] = "-- " + p["algorithm"] + "\n" + task["main_algorithm"]["source"].get<std::string>();
  task["temporal"]["approval_deadline_ms"] = std::to_string(now + 20'000);
  task["temporal"]["input_deadline_ms"] = std::to_string(now + input_in);
  task["temporal"]["execution_deadline_ms"] = std::to_string(now + input_in + 10'000);
  task["temporal"]["output_deadline_ms"] = std::to_string(now + output_in);
  task["temporal"]["data_retention_s"] = std::to_string(retention_s);
  return task;
}

agreement_words words_with(planted& p) {
  agreement_words w;
  w.signatory = p["signatory"] + " ";
  w.document = "%PDF-1.4\n% " + p["document"] + "\n";
  w.custodian = p["custodian"] + " ";
  w.analyst = p["analyst"] + " ";
  return w;
}

/// The files of every node of the cluster that hold `needle`, and how much was searched.
std::vector<fs::path> holding(const std::string& needle, size_t* files = nullptr, std::uintmax_t* bytes = nullptr) {
  std::vector<fs::path> out;
  for (const auto& node : holders) {
    auto res = files_containing(cluster->data_dir(node), needle);
    out.insert(out.end(), res.hits.begin(), res.hits.end());
    if (files != nullptr)
      *files += res.searched.size();
    if (bytes != nullptr)
      *bytes += res.bytes;
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_finished_and_a_cancelled_cta_leave_no_canary_in_any_file_after_retention) {
  planted done_words;
  planted cancelled_words;
  // The one that finishes: output closes 65 s from now, kept 5 s more.
  auto done = agree(task_with(done_words, 40'000, 65'000, 5), "finished", words_with(done_words));
  // The one cancelled: far deadlines, kept 5 s after the cancellation.
  auto cancelled = agree(task_with(cancelled_words, 600'000, 1'200'000, 5), "cancelled", words_with(cancelled_words));
  require_input_phase(done.uuid, 30s);
  require_input_phase(cancelled.uuid, 30s);

  // Inputs with a canary row each.
  auto persons = done.dir / "persons.csv";
  write_file(persons, persons_csv(120, done_words["persons"] + ",north,40\n"));
  auto income = done.dir / "income.csv";
  write_file(income, income_csv(100) + done_words["income"] + ",7000\n");
  for (auto [who, input, file] : {std::tuple{"a", "persons", persons}, std::tuple{"b", "income", income}}) {
    auto up = joconde_cli(std::string{"client-"} + who + ":data_custodian",
                          upload_args(done, input, file, std::string{"custodian-"} + who));
    BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);
  }
  auto cancelled_persons = cancelled.dir / "persons.csv";
  write_file(cancelled_persons, persons_csv(60, cancelled_words["persons"] + ",south,50\n"));
  auto up = joconde_cli("client-a:data_custodian", upload_args(cancelled, "persons", cancelled_persons, "custodian-a"));
  BOOST_REQUIRE_MESSAGE(up.rc == 0, "upload: " << up);
  auto cancel = joconde_cli("client-b:task_organiser", {"cta", "cancel", cancelled.uuid, "--reason", "no longer needed"});
  BOOST_REQUIRE_MESSAGE(cancel.rc == 0, "cancel: " << cancel);

  reach_output(done.uuid);
  // The Output phase began: no CP keeps an input's sealed file any more (BUS-4.9, SYS-6.5), while
  // the output's are there (the search finds sealed files).
  for (const auto& cp : cps) {
    size_t inputs = 0;
    size_t outputs = 0;
    std::error_code ec;
    auto dir = cluster->data_dir(cp) / "ct" / done.uuid;
    for (auto it = fs::recursive_directory_iterator{dir, ec}; !ec && it != fs::recursive_directory_iterator{};
         it.increment(ec)) {
      auto name = it->path().filename().string();
      if (name.size() < 7 || name.substr(name.size() - 7) != ".sealed")
        continue;
      inputs += name.rfind("persons.", 0) == 0 || name.rfind("income.", 0) == 0 ? 1 : 0;
      outputs += name.rfind("income_by_region.", 0) == 0 ? 1 : 0;
    }
    BOOST_CHECK_MESSAGE(inputs == 0, cp << " keeps " << inputs << " sealed input file(s) in the Output phase");
    BOOST_CHECK_MESSAGE(outputs >= 1, cp << ": no sealed output file in " << dir);
  }
  download_both(done, 100);
  status_everywhere(done.uuid, "finished", 60s);
  status_everywhere(cancelled.uuid, "cancelled", 30s);

  // Before the erasure, the artefacts' canaries are held by the nodes: the search can fail. (The
  // inputs' canaries never reach a node in the clear: the VMs get shares of their hashes.)
  for (auto* words : {&done_words, &cancelled_words})
    for (const auto& [where, word] : words->words)
      if (where != "persons" && where != "income")
        BOOST_CHECK_MESSAGE(!holding(word).empty(), "no node holds the " << where << " canary before the erasure");
  // The root's LMDB environment holds the CTSAs (their signatories' names).
  auto at_root = files_containing(cluster->data_dir("root"), done_words["signatory"]);
  BOOST_CHECK(std::any_of(at_root.hits.begin(), at_root.hits.end(),
                          [](const fs::path& p) { return p.filename() == "data.mdb"; }));
  // Minimisation (spec §4.4.3): the people reach no Computing Party, nor its CT VM: a CP holds the
  // final CTA with a commitment in place of every name, identification and signature document.
  for (const auto& cp : cps)
    for (const auto* where : {"signatory", "document", "custodian", "analyst"}) {
      auto found = files_containing(cluster->data_dir(cp), done_words[where]);
      BOOST_CHECK_MESSAGE(found.hits.empty(), cp << " holds the " << where << " canary in "
                                                 << (found.hits.empty() ? fs::path{} : found.hits.front()));
    }

  // Retention ends (output deadline + 5 s; cancellation + 5 s); the root's housekeeping (every
  // 10 s) erases, every holder strips and scrubs (every 10 s).
  status_everywhere(done.uuid, "erased", 120s);
  status_everywhere(cancelled.uuid, "erased", 30s);
  size_t files = 0;
  std::uintmax_t bytes = 0;
  std::vector<std::pair<std::string, fs::path>> left;
  bool clean = test::cluster::wait_until(
    [&] {
      left.clear();
      files = 0;
      bytes = 0;
      for (auto* words : {&done_words, &cancelled_words})
        for (const auto& [where, word] : words->words)
          for (const auto& f : holding(word, &files, &bytes))
            left.emplace_back(where, f);
      return left.empty();
    },
    60s);
  BOOST_TEST_MESSAGE("searched " << files << " files, " << bytes << " bytes, for "
                                 << done_words.words.size() + cancelled_words.words.size() << " canaries");
  for (const auto& [where, file] : left)
    BOOST_ERROR("the " << where << " canary is still in " << file);
  BOOST_CHECK(clean);
  for (const auto& node : holders) {
    auto [status, verdict] = cluster->call_as(node, "auditor", "GET", "/v1/audit/verify");
    BOOST_CHECK_MESSAGE(status == 200 && verdict.value("ok", false), node << ": " << verdict.dump());
  }
  // What stays: the tombstone (title and status) at every holder.
  auto tomb = cta_at("client-a", done.uuid);
  BOOST_CHECK_EQUAL(tomb.value("status", ""), "erased");
  BOOST_CHECK(!tomb.value("title", "").empty());
}
