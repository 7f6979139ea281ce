// Whole-model weights from either interchange format, for --init-from: an
// llm.c checkpoint or a Hugging Face GPT-2 model (safetensors), told apart
// by what the path is and by the file's first bytes.
#pragma once

#include <string>

#include "common/status.h"
#include "runtime/checkpoint/llmc_format.h"

namespace meridian {

enum class ModelFileFormat { kLlmc, kHfGpt2 };

// "llm.c checkpoint" or "Hugging Face GPT-2".
const char* ModelFileFormatName(ModelFileFormat format);

// kHfGpt2 for a directory, a "*.safetensors" file, or a file that starts
// like one (a little-endian header length that fits the file, then '{');
// kLlmc otherwise, so that anything else gets the llm.c reader's account of
// what is wrong (its magic number). NotFound/IOError naming `path` when it
// cannot be opened.
Result<ModelFileFormat> DetectModelFileFormat(const std::string& path);

// Reads `path` with the reader DetectModelFileFormat picks.
Result<LlmcModel> ReadModelWeights(const std::string& path);

}  // namespace meridian
