#include "runtime/checkpoint/model_import.h"

#include <cstring>
#include <filesystem>

#include "runtime/checkpoint/file_io.h"
#include "runtime/checkpoint/hf_gpt2.h"

namespace meridian {

const char* ModelFileFormatName(ModelFileFormat format) {
  return format == ModelFileFormat::kHfGpt2 ? "Hugging Face GPT-2" : "llm.c checkpoint";
}

Result<ModelFileFormat> DetectModelFileFormat(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return ModelFileFormat::kHfGpt2;
  const std::string suffix = ".safetensors";
  if (path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return ModelFileFormat::kHfGpt2;
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
    if (header_bytes <= file.size() - 8) return ModelFileFormat::kHfGpt2;
  }
  return ModelFileFormat::kLlmc;
}

Result<LlmcModel> ReadModelWeights(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(ModelFileFormat format, DetectModelFileFormat(path));
  return format == ModelFileFormat::kHfGpt2 ? ReadHfGpt2(path) : ReadLlmcCheckpoint(path);
}

}  // namespace meridian
