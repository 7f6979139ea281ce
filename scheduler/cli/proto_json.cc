#include "scheduler/cli/proto_json.h"

#include <cstdio>
#include <cstdlib>

#include <google/protobuf/descriptor.h>

namespace meridian::scheduler {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using Json = nlohmann::ordered_json;

// A float as the shortest decimal that reads back as the same float
// (0.002f prints 0.002, not its double expansion 0.0020000000949949026).
double ShortestDouble(float f) {
  char text[32];
  for (int digits = 6; digits < 9; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, (double)f);
    if (std::strtof(text, nullptr) == f) return std::strtod(text, nullptr);
  }
  return (double)f;
}

// One value of `field` (element `index` of a repeated field, or -1).
Json Value(const Message& m, const Reflection& r, const FieldDescriptor& f, int index) {
  const bool rep = index >= 0;
  switch (f.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: return rep ? r.GetRepeatedInt32(m, &f, index) : r.GetInt32(m, &f);
    case FieldDescriptor::CPPTYPE_INT64: return rep ? r.GetRepeatedInt64(m, &f, index) : r.GetInt64(m, &f);
    case FieldDescriptor::CPPTYPE_UINT32: return rep ? r.GetRepeatedUInt32(m, &f, index) : r.GetUInt32(m, &f);
    case FieldDescriptor::CPPTYPE_UINT64: return rep ? r.GetRepeatedUInt64(m, &f, index) : r.GetUInt64(m, &f);
    case FieldDescriptor::CPPTYPE_DOUBLE: return rep ? r.GetRepeatedDouble(m, &f, index) : r.GetDouble(m, &f);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return ShortestDouble(rep ? r.GetRepeatedFloat(m, &f, index) : r.GetFloat(m, &f));
    case FieldDescriptor::CPPTYPE_BOOL: return rep ? r.GetRepeatedBool(m, &f, index) : r.GetBool(m, &f);
    case FieldDescriptor::CPPTYPE_ENUM:
      return (rep ? r.GetRepeatedEnum(m, &f, index) : r.GetEnum(m, &f))->name();
    case FieldDescriptor::CPPTYPE_STRING: return rep ? r.GetRepeatedString(m, &f, index) : r.GetString(m, &f);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return ProtoToJson(rep ? r.GetRepeatedMessage(m, &f, index) : r.GetMessage(m, &f));
  }
  return nullptr;
}

}  // namespace

Json ProtoToJson(const Message& m) {
  const Reflection& r = *m.GetReflection();
  const google::protobuf::Descriptor& d = *m.GetDescriptor();
  Json out = Json::object();
  for (int i = 0; i < d.field_count(); ++i) {
    const FieldDescriptor& f = *d.field(i);
    if (f.is_repeated()) {
      Json list = Json::array();
      for (int k = 0; k < r.FieldSize(m, &f); ++k) list.push_back(Value(m, r, f, k));
      out[f.name()] = std::move(list);
    } else if (f.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !r.HasField(m, &f)) {
      continue;  // an absent sub-message is absent, not an empty one
    } else {
      out[f.name()] = Value(m, r, f, -1);
    }
  }
  return out;
}

}  // namespace meridian::scheduler
