#define BOOST_TEST_MODULE personal_data
#include <boost/test/unit_test.hpp>

// Minimisation (spec §4.4.3, issue 20): the people an agreement names reach the Computing Parties,
// their CT VMs and the other peers only as salted commitments, and the committed copy carries the
// same hashes as the full one, so every signature over it still verifies. A changed name changes the
// hash; a guess without the salt does not match; a person with both values and a commitment, a
// short salt or a short commitment is refused.

#include "cplane/ctsc_rules.hpp"
#include "cplane/personal_data.hpp"
#include "joconde/agreement.pb.h"
#include "joconde/runtime/canonical_hash.hpp"

#include <fstream>
#include <google/protobuf/util/json_util.h>
#include <sstream>

using namespace joconde;

namespace {

std::string pak() {
  auto der = crypto::private_key::generate().value().public_key().to_der();
  return {der.begin(), der.end()};
}

v1::Ctsa ctsa_of(const std::string& peer, const std::string& who) {
  v1::Ctsa c;
  c.set_peer(peer);
  c.set_ctsc_uuid("00000000-0000-4000-8000-000000000001");
  c.set_version(1);
  auto* s = c.add_signatories();
  s->set_name("Director " + who);
  s->mutable_identification()->set_name("passport-" + who + ".pdf");
  s->mutable_identification()->set_data("PASSPORT OF " + who);
  auto* dc = c.add_data_custodians();
  dc->set_name("Custodian " + who);
  dc->set_pak(pak());
  dc->add_input_keys("persons");
  auto* da = c.add_data_analysts();
  da->set_name("Analyst " + who);
  da->set_pak(pak());
  da->add_output_keys("income_by_region");
  salt_personal(c);
  return c;
}

v1::SignatorySignature signature_of(const v1::Ctsa& ctsa, const std::string& who) {
  v1::SignatorySignature sig;
  sig.set_peer(ctsa.peer());
  auto h = ctsa_hash(ctsa).value();
  sig.set_ctsa_sha256(std::string{h.begin(), h.end()});
  sig.mutable_document()->set_name("signed-by-" + who + ".pdf");
  sig.mutable_document()->set_data("SIGNATURE PAGE OF " + who);
  salt_personal(sig);
  return sig;
}

v1::Cta cta() {
  v1::Cta c;
  c.mutable_ctsc()->set_uuid("00000000-0000-4000-8000-000000000001");
  *c.add_ctsas() = ctsa_of("client-a.joconde.test", "Alice");
  *c.add_ctsas() = ctsa_of("client-b.joconde.test", "Bruno");
  *c.add_signatory_signatures() = signature_of(c.ctsas(0), "Alice");
  *c.add_signatory_signatures() = signature_of(c.ctsas(1), "Bruno");
  return c;
}

bool holds(const google::protobuf::Message& m, const std::string& word) {
  return m.SerializeAsString().find(word) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_committed_copy_holds_no_person_and_has_the_same_hashes) {
  auto full = cta();
  for (const auto& who : {"Alice", "Bruno"})
    BOOST_CHECK(holds(full, who));
  auto full_hash = cta_hash(full).value();
  auto ctsa_a = ctsa_hash(full.ctsas(0)).value();

  // For the Computing Parties: nobody in full.
  auto for_cps = full;
  BOOST_REQUIRE(commit_personal(for_cps));
  for (const auto& who : {"Alice", "Bruno", "PASSPORT", "SIGNATURE PAGE"})
    BOOST_CHECK_MESSAGE(!holds(for_cps, who), who);
  for (const auto& c : for_cps.ctsas()) {
    BOOST_CHECK_EQUAL(c.signatories(0).commitment().size(), 32u);
    BOOST_CHECK(c.signatories(0).salt().empty());
    BOOST_CHECK_EQUAL(c.data_custodians(0).name_commitment().size(), 32u);
    BOOST_CHECK_EQUAL(c.data_analysts(0).name_commitment().size(), 32u);
    BOOST_CHECK(!c.data_custodians(0).pak().empty());  // what the VMs enforce stays
    BOOST_CHECK_EQUAL(c.data_custodians(0).input_keys(0), "persons");
  }
  BOOST_CHECK(cta_hash(for_cps).value() == full_hash);
  BOOST_CHECK(ctsa_hash(for_cps.ctsas(0)).value() == ctsa_a);
  // Committing again changes nothing.
  auto twice = for_cps;
  BOOST_REQUIRE(commit_personal(twice));
  BOOST_CHECK(twice.SerializeAsString() == for_cps.SerializeAsString());

  // For client-a: its own people in full, client-b's committed.
  auto for_a = full;
  BOOST_REQUIRE(commit_personal(for_a, "client-a.joconde.test"));
  BOOST_CHECK(holds(for_a, "Alice"));
  BOOST_CHECK(holds(for_a, "SIGNATURE PAGE OF Alice"));
  BOOST_CHECK(!holds(for_a, "Bruno"));
  BOOST_CHECK(cta_hash(for_a).value() == full_hash);

  // The committed CTSA still passes the CTSA rules (against a CTSC that has its input and output).
  v1::Ctsc ctsc;
  auto* in = ctsc.add_inputs();
  in->set_key("persons");
  in->set_peer("client-a.joconde.test");
  auto* out = ctsc.add_outputs();
  out->set_key("income_by_region");
  out->add_peers("client-a.joconde.test");
  BOOST_CHECK(check_ctsa(full.ctsas(0), ctsc));
  auto ok = check_ctsa(for_cps.ctsas(0), ctsc);
  BOOST_CHECK_MESSAGE(ok.ok(), (ok ? std::string{} : ok.err().describe()));
}

BOOST_AUTO_TEST_CASE(a_changed_person_changes_the_hash_and_a_guess_without_the_salt_does_not_match) {
  auto full = cta();
  auto hash = cta_hash(full).value();
  auto renamed = full;
  renamed.mutable_ctsas(1)->mutable_data_analysts(0)->set_name("Analyst Brunó");
  BOOST_CHECK(cta_hash(renamed).value() != hash);
  auto other_doc = full;
  other_doc.mutable_signatory_signatures(0)->mutable_document()->set_data("ANOTHER PAGE");
  BOOST_CHECK(cta_hash(other_doc).value() != hash);
  // Someone who guesses the name cannot confirm it from the commitment without the salt.
  auto committed = full;
  BOOST_REQUIRE(commit_personal(committed));
  v1::DataAnalyst guess;
  guess.set_name("Analyst Bruno");
  BOOST_CHECK(commitment_of(guess, "").value()
              != crypto::to_bytes(committed.ctsas(1).data_analysts(0).name_commitment()));
  BOOST_CHECK(commitment_of(guess, full.ctsas(1).data_analysts(0).salt()).value()
              == crypto::to_bytes(committed.ctsas(1).data_analysts(0).name_commitment()));
  // Every person has a salt of its own.
  BOOST_CHECK(full.ctsas(0).signatories(0).salt() != full.ctsas(0).data_custodians(0).salt());
  BOOST_CHECK_EQUAL(full.ctsas(0).signatories(0).salt().size(), personal_salt_bytes);
}

BOOST_AUTO_TEST_CASE(mixed_and_malformed_forms_are_refused) {
  auto base = ctsa_of("client-a.joconde.test", "Alice");
  auto committed = base;
  BOOST_REQUIRE(commit_personal(committed));
  // A name next to a commitment: which one was agreed?
  auto mixed = committed;
  mixed.mutable_signatories(0)->set_name("Someone else");
  BOOST_CHECK(ctsa_hash(mixed).err().code == errc::malformed_input);
  // A salt next to a commitment, a short salt, a short commitment.
  auto salted = committed;
  salted.mutable_data_custodians(0)->set_salt(std::string(16, 's'));
  BOOST_CHECK(ctsa_hash(salted).err().code == errc::malformed_input);
  auto short_salt = base;
  short_salt.mutable_data_analysts(0)->set_salt("12345");
  BOOST_CHECK(ctsa_hash(short_salt).err().code == errc::malformed_input);
  auto short_commitment = committed;
  short_commitment.mutable_data_analysts(0)->set_name_commitment(std::string(31, 'c'));
  BOOST_CHECK(ctsa_hash(short_commitment).err().code == errc::malformed_input);
  v1::SignatorySignature sig = signature_of(base, "Alice");
  sig.set_document_commitment(std::string(32, 'd'));
  auto copy = sig;
  BOOST_CHECK(commit_personal(copy).err().code == errc::malformed_input);
  // A person with neither a name nor a commitment is no person.
  v1::Ctsc ctsc;
  auto nameless = committed;
  nameless.mutable_signatories(0)->clear_commitment();
  BOOST_CHECK(!check_ctsa(nameless, ctsc, false));
}
