// A closed set of choices (a device, a precision, a sync mode): an enum in
// the code, a word at the edges (command lines, YAML, messages). Each set
// is one table, so parsing, naming and the "expected ..." list of an error
// can never disagree.
#pragma once

#include <array>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace meridian {

template <typename E, size_t N>
class ClosedSet {
 public:
  // `what` names the setting in errors ("dp-sync"); `words` lists every
  // value once, the default first.
  constexpr ClosedSet(const char* what, std::array<std::pair<E, const char*>, N> words)
      : what_(what), words_(words) {}

  // InvalidArgument naming the setting, the value and the choices.
  Result<E> Parse(std::string_view word) const {
    for (const auto& [value, name] : words_)
      if (word == name) return value;
    return Status::InvalidArgument(std::string(what_) + " = " + std::string(word) + ": expected " + Choices());
  }

  const char* Name(E value) const {
    for (const auto& [v, name] : words_)
      if (v == value) return name;
    return "?";
  }

  std::set<std::string> Words() const {
    std::set<std::string> out;
    for (const auto& [value, name] : words_) out.insert(name);
    return out;
  }

  // "a, b or c".
  std::string Choices() const {
    std::string out;
    for (size_t i = 0; i < N; ++i) out += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + words_[i].second;
    return out;
  }

 private:
  const char* what_;
  std::array<std::pair<E, const char*>, N> words_;
};

}  // namespace meridian
