#include "runtime/train/sampler.h"

#include <algorithm>

#include "kernels/cpu/classifier.h"

namespace meridian {

void SampleTokens(GPTModel& model, std::vector<int>& tokens, int count, float temperature, Rng& rng) {
  const GPTConfig& c = model.config();
  std::vector<float> probs(c.vocab_size);
  for (int i = 0; i < count; ++i) {
    const int T = std::min<int>((int)tokens.size(), model.max_seq());
    const int* context = tokens.data() + tokens.size() - T;
    // Re-running the whole window per token is quadratic, but the sample is
    // a few hundred tokens of a small model: simpler than a KV cache here.
    model.Forward(context, nullptr, nullptr, 1, T, false);
    const float* last = model.logits() + (size_t)(T - 1) * c.padded_vocab_size;
    cpu::SoftmaxRow(probs.data(), last, c.vocab_size, temperature);
    const double u = rng.Uniform();
    double cdf = 0.0;
    int next = c.vocab_size - 1;
    for (int j = 0; j < c.vocab_size; ++j) {
      cdf += probs[j];
      if (u < cdf) {
        next = j;
        break;
      }
    }
    tokens.push_back(next);
  }
}

}  // namespace meridian
