// Training FLOPs, as the PaLM/llm.c MFU convention counts them: 6 per
// parameter per token (forward 2, backward 4) plus the attention scores and
// weighted sums, 12 * L * C * T per token.
#pragma once

#include "runtime/model/gpt_config.h"
#include "runtime/model/parameter_layout.h"

namespace meridian {

inline double TrainingFlopsPerToken(const GPTConfig& c, int seq_len) {
  return 6.0 * (double)NumParameters(c) + 12.0 * c.n_layer * (double)c.n_embd * seq_len;
}

}  // namespace meridian
