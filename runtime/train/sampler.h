// Autoregressive sampling from a whole (single-stage) model, and the text
// it reads and writes through the run's tokenizer.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/status.h"
#include "runtime/data/tokenizer.h"
#include "runtime/model/gpt_model.h"

namespace meridian {

// Appends `count` tokens to `tokens` (which must be non-empty), sampling
// from softmax(logits / temperature) over the real vocabulary. The context
// is the last model.max_seq() tokens.
void SampleTokens(GPTModel& model, std::vector<int>& tokens, int count, float temperature, Rng& rng);

// The tokenizer a run's text goes through: `option` (--tokenizer) unless it
// is "auto"; else the one a checkpoint recorded (`recorded`, may be empty);
// else by the vocabulary: 50257 is GPT-2's, 128256 Llama 3's, up to 256 is
// bytes. "" when none fits: samples are then printed as token ids.
std::string ChooseTokenizer(const std::string& option, const std::string& recorded, int vocab_size);

struct SampleRequest {
  std::string prompt;
  int count = 0;
  float temperature = 1.0f;
};

// Samples `count` tokens after the encoded prompt and writes the text
// (prompt included) to `out` between "---- sample" and "---- end of
// sample" lines; without a tokenizer, the new token ids. An empty prompt
// starts from the tokenizer's end-of-text token (0 without one).
void WriteSample(GPTModel& model, const Tokenizer* tokenizer, const SampleRequest& request, Rng& rng,
                 std::FILE* out);

}  // namespace meridian
