#include "joconde/messages/canonical.hpp"

#include "joconde/messages/proto.hpp"

#include <google/protobuf/reflection.h>
#include <google/protobuf/unknown_field_set.h>

#include <cstdint>
#include <set>
#include <vector>

namespace joconde::proto {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

/// Depth-first walk over the message types `type` nests; `open` holds the types on the current path
/// (a type met again there is recursive), `done` the types already found canonical.
result<void> check_type(const Descriptor& type, std::set<const Descriptor*>& open,
                        std::set<const Descriptor*>& done) {
  if (done.count(&type) != 0)
    return ok();
  if (open.count(&type) != 0)
    return fail(errc::malformed_input, std::string{type.full_name()}
                                         + " is recursive; canonical messages have bounded depth");
  open.insert(&type);
  for (int i = 0; i < type.field_count(); ++i) {
    const auto* field = type.field(i);
    if (field->is_map())
      return fail(errc::malformed_input, std::string{field->full_name()}
                                           + " is a map field; use a repeated message instead");
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT
        || field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE)
      return fail(errc::malformed_input, std::string{field->full_name()}
                                           + " is a floating-point field; canonical messages use "
                                             "integers or fixed-point");
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE)
      if (auto res = check_type(*field->message_type(), open, done); !res)
        return res;
  }
  open.erase(&type);
  done.insert(&type);
  return ok();
}

/// Refuses `msg` if it, or any message it holds, has unknown fields or a string that is not UTF-8.
result<void> check_values(const Message& msg) {
  const auto* refl = msg.GetReflection();
  if (!refl->GetUnknownFields(msg).empty())
    return fail(errc::malformed_input, std::string{msg.GetTypeName()}
                                         + " carries fields unknown to this version; it has no "
                                           "canonical form (parse it with a newer build)");
  std::vector<const FieldDescriptor*> fields;
  refl->ListFields(msg, &fields);
  for (const auto* field : fields) {
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      std::string scratch;
      auto n = field->is_repeated() ? refl->FieldSize(msg, field) : 1;
      for (int i = 0; i < n; ++i) {
        const auto& str = field->is_repeated()
                            ? refl->GetRepeatedStringReference(msg, field, i, &scratch)
                            : refl->GetStringReference(msg, field, &scratch);
        if (!is_utf8(str))
          return fail(errc::malformed_input, std::string{field->full_name()}
                                               + " is not valid UTF-8; put binary data in bytes");
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < refl->FieldSize(msg, field); ++i)
          if (auto res = check_values(refl->GetRepeatedMessage(msg, field, i)); !res)
            return res;
      } else if (auto res = check_values(refl->GetMessage(msg, field)); !res) {
        return res;
      }
    }
  }
  return ok();
}

} // namespace

bool is_utf8(std::string_view str) {
  size_t i = 0;
  while (i < str.size()) {
    auto c = static_cast<std::uint8_t>(str[i]);
    size_t len = 0;
    std::uint32_t lo = 0x80;
    std::uint32_t hi = 0xBF;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0)
        lo = 0xA0; // no overlong forms
      else if (c == 0xED)
        hi = 0x9F; // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0)
        lo = 0x90; // no overlong forms
      else if (c == 0xF4)
        hi = 0x8F; // nothing above U+10FFFF
    } else {
      return false;
    }
    if (str.size() - i < len)
      return false;
    auto second = static_cast<std::uint8_t>(str[i + 1]);
    if (second < lo || second > hi)
      return false;
    for (size_t k = 2; k < len; ++k) {
      auto next = static_cast<std::uint8_t>(str[i + k]);
      if (next < 0x80 || next > 0xBF)
        return false;
    }
    i += len;
  }
  return true;
}

result<void> check_canonical_schema(const google::protobuf::Descriptor& type) {
  std::set<const Descriptor*> open;
  std::set<const Descriptor*> done;
  return check_type(type, open, done);
}

result<std::string> canonical_bytes(const google::protobuf::Message& msg) {
  if (auto res = check_canonical_schema(*msg.GetDescriptor()); !res)
    return res.err();
  if (auto res = check_values(msg); !res)
    return res.err();
  // Without unknown fields and maps, the deterministic encoding writes known fields in field-number
  // order with proto3's rules, which docs/canonical-hashing.md spells out.
  return serialize(msg);
}

std::string canonical_prefix(const google::protobuf::Descriptor& type) {
  std::string out{canonical_label};
  out += type.full_name();
  out += '\0';
  return out;
}

} // namespace joconde::proto
