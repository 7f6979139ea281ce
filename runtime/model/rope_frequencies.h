// Rotary embedding frequencies and tables as Hugging Face's Llama computes
// them: inv_freq[i] = theta^(-2i/hs) for i < hs/2, then the "llama3"
// rope_scaling when the config has one.
#pragma once

#include <vector>

#include "runtime/model/gpt_config.h"

namespace meridian {

// hs/2 inverse frequencies, in double.
std::vector<double> RopeInverseFrequencies(const GPTConfig& config);

// cos and sin of t * inv_freq[i] for t < T, as (T, hs/2) float tables.
struct RopeTables {
  std::vector<float> cos, sin;
};
RopeTables MakeRopeTables(const GPTConfig& config, int T);

}  // namespace meridian
