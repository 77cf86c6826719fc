#define BOOST_TEST_MODULE canonical_hash
#include "support/must.hpp"
#include <boost/test/unit_test.hpp>

#include "joconde/artefacts.pb.h"
#include "joconde/messages/canonical.hpp"
#include "joconde/messages/proto.hpp"
#include "joconde/runtime/canonical_hash.hpp"
#include "joconde/runtime/crypto.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/wrappers.pb.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace joconde;

namespace {

/// "ok" or the errc name of a failed result, so BOOST_TEST prints something readable.
template <class T>
std::string code_of(const result<T>& r) {
  return r ? std::string{"ok"} : std::string{to_string(r.err().code)};
}

using joconde::test::must;

/// Lowercase hex of a string of bytes.
std::string hex_of(const std::string& str) {
  return crypto::hex(crypto::to_bytes(str));
}

/// The canonical hash of `msg` as lowercase hex.
std::string hash_hex(const google::protobuf::Message& msg) {
  return crypto::hex(must(canonical_hash(msg)));
}

/// A CTSC with something in every part of the specification.
v1::Ctsc sample_ctsc() {
  v1::Ctsc ctsc;
  ctsc.set_uuid("4f1c2b8e-9a3d-4c6e-8f1a-2b3c4d5e6f70");
  ctsc.set_title("Turnover by region");
  ctsc.set_description("Total turnover by region over two registers.");
  auto* att = ctsc.add_attachments();
  att->set_title("Agreement");
  att->mutable_content()->set_name("agreement.pdf");
  att->mutable_content()->set_media_type("application/pdf");
  att->mutable_content()->set_data("%PDF-1.7");
  auto* temporal = ctsc.mutable_temporal();
  temporal->set_approval_deadline_ms(1767225600000);
  temporal->set_input_deadline_ms(1767830400000);
  temporal->set_execution_deadline_ms(1767916800000);
  temporal->set_output_deadline_ms(1768435200000);
  temporal->set_data_retention_s(7776000);
  ctsc.mutable_engine()->set_name("rss3");
  ctsc.mutable_engine()->set_version("1.0.0");
  auto* tee = ctsc.add_tee_measurements();
  tee->set_platform("simulated");
  tee->set_measurement(std::string(48, '\x11'));
  ctsc.mutable_main_algorithm()->set_language("joconde-sql/1");
  ctsc.mutable_main_algorithm()->set_source("SELECT SUM(turnover) AS total FROM turnover");
  auto* input = ctsc.add_inputs();
  input->set_key("turnover");
  input->set_peer("stat-a.joconde.test");
  auto* col = input->add_schema();
  col->set_name("turnover");
  col->set_type(v1::Column::TYPE_FIXED_POINT);
  col->set_scale(2);
  auto* output = ctsc.add_outputs();
  output->set_key("total");
  output->add_peers("stat-a.joconde.test");
  output->add_peers("stat-b.joconde.test");
  for (const auto* fqdn : {"stat-a.joconde.test", "stat-b.joconde.test"}) {
    auto* peer = ctsc.add_peers();
    peer->set_fqdn(fqdn);
    peer->set_role(v1::PEER_ROLE_INPUT_OUTPUT);
    peer->mutable_chain()->add_certificates(std::string{"\x30\x82"} + fqdn);
  }
  for (const auto* fqdn : {"cp1.joconde.test", "cp2.joconde.test", "cp3.joconde.test"}) {
    auto* cp = ctsc.add_computing_parties();
    cp->set_fqdn(fqdn);
    cp->mutable_chain()->add_certificates(std::string{"\x30\x82"} + fqdn);
  }
  ctsc.mutable_organiser()->set_peer("stat-a.joconde.test");
  ctsc.set_created_at_ms(1767139200000);
  return ctsc;
}

/// Every message type declared in `file`, nested ones included.
std::vector<const google::protobuf::Descriptor*> all_types(const google::protobuf::FileDescriptor& file) {
  std::vector<const google::protobuf::Descriptor*> out;
  for (int i = 0; i < file.message_type_count(); ++i)
    out.push_back(file.message_type(i));
  for (size_t i = 0; i < out.size(); ++i)
    for (int k = 0; k < out[i]->nested_type_count(); ++k)
      out.push_back(out[i]->nested_type(k));
  return out;
}

nlohmann::json load_vectors() {
  std::ifstream in{JOCONDE_SOURCE_DIR "/tests/vectors/canonical_hash_vectors.json"};
  BOOST_REQUIRE_MESSAGE(in, "cannot open tests/vectors/canonical_hash_vectors.json");
  return nlohmann::json::parse(in);
}

} // namespace

BOOST_AUTO_TEST_CASE(vectors_are_reproduced_from_their_text_format) {
  auto doc = load_vectors();
  const auto& vectors = doc.at("vectors");
  BOOST_TEST(vectors.size() >= 3u);
  std::set<std::string> types;
  for (const auto& vec : vectors) {
    auto type_name = vec.at("type").get<std::string>();
    BOOST_TEST_CONTEXT("vector " << vec.at("name").get<std::string>()) {
      types.insert(type_name);
      const auto* type =
        google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type_name);
      BOOST_REQUIRE_MESSAGE(type != nullptr, "no message type " << type_name);
      std::unique_ptr<google::protobuf::Message> msg{
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New()};
      BOOST_REQUIRE(google::protobuf::TextFormat::ParseFromString(
        vec.at("text_format").get<std::string>(), msg.get()));
      auto bytes = must(proto::canonical_bytes(*msg));
      auto digest = hash_hex(*msg);
      BOOST_TEST_MESSAGE("canonical_hex " << hex_of(bytes) << "\nsha256_hex " << digest);
      BOOST_TEST(hex_of(bytes) == vec.at("canonical_hex").get<std::string>());
      BOOST_TEST(digest == vec.at("sha256_hex").get<std::string>());
      // The hash is plain SHA-256 over prefix and bytes, as the document says.
      auto preimage = "joconde/v1/" + type_name + std::string(1, '\0') + bytes;
      BOOST_TEST(crypto::hex(crypto::sha256(crypto::to_bytes(preimage))) == digest);
      // The canonical bytes parse back to a message with the same canonical bytes.
      std::unique_ptr<google::protobuf::Message> back{msg->New()};
      BOOST_REQUIRE(proto::parse_into(*back, bytes));
      BOOST_TEST(hex_of(must(proto::canonical_bytes(*back))) == hex_of(bytes));
    }
  }
  BOOST_TEST(types.count("joconde.v1.Ctsc") == 1u);
  BOOST_TEST(types.count("joconde.v1.Ctsa") == 1u);
}

BOOST_AUTO_TEST_CASE(hash_is_32_bytes_and_does_not_depend_on_construction_order) {
  auto ctsc = sample_ctsc();
  BOOST_TEST(must(canonical_hash(ctsc)).size() == 32u);
  // The same content set in another order, and after a round trip, hashes the same.
  v1::Ctsc other;
  other.set_created_at_ms(ctsc.created_at_ms());
  *other.mutable_organiser() = ctsc.organiser();
  *other.mutable_computing_parties() = ctsc.computing_parties();
  *other.mutable_peers() = ctsc.peers();
  *other.mutable_outputs() = ctsc.outputs();
  *other.mutable_inputs() = ctsc.inputs();
  *other.mutable_main_algorithm() = ctsc.main_algorithm();
  *other.mutable_tee_measurements() = ctsc.tee_measurements();
  *other.mutable_engine() = ctsc.engine();
  *other.mutable_temporal() = ctsc.temporal();
  *other.mutable_attachments() = ctsc.attachments();
  other.set_description(ctsc.description());
  other.set_title(ctsc.title());
  other.set_uuid(ctsc.uuid());
  BOOST_TEST(hash_hex(other) == hash_hex(ctsc));
  auto parsed = must(proto::parse<v1::Ctsc>(must(proto::canonical_bytes(ctsc))));
  BOOST_TEST(hash_hex(parsed) == hash_hex(ctsc));
}

BOOST_AUTO_TEST_CASE(any_changed_field_changes_the_hash) {
  const auto base = sample_ctsc();
  const auto reference = hash_hex(base);
  auto changed = [&](auto&& edit) {
    auto copy = base;
    edit(copy);
    return hash_hex(copy) != reference;
  };
  BOOST_TEST(changed([](v1::Ctsc& c) { c.set_title("Turnover by region."); }));
  BOOST_TEST(changed([](v1::Ctsc& c) { c.set_uuid(""); }));
  BOOST_TEST(changed([](v1::Ctsc& c) { c.mutable_temporal()->set_input_deadline_ms(1767830400001); }));
  BOOST_TEST(changed([](v1::Ctsc& c) { c.mutable_inputs(0)->mutable_schema(0)->set_scale(3); }));
  BOOST_TEST(changed([](v1::Ctsc& c) { c.mutable_outputs(0)->mutable_peers()->SwapElements(0, 1); }));
  BOOST_TEST(changed([](v1::Ctsc& c) { c.mutable_peers()->SwapElements(0, 1); }));
  BOOST_TEST(changed([](v1::Ctsc& c) { c.mutable_attachments(0)->mutable_content()->set_data("%PDF-1.6"); }));
  // Set but empty differs from absent: a message field and a oneof member have presence.
  BOOST_TEST(changed([](v1::Ctsc& c) { c.mutable_inputs(0)->mutable_data_quality(); }));
  BOOST_TEST(changed([](v1::Ctsc& c) { c.mutable_attachments(0)->mutable_content()->set_data(""); }));
  // A default value is the same as absent for a plain proto3 field.
  BOOST_TEST(!changed([](v1::Ctsc& c) { c.mutable_inputs(0)->mutable_schema(0)->set_name("turnover"); }));

  // The type name is hashed: equal bytes of two types give two hashes.
  v1::Ctsc ctsc;
  ctsc.set_uuid("4f1c2b8e-9a3d-4c6e-8f1a-2b3c4d5e6f70");
  v1::StatusUpdate update;
  update.set_uuid(ctsc.uuid());
  BOOST_TEST(hex_of(must(proto::canonical_bytes(ctsc)))
             == hex_of(must(proto::canonical_bytes(update))));
  BOOST_TEST(hash_hex(ctsc) != hash_hex(update));
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_refused_at_any_depth) {
  auto ctsc = sample_ctsc();
  // Bytes from a newer schema: field 99 (varint 1) appended to a valid CTSC.
  auto newer = must(proto::canonical_bytes(ctsc)) + std::string{"\x98\x06\x01", 3};
  v1::Ctsc lenient;
  BOOST_REQUIRE(lenient.ParseFromString(newer));
  auto top = proto::canonical_bytes(lenient);
  BOOST_TEST(code_of(top) == "malformed_input");
  BOOST_TEST(code_of(canonical_hash(lenient)) == "malformed_input");
  BOOST_TEST(code_of(proto::parse<v1::Ctsc>(newer)) == "malformed_input");

  auto nested = ctsc;
  auto* col = nested.mutable_inputs(0)->mutable_schema(0);
  col->GetReflection()->MutableUnknownFields(col)->AddVarint(42, 7);
  auto deep = canonical_hash(nested);
  BOOST_TEST(code_of(deep) == "malformed_input");
  BOOST_TEST(deep.err().message.find("joconde.v1.Column") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(strings_that_are_not_utf8_are_refused) {
  auto ctsc = sample_ctsc();
  ctsc.set_title("Ums\xC3\xA4tze"); // UTF-8 is fine
  BOOST_TEST(code_of(canonical_hash(ctsc)) == "ok");
  for (const auto* bad : {"\xFF", "\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80"}) {
    auto copy = ctsc;
    copy.mutable_outputs(0)->set_peers(1, bad);
    BOOST_TEST(code_of(canonical_hash(copy)) == "malformed_input");
  }
  // Bytes fields hold anything.
  ctsc.mutable_tee_measurements(0)->set_measurement("\xFF\xC0\xAF");
  BOOST_TEST(code_of(canonical_hash(ctsc)) == "ok");
}

BOOST_AUTO_TEST_CASE(no_artefact_type_has_map_float_or_recursive_fields) {
  auto types = all_types(*v1::Cta::descriptor()->file());
  BOOST_TEST(types.size() >= 20u);
  for (const auto* type : types) {
    auto res = proto::check_canonical_schema(*type);
    BOOST_TEST(res.ok(), type->full_name() << ": " << (res ? std::string{} : res.err().message));
  }
  // The checker does catch what it is for.
  auto map = proto::check_canonical_schema(*google::protobuf::Struct::descriptor());
  BOOST_TEST(code_of(map) == "malformed_input");
  BOOST_TEST(map.err().message.find("map field") != std::string::npos);
  auto dbl = proto::check_canonical_schema(*google::protobuf::DoubleValue::descriptor());
  BOOST_TEST(dbl.err().message.find("floating-point") != std::string::npos);
  auto flt = proto::check_canonical_schema(*google::protobuf::FloatValue::descriptor());
  BOOST_TEST(flt.err().message.find("floating-point") != std::string::npos);
  // A self-nesting type, built at run time: message Node { repeated Node children = 1; }.
  google::protobuf::FileDescriptorProto file;
  file.set_name("recursive_test.proto");
  file.set_package("t");
  file.set_syntax("proto3");
  auto* node = file.add_message_type();
  node->set_name("Node");
  auto* children = node->add_field();
  children->set_name("children");
  children->set_number(1);
  children->set_label(google::protobuf::FieldDescriptorProto::LABEL_REPEATED);
  children->set_type(google::protobuf::FieldDescriptorProto::TYPE_MESSAGE);
  children->set_type_name(".t.Node");
  google::protobuf::DescriptorPool pool;
  const auto* built = pool.BuildFile(file);
  BOOST_REQUIRE(built != nullptr);
  auto rec = proto::check_canonical_schema(*built->message_type(0));
  BOOST_TEST(rec.err().message.find("recursive") != std::string::npos);
  // And canonical_bytes refuses such types, even when the message is empty.
  BOOST_TEST(code_of(proto::canonical_bytes(google::protobuf::Struct{})) == "malformed_input");
  BOOST_TEST(code_of(canonical_hash(google::protobuf::DoubleValue{})) == "malformed_input");
}
