#include "proto/enum_words.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include <google/protobuf/descriptor.h>

namespace meridian {

namespace {

// The prefix every value's name shares, cut after its last underscore:
// "DP_SYNC_" for DP_SYNC_AUTO, DP_SYNC_SYNC, ...
size_t PrefixLength(const google::protobuf::EnumDescriptor* e) {
  std::string prefix = e->value(0)->name();
  for (int i = 1; i < e->value_count(); ++i) {
    const std::string& name = e->value(i)->name();
    size_t n = 0;
    while (n < prefix.size() && n < name.size() && prefix[n] == name[n]) ++n;
    prefix.resize(n);
  }
  const size_t underscore = prefix.rfind('_');
  return underscore == std::string::npos ? 0 : underscore + 1;
}

bool IsUnspecified(const google::protobuf::EnumValueDescriptor* v) {
  const std::string& name = v->name();
  static constexpr std::string_view kUnspecified = "_UNSPECIFIED";
  return v->number() == 0 && name.size() >= kUnspecified.size() &&
         name.compare(name.size() - kUnspecified.size(), kUnspecified.size(), kUnspecified) == 0;
}

std::string WordOf(const google::protobuf::EnumValueDescriptor* v, size_t prefix) {
  std::string word = v->name().substr(prefix);
  std::transform(word.begin(), word.end(), word.begin(), [](unsigned char c) { return std::tolower(c); });
  return word;
}

}  // namespace

std::string EnumWord(const google::protobuf::EnumDescriptor* e, int value) {
  const google::protobuf::EnumValueDescriptor* v = e->FindValueByNumber(value);
  if (v == nullptr) return std::to_string(value);  // a newer peer's value: say the number, not a guess
  if (IsUnspecified(v)) return "";
  return WordOf(v, PrefixLength(e));
}

Result<int> ParseEnumWord(const google::protobuf::EnumDescriptor* e, std::string_view word, std::string_view field) {
  if (word.empty()) return 0;
  const size_t prefix = PrefixLength(e);
  std::vector<std::string> words;
  for (int i = 0; i < e->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* v = e->value(i);
    if (IsUnspecified(v)) continue;
    words.push_back(WordOf(v, prefix));
    if (words.back() == word) return v->number();
  }
  std::string choices;
  for (size_t i = 0; i < words.size(); ++i)
    choices += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
  return Status::InvalidArgument(std::string(field) + ": '" + std::string(word) + "' (expected " + choices + ")");
}

}  // namespace meridian
