// llm.c checkpoint interchange: import GPT-2 weights trained by llm.c (or
// converted from Hugging Face by its scripts) and export ours to it.
//
// Layout (little-endian; see docs/formats.md "llm.c checkpoints"):
//   int32 header[256]: [0] = 20240326 (magic), [1] = version,
//     [2] = max_seq_len, [3] = V, [4] = n_layer, [5] = n_head, [6] = n_embd,
//     [7] = Vp (version 3 only), the rest zero;
//   float32 params[NumParameters(config)] in llm.c tensor order, which is
//     exactly the whole-model ParameterLayout order.
// Version 3 is float32 with the padded vocabulary Vp; version 1 is the same
// with Vp = V. Nothing else (e.g. llm.c's bf16 version 5) is accepted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/model/gpt_config.h"

namespace meridian {

inline constexpr int32_t kLlmcCheckpointMagic = 20240326;
inline constexpr int32_t kLlmcVersionUnpadded = 1;  // float32, Vp = V
inline constexpr int32_t kLlmcVersionPadded = 3;    // float32, header[7] = Vp
inline constexpr size_t kLlmcHeaderInts = 256;
inline constexpr size_t kLlmcHeaderBytes = kLlmcHeaderInts * sizeof(int32_t);

// A whole model as an llm.c checkpoint holds it.
struct LlmcModel {
  GPTConfig config;
  std::vector<float> params;  // NumParameters(config) floats, ParameterLayout order
};

// Reads a version 1 or 3 checkpoint, always as GPT-2 (the header cannot
// describe another architecture); a version 1 file gets
// padded_vocab_size = vocab_size. Weights are not scanned: NaN/Inf load as
// they are. Errors name the file and the defect:
//   NotFound       the file does not exist;
//   IOError        it cannot be opened or read;
//   Corruption     shorter than the header, bad magic (found vs expected),
//                  unsupported version, header fields that fail
//                  ValidateConfig or overflow, fewer bytes than the header
//                  implies (expected N, found M), or bytes after the end.
Result<LlmcModel> ReadLlmcCheckpoint(const std::string& path);

// Writes a version 3 checkpoint atomically: to "<path>.tmp-<pid>", fsync,
// rename over `path`, fsync the directory; a crash leaves either the old
// file or the complete new one.
// REQUIRES: `params` points at NumParameters(config) floats.
// InvalidArgument (naming the file) for a Llama config (the format has no
// field for the architecture: it holds GPT-2 only), a config that fails
// ValidateConfig or a null `params`; IOError naming the file when writing
// fails.
Status WriteLlmcCheckpoint(const std::string& path, const GPTConfig& config,
                           const float* params);

}  // namespace meridian
