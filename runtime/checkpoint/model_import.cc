#include "runtime/checkpoint/model_import.h"

#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "runtime/checkpoint/file_io.h"
#include "runtime/checkpoint/hf_config_fields.h"
#include "runtime/checkpoint/hf_gpt2.h"
#include "runtime/checkpoint/hf_llama.h"
#include "runtime/checkpoint/hf_weight_set.h"

namespace meridian {
namespace {

// Which Hugging Face architecture the model at `path` is, by config.json's
// model_type. Anything unreadable is left to the GPT-2 reader to explain.
Result<ModelFileFormat> DetectHfArchitecture(const std::string& path) {
  const std::string config = HfConfigPath(path);
  Result<std::string> text = hf_config::ReadConfigText(config);
  if (!text.ok()) return ModelFileFormat::kHfGpt2;
  const nlohmann::json root = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!root.is_object()) return ModelFileFormat::kHfGpt2;
  auto type = root.find("model_type");
  if (type == root.end() || !type->is_string()) return ModelFileFormat::kHfGpt2;
  if (*type == "llama") return ModelFileFormat::kHfLlama;
  if (*type == "gpt2") return ModelFileFormat::kHfGpt2;
  return Status::InvalidArgument(config + ": field 'model_type' is " + type->dump().substr(0, 120) +
                                 "; Meridian reads Hugging Face models of type \"gpt2\" and \"llama\"");
}

}  // namespace

const char* ModelFileFormatName(ModelFileFormat format) {
  switch (format) {
    case ModelFileFormat::kHfGpt2: return "Hugging Face GPT-2";
    case ModelFileFormat::kHfLlama: return "Hugging Face Llama";
    case ModelFileFormat::kLlmc: break;
  }
  return "llm.c checkpoint";
}

Result<ModelFileFormat> DetectModelFileFormat(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return DetectHfArchitecture(path);
  const std::string suffix = ".safetensors";
  if (path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return DetectHfArchitecture(path);
  }
  MERIDIAN_ASSIGN_OR_RETURN(checkpoint_io::InputFile file, checkpoint_io::InputFile::Open(path));
  unsigned char head[9] = {};
  const size_t n = file.size() < sizeof(head) ? static_cast<size_t>(file.size()) : sizeof(head);
  MERIDIAN_RETURN_IF_ERROR(file.ReadAt(0, head, n));
  if (n >= 4) {
    int32_t magic;
    std::memcpy(&magic, head, sizeof(magic));
    if (magic == kLlmcCheckpointMagic) return ModelFileFormat::kLlmc;
  }
  if (n == sizeof(head) && head[8] == '{') {
    uint64_t header_bytes = 0;
    for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | head[i];
    if (header_bytes <= file.size() - 8) return DetectHfArchitecture(path);
  }
  return ModelFileFormat::kLlmc;
}

Result<LlmcModel> ReadModelWeights(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(ModelFileFormat format, DetectModelFileFormat(path));
  switch (format) {
    case ModelFileFormat::kHfGpt2: return ReadHfGpt2(path);
    case ModelFileFormat::kHfLlama: return ReadHfLlama(path);
    case ModelFileFormat::kLlmc: break;
  }
  return ReadLlmcCheckpoint(path);
}

Status WriteHfModel(const std::string& dir, const GPTConfig& config, const float* params) {
  return config.llama() ? WriteHfLlama(dir, config, params) : WriteHfGpt2(dir, config, params);
}

}  // namespace meridian
