// The scheduler API's closed sets as the words people write: DEVICE_CUDA
// is "cuda", DP_SYNC_DILOCO is "diloco" (the value's name without the
// prefix its enum's values share, in lower case). Job files, meridianctl's
// tables and the state migration all go through here, so a word means one
// value everywhere.
#pragma once

#include <string>
#include <string_view>

#include <google/protobuf/generated_enum_reflection.h>

#include "common/status.h"

namespace meridian {

// "" for a zero value named *_UNSPECIFIED (it means "the default").
std::string EnumWord(const google::protobuf::EnumDescriptor* e, int value);

// The value `word` names; InvalidArgument naming `field`, the word and the
// choices. An empty word is the enum's zero value.
Result<int> ParseEnumWord(const google::protobuf::EnumDescriptor* e, std::string_view word, std::string_view field);

template <typename E>
std::string EnumWord(E value) {
  return EnumWord(google::protobuf::GetEnumDescriptor<E>(), static_cast<int>(value));
}

template <typename E>
Result<E> ParseEnumWord(std::string_view word, std::string_view field) {
  MERIDIAN_ASSIGN_OR_RETURN(int value, ParseEnumWord(google::protobuf::GetEnumDescriptor<E>(), word, field));
  return static_cast<E>(value);
}

}  // namespace meridian
