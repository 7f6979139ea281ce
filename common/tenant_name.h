// A tenant's name, as token files and job specs give it: one rule for
// every place that names a tenant, so a name one accepts the other does too.
#pragma once

#include <string>

namespace meridian {

// How the rule reads in an error message.
inline constexpr const char* kTenantNameRule = "1 to 128 letters, digits, '.', '_' or '-'";

// 1 to 128 letters, digits, '.', '_' or '-'.
inline bool IsTenantName(const std::string& name) {
  return !name.empty() && name.size() <= 128 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
             std::string::npos;
}

}  // namespace meridian
