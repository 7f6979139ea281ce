// What the core's request checks share (internal to scheduler/service):
// the longest name it accepts, and the one form of its INVALID_ARGUMENT
// errors, "FIELD = VALUE: why".
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace meridian::scheduler {

inline constexpr size_t kMaxNameLength = 256;

inline Status Invalid(const std::string& field, const std::string& value, const std::string& why) {
  return Status::InvalidArgument(field + " = " + value + ": " + why);
}

}  // namespace meridian::scheduler
