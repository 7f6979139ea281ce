// Typed, checked access to the fields of a Hugging Face config.json, shared
// by the GPT-2 and Llama readers (internal to runtime/checkpoint).
//
// Two kinds of error, as the readers document them: Corruption for a field
// that is missing or of the wrong JSON type (the file is not a config of the
// kind it claims), InvalidArgument for a well-formed setting Meridian cannot
// compute. Both start with the file and name the field ("rope_scaling.factor").
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace meridian::hf_config {

using json = nlohmann::json;

// A config.json is a few KB; anything past this is not one.
inline constexpr uint64_t kMaxConfigBytes = 1 << 20;

// The text of `path`, refused (Corruption) above `max_bytes`; NotFound or
// IOError naming the file when it cannot be read.
Result<std::string> ReadConfigText(const std::string& path, uint64_t max_bytes = kMaxConfigBytes);

// `text` parsed as a JSON object; Corruption naming `path` otherwise.
// `what` says what the object should be ("a LlamaConfig").
Result<json> ParseConfigObject(const std::string& text, const std::string& path, const char* what);

// The fields of one JSON object: the top level of config.json, or an object
// inside it named by `prefix`. Holds references: `object` and `path` must
// outlive it.
class ConfigFields {
 public:
  ConfigFields(const json& object, const std::string& path, std::string prefix = "")
      : object_(object), path_(path), prefix_(std::move(prefix)) {}

  // "rope_scaling.factor" for "factor" under prefix "rope_scaling".
  std::string Name(const std::string& field) const { return prefix_.empty() ? field : prefix_ + "." + field; }

  Status Bad(const std::string& field, const std::string& why) const {
    return Status::Corruption(path_ + ": field '" + Name(field) + "' " + why);
  }
  Status Unsupported(const std::string& field, const std::string& why) const {
    return Status::InvalidArgument(path_ + ": field '" + Name(field) + "' " + why);
  }

  // nullptr when absent.
  const json* Find(const char* field) const {
    auto it = object_.find(field);
    return it == object_.end() ? nullptr : &*it;
  }

  // A required integer in [1, INT_MAX].
  Result<int> PositiveInt(const char* field) const;
  // The same, or `fallback` when absent (or null, when `null_is_absent`).
  Result<int> PositiveIntOr(const char* field, int fallback, bool null_is_absent = false) const;
  // A number, or `fallback` when absent.
  Result<double> NumberOr(const char* field, double fallback) const;
  // A boolean, or `fallback` when absent.
  Result<bool> BoolOr(const char* field, bool fallback) const;

  // An optional boolean that must have the value Meridian computes with;
  // `why` completes "is <value>: ".
  Status BoolIs(const char* field, bool expected, const char* why) const;
  // An optional number that must equal `expected`.
  Status NumberIs(const char* field, double expected, const char* why) const;
  // An optional string that must equal `expected`.
  Status StringIs(const char* field, const char* expected, const char* why) const;

 private:
  const json& object_;
  const std::string& path_;
  std::string prefix_;
};

}  // namespace meridian::hf_config
