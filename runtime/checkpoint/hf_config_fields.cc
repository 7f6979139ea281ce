#include "runtime/checkpoint/hf_config_fields.h"

#include <climits>

#include "runtime/checkpoint/file_io.h"

namespace meridian::hf_config {

Result<std::string> ReadConfigText(const std::string& path, uint64_t max_bytes) {
  MERIDIAN_ASSIGN_OR_RETURN(checkpoint_io::InputFile file, checkpoint_io::InputFile::Open(path));
  if (file.size() > max_bytes) {
    return Status::Corruption(path + ": " + std::to_string(file.size()) + " bytes, more than such a file holds (" +
                              std::to_string(max_bytes) + " bytes at most)");
  }
  std::string text(file.size(), '\0');
  MERIDIAN_RETURN_IF_ERROR(file.ReadAt(0, text.data(), text.size()));
  return text;
}

Result<json> ParseConfigObject(const std::string& text, const std::string& path, const char* what) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    return Status::Corruption(path + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) return Status::Corruption(path + ": must be a JSON object (" + what + ")");
  return root;
}

Result<int> ConfigFields::PositiveInt(const char* field) const {
  const json* v = Find(field);
  if (v == nullptr) return Bad(field, "is missing");
  if (!v->is_number_unsigned() || v->get<uint64_t>() < 1 || v->get<uint64_t>() > static_cast<uint64_t>(INT_MAX)) {
    return Bad(field, "must be an integer in [1, " + std::to_string(INT_MAX) + "], found " + v->dump());
  }
  return static_cast<int>(v->get<uint64_t>());
}

Result<int> ConfigFields::PositiveIntOr(const char* field, int fallback, bool null_is_absent) const {
  const json* v = Find(field);
  if (v == nullptr || (null_is_absent && v->is_null())) return fallback;
  return PositiveInt(field);
}

Result<double> ConfigFields::NumberOr(const char* field, double fallback) const {
  const json* v = Find(field);
  if (v == nullptr) return fallback;
  if (!v->is_number()) return Bad(field, "must be a number, found " + v->dump());
  return v->get<double>();
}

Result<bool> ConfigFields::BoolOr(const char* field, bool fallback) const {
  const json* v = Find(field);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) return Bad(field, "must be true or false, found " + v->dump());
  return v->get<bool>();
}

Status ConfigFields::BoolIs(const char* field, bool expected, const char* why) const {
  const json* v = Find(field);
  if (v == nullptr) return Status::OK();
  if (!v->is_boolean()) return Bad(field, "must be true or false, found " + v->dump());
  if (v->get<bool>() != expected) return Unsupported(field, "is " + v->dump() + ": " + why);
  return Status::OK();
}

Status ConfigFields::NumberIs(const char* field, double expected, const char* why) const {
  const json* v = Find(field);
  if (v == nullptr) return Status::OK();
  if (!v->is_number()) return Bad(field, "must be a number, found " + v->dump());
  if (v->get<double>() != expected) return Unsupported(field, "is " + v->dump() + ": " + why);
  return Status::OK();
}

Status ConfigFields::StringIs(const char* field, const char* expected, const char* why) const {
  const json* v = Find(field);
  if (v == nullptr) return Status::OK();
  if (!v->is_string()) return Bad(field, "must be a string, found " + v->dump());
  if (*v != expected) return Unsupported(field, "is " + v->dump() + ": " + why);
  return Status::OK();
}

}  // namespace meridian::hf_config
