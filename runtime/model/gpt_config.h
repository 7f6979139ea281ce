// GPT-2 model configuration and the named presets of the design contract.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace meridian {

struct GPTConfig {
  int max_seq_len = 1024;        // maxT: rows of the position embedding
  int vocab_size = 50257;        // V: the real vocabulary
  int padded_vocab_size = 50304; // Vp >= V: rows of the token embedding
  int n_layer = 12;              // L
  int n_head = 12;               // NH
  int n_embd = 768;              // C

  int head_size() const { return n_embd / n_head; }
};

// Rounds the vocabulary up to a multiple of 64 (llm.c pads 50257 to 50304,
// a multiple of 128; 64 keeps small byte-level vocabularies unpadded).
int PadVocab(int vocab_size);

// Checks every field; the message names the first bad one.
Status ValidateConfig(const GPTConfig& config);

// "d4" (tiny, for tests and the CPU demo), "d12" (124M), "d24" (350M),
// "d36" (774M), "d48" (1.5B). All use the GPT-2 vocabulary and maxT 1024;
// callers override vocab and sequence length as needed.
Result<GPTConfig> PresetConfig(const std::string& name);

std::string DescribeConfig(const GPTConfig& config);

}  // namespace meridian
