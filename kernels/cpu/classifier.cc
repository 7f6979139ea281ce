#include "kernels/cpu/classifier.h"

#include <cmath>
#include <cstddef>

namespace meridian::cpu {

void SoftmaxCrossEntropy(float* logits, float* losses, const int* targets, int N, int V, int Vp, float dloss,
                         bool compute_grad) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    float* row = logits + (size_t)n * Vp;
    const int target = targets[n];
    float maxv = row[0];
#pragma omp simd reduction(max : maxv)
    for (int j = 0; j < V; ++j) maxv = row[j] > maxv ? row[j] : maxv;
    const float target_logit = row[target];
    // Exponentials are written back into the row so the gradient pass
    // reads them instead of recomputing: the row is touched three times.
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < V; ++j) {
      const float e = std::exp(row[j] - maxv);
      row[j] = e;
      sum += e;
    }
    losses[n] = std::log(sum) - (target_logit - maxv);
    if (!compute_grad) continue;
    const float scale = dloss / sum;
#pragma omp simd
    for (int j = 0; j < V; ++j) row[j] *= scale;
    row[target] -= dloss;
    for (int j = V; j < Vp; ++j) row[j] = 0.0f;
  }
}

void SoftmaxRow(float* probs, const float* logits, int V, float temperature) {
  const float inv_t = 1.0f / temperature;
  float maxv = logits[0] * inv_t;
  for (int j = 1; j < V; ++j) maxv = logits[j] * inv_t > maxv ? logits[j] * inv_t : maxv;
  double sum = 0.0;
  for (int j = 0; j < V; ++j) {
    probs[j] = std::exp(logits[j] * inv_t - maxv);
    sum += probs[j];
  }
  const float inv = (float)(1.0 / sum);
  for (int j = 0; j < V; ++j) probs[j] *= inv;
}

}  // namespace meridian::cpu
