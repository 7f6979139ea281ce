// meridianctl's --json: a protobuf message as JSON for scripts, with every
// field present (zeros and empty strings included: `"exit_code":0` is an
// answer, not a gap) and 64-bit integers as numbers (protobuf's own JSON
// mapping omits defaults and quotes int64s). Field names are the .proto's,
// in its order; enums are their names.
#pragma once

#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>

namespace meridian::scheduler {

nlohmann::ordered_json ProtoToJson(const google::protobuf::Message& message);

}  // namespace meridian::scheduler
