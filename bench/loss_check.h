// The training benchmarks' correctness check, made in the same run as the
// timing: a fresh model trained on one repeated batch.
#pragma once

#include <cmath>
#include <vector>

namespace meridian::bench {

// A freshly initialised GPT predicts almost uniformly, so its first loss
// is ln(V) plus about half the variance of its logits, which grows with
// depth and width: a d4 starts within 0.05 of ln(V), a d12 near 11.0 for
// ln(50257) = 10.83, and a larger model higher still. So the first loss
// may not be below ln(V) by more than 0.2 (no model does better than
// uniform before training) nor above it by more than 1.0, and repeating
// one batch must lower it.
inline bool FreshTrainingLossesLookRight(const std::vector<double>& losses, int vocab_size) {
  if (losses.empty()) return false;
  const double uniform = std::log((double)vocab_size);
  return losses.front() > uniform - 0.2 && losses.front() < uniform + 1.0 && std::isfinite(losses.back()) &&
         losses.back() < losses.front();
}

}  // namespace meridian::bench
