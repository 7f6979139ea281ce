// Autoregressive sampling from a whole (single-stage) model.
#pragma once

#include <vector>

#include "common/random.h"
#include "runtime/model/gpt_model.h"

namespace meridian {

// Appends `count` tokens to `tokens` (which must be non-empty), sampling
// from softmax(logits / temperature) over the real vocabulary. The context
// is the last model.max_seq() tokens.
void SampleTokens(GPTModel& model, std::vector<int>& tokens, int count, float temperature, Rng& rng);

}  // namespace meridian
