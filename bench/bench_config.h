// The model a training benchmark times: a preset with the command line's
// overrides, built as meridian-train builds it (TrainOptions::ModelConfig),
// its sequence length set to the benchmark's.
#pragma once

#include <algorithm>
#include <string>

#include "runtime/model/gpt_config.h"

namespace meridian::bench {

// `vocab` 0 keeps the preset's vocabulary; the overrides (architecture,
// shapes, tied head) go through ApplyModelOverrides, which validates.
inline Result<GPTConfig> BenchModelConfig(const std::string& preset, const ModelOverrides& overrides, int vocab,
                                          int seq) {
  MERIDIAN_ASSIGN_OR_RETURN(GPTConfig c, PresetConfig(preset));
  if (vocab > 0) c.vocab_size = vocab;
  c.padded_vocab_size = PadVocab(c.vocab_size);
  c.max_seq_len = std::max(seq, 1);
  return ApplyModelOverrides(c, overrides);
}

// The shapes-only form (the GPU bench's).
inline Result<GPTConfig> BenchModelConfig(const std::string& preset, int n_layer, int n_head, int n_embd, int vocab,
                                          int seq) {
  ModelOverrides overrides;
  overrides.n_layer = n_layer;
  overrides.n_head = n_head;
  overrides.n_embd = n_embd;
  return BenchModelConfig(preset, overrides, vocab, seq);
}

}  // namespace meridian::bench
