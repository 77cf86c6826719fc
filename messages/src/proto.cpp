#include "joconde/messages/proto.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/unknown_field_set.h>

namespace joconde::proto {

bool has_unknown_fields(const google::protobuf::Message& msg) {
  const auto* refl = msg.GetReflection();
  if (!refl->GetUnknownFields(msg).empty())
    return true;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  refl->ListFields(msg, &fields);
  for (const auto* field : fields) {
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE)
      continue;
    if (field->is_repeated()) {
      for (int i = 0; i < refl->FieldSize(msg, field); ++i)
        if (has_unknown_fields(refl->GetRepeatedMessage(msg, field, i)))
          return true;
    } else if (has_unknown_fields(refl->GetMessage(msg, field))) {
      return true;
    }
  }
  return false;
}

result<void> parse_into(google::protobuf::Message& out, std::string_view bytes, size_t limit) {
  if (bytes.size() > limit)
    return fail(errc::too_large, std::string{out.GetTypeName()} + " of " + std::to_string(bytes.size())
                                   + " bytes exceeds the limit of " + std::to_string(limit));
  google::protobuf::io::ArrayInputStream raw{bytes.data(), static_cast<int>(bytes.size())};
  google::protobuf::io::CodedInputStream in{&raw};
  in.SetRecursionLimit(32);
  if (!out.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage())
    return fail(errc::malformed_input, "bytes are not a valid " + std::string{out.GetTypeName()});
  if (has_unknown_fields(out))
    return fail(errc::malformed_input,
                std::string{out.GetTypeName()} + " carries fields unknown to this version");
  return ok();
}

std::string serialize(const google::protobuf::Message& msg) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw{&out};
    google::protobuf::io::CodedOutputStream coded{&raw};
    coded.SetSerializationDeterministic(true);
    msg.SerializeToCodedStream(&coded);
  }
  return out;
}

} // namespace joconde::proto
