#include "kernels/cpu/rmsnorm.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace meridian::cpu {

void RmsNormForward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* x = inp + (size_t)n * C;
    float sumsq = 0.0f;
#pragma omp simd reduction(+ : sumsq)
    for (int c = 0; c < C; ++c) sumsq += x[c] * x[c];
    const float s = 1.0f / std::sqrt(sumsq / C + eps);
    float* o = out + (size_t)n * C;
#pragma omp simd
    for (int c = 0; c < C; ++c) o[c] = x[c] * s * weight[c];
    rstd[n] = s;
  }
}

void RmsNormBackward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                     const float* rstd, int N, int C) {
  // dweight is a sum over rows: fixed row blocks keep it deterministic for
  // any thread count (as LayerNormBackward does).
  constexpr int kRowBlocks = 16;
  const int blocks = std::max(1, std::min(kRowBlocks, N));
  std::vector<float> partial((size_t)blocks * C, 0.0f);
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < blocks; ++blk) {
    const int n0 = (int)((long)N * blk / blocks), n1 = (int)((long)N * (blk + 1) / blocks);
    float* pw = &partial[(size_t)blk * C];
    for (int n = n0; n < n1; ++n) {
      const float* x = inp + (size_t)n * C;
      const float* d = dout + (size_t)n * C;
      float* dx = dinp + (size_t)n * C;
      const float s = rstd[n];
      // y = x s w; dx = s (w d) - x s^3 mean(w d x).
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int c = 0; c < C; ++c) dot += weight[c] * d[c] * x[c];
      const float k = s * s * s * dot / C;
#pragma omp simd
      for (int c = 0; c < C; ++c) {
        pw[c] += x[c] * s * d[c];
        dx[c] += s * weight[c] * d[c] - k * x[c];
      }
    }
  }
  for (int blk = 0; blk < blocks; ++blk) {
    const float* pw = &partial[(size_t)blk * C];
    for (int c = 0; c < C; ++c) dweight[c] += pw[c];
  }
}

}  // namespace meridian::cpu
