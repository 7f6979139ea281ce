// Whole-model weights from either interchange format, for --init-from: an
// llm.c checkpoint or a Hugging Face model (safetensors; GPT-2 or Llama),
// told apart by what the path is, the file's first bytes, and config.json's
// model_type; and the Hugging Face writer for a model's architecture, for
// --export-hf.
#pragma once

#include <string>

#include "common/status.h"
#include "runtime/checkpoint/llmc_format.h"
#include "runtime/model/gpt_config.h"

namespace meridian {

enum class ModelFileFormat { kLlmc, kHfGpt2, kHfLlama };

// "llm.c checkpoint", "Hugging Face GPT-2" or "Hugging Face Llama".
const char* ModelFileFormatName(ModelFileFormat format);

// Hugging Face for a directory, a "*.safetensors" file, or a file that
// starts like one (a little-endian header length that fits the file, then
// '{'): kHfLlama when its config.json (in the directory, or beside the
// file) has model_type "llama", kHfGpt2 otherwise (so that a missing or
// malformed config.json gets the GPT-2 reader's account of it). kLlmc for
// anything else, so that it gets the llm.c reader's account of what is
// wrong (its magic number). NotFound/IOError naming `path` when it cannot be
// opened; InvalidArgument naming config.json when its model_type is a
// string other than "gpt2" or "llama" (an architecture Meridian lacks).
Result<ModelFileFormat> DetectModelFileFormat(const std::string& path);

// Reads `path` with the reader DetectModelFileFormat picks; the config
// carries the architecture.
Result<LlmcModel> ReadModelWeights(const std::string& path);

// Writes a Hugging Face model directory with the writer for config.arch
// (WriteHfGpt2 or WriteHfLlama, whose contracts apply).
Status WriteHfModel(const std::string& dir, const GPTConfig& config, const float* params);

}  // namespace meridian
