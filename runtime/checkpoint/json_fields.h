// Typed, checked access to the fields of a JSON file the checkpoint code
// reads (manifests, rank indexes; internal to runtime/checkpoint).
#pragma once

#include <climits>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace meridian::checkpoint_manifest {

// Reads typed fields out of one JSON object and names any defect by its
// dotted path ("model.n_layer"), so a hand-edited or damaged manifest says
// exactly what to fix. Holds references: `object` and `file` must outlive it.
class FieldReader {
 public:
  using json = nlohmann::json;

  FieldReader(const json& object, std::string prefix, const std::string& file)
      : object_(object), prefix_(std::move(prefix)), file_(file) {}

  Result<const json*> Get(const char* key) const {
    if (!object_.is_object()) return Bad(prefix_.empty() ? "(top level)" : prefix_, "must be an object");
    auto it = object_.find(key);
    if (it == object_.end()) {
      return Status::Corruption(file_ + ": manifest field '" + Name(key) + "' is missing");
    }
    return &*it;
  }

  Result<const json*> GetObject(const char* key) const {
    MERIDIAN_ASSIGN_OR_RETURN(const json* v, Get(key));
    if (!v->is_object()) return Bad(Name(key), "must be an object");
    return v;
  }

  Result<const json*> GetArray(const char* key) const {
    MERIDIAN_ASSIGN_OR_RETURN(const json* v, Get(key));
    if (!v->is_array()) return Bad(Name(key), "must be an array");
    return v;
  }

  Result<uint64_t> GetUnsigned(const char* key) const {
    MERIDIAN_ASSIGN_OR_RETURN(const json* v, Get(key));
    if (!v->is_number_unsigned()) return Bad(Name(key), "must be a non-negative integer");
    return v->get<uint64_t>();
  }

  Result<int> GetInt(const char* key) const {
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t v, GetUnsigned(key));
    if (v > static_cast<uint64_t>(INT_MAX)) return Bad(Name(key), "is out of range");
    return static_cast<int>(v);
  }

  Result<std::string> GetString(const char* key) const {
    MERIDIAN_ASSIGN_OR_RETURN(const json* v, Get(key));
    if (!v->is_string()) return Bad(Name(key), "must be a string");
    return v->get<std::string>();
  }

  Result<double> GetDouble(const char* key) const {
    MERIDIAN_ASSIGN_OR_RETURN(const json* v, Get(key));
    if (!v->is_number()) return Bad(Name(key), "must be a number");
    return v->get<double>();
  }

  Result<bool> GetBool(const char* key) const {
    MERIDIAN_ASSIGN_OR_RETURN(const json* v, Get(key));
    if (!v->is_boolean()) return Bad(Name(key), "must be true or false");
    return v->get<bool>();
  }

  bool Has(const char* key) const { return object_.is_object() && object_.contains(key); }

  std::string Name(const char* key) const { return prefix_.empty() ? key : prefix_ + "." + key; }

  Status Bad(const std::string& name, const std::string& why) const {
    return Status::Corruption(file_ + ": manifest field '" + name + "' " + why);
  }

 private:
  const json& object_;
  std::string prefix_;
  const std::string& file_;
};

// A name from a manifest that must stay inside the step directory: no
// slash, not "." or "..".
inline bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
}

}  // namespace meridian::checkpoint_manifest
