// The model a training benchmark times: a preset with the command line's
// overrides, its position table sized to the benchmark's sequence length.
#pragma once

#include <algorithm>
#include <string>

#include "runtime/model/gpt_config.h"

namespace meridian::bench {

inline Result<GPTConfig> BenchModelConfig(const std::string& preset, int n_layer, int n_head, int n_embd, int vocab,
                                          int seq) {
  MERIDIAN_ASSIGN_OR_RETURN(GPTConfig c, PresetConfig(preset));
  if (n_layer) c.n_layer = n_layer;
  if (n_head) c.n_head = n_head;
  if (n_embd) c.n_embd = n_embd;
  c.vocab_size = vocab;
  c.padded_vocab_size = PadVocab(vocab);
  c.max_seq_len = std::max(seq, 1);
  MERIDIAN_RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

}  // namespace meridian::bench
