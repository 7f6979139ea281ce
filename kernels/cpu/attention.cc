#include "kernels/cpu/attention.h"

#include <cmath>
#include <cstddef>

#include "kernels/cpu/blas.h"

namespace meridian::cpu {

void AttentionForward(float* out, float* att, const float* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH, C3 = 3 * C;
  const float scale = 1.0f / std::sqrt((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < NH; ++h) {
      const float* q = qkv + (size_t)b * T * C3 + h * hs;
      const float* k = q + C;
      const float* v = q + 2 * C;
      float* p = att + ((size_t)b * NH + h) * T * T;
      // S (T,T) = scale * Q K^T; the upper triangle is computed and discarded,
      // which costs less than T separate dot-product calls.
      Sgemm(false, true, T, T, hs, scale, q, C3, k, C3, 0.0f, p, T);
      for (int t = 0; t < T; ++t) {
        float* row = p + (size_t)t * T;
        float maxv = row[0];
        for (int j = 1; j <= t; ++j) maxv = row[j] > maxv ? row[j] : maxv;
        float sum = 0.0f;
        for (int j = 0; j <= t; ++j) {
          row[j] = std::exp(row[j] - maxv);
          sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j <= t; ++j) row[j] *= inv;
        for (int j = t + 1; j < T; ++j) row[j] = 0.0f;
      }
      // out (T,hs) = P V
      Sgemm(false, false, T, hs, T, 1.0f, p, T, v, C3, 0.0f, out + (size_t)b * T * C + h * hs, C);
    }
  }
}

void AttentionBackward(float* dqkv, float* scratch, const float* dout, const float* qkv, const float* att,
                       int B, int T, int C, int NH) {
  const int hs = C / NH, C3 = 3 * C;
  const float scale = 1.0f / std::sqrt((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < NH; ++h) {
      const size_t bh = (size_t)b * NH + h;
      const float* q = qkv + (size_t)b * T * C3 + h * hs;
      const float* k = q + C;
      const float* v = q + 2 * C;
      float* dq = dqkv + (size_t)b * T * C3 + h * hs;
      float* dk = dq + C;
      float* dv = dq + 2 * C;
      const float* p = att + bh * T * T;
      const float* d = dout + (size_t)b * T * C + h * hs;
      float* ds = scratch + bh * T * T;
      // dP (T,T) = dO V^T ; dV (T,hs) = P^T dO
      Sgemm(false, true, T, T, hs, 1.0f, d, C, v, C3, 0.0f, ds, T);
      Sgemm(true, false, T, hs, T, 1.0f, p, T, d, C, 0.0f, dv, C3);
      // Softmax backward, row by row: dS = P * (dP - sum_j P dP); causal.
      for (int t = 0; t < T; ++t) {
        const float* prow = p + (size_t)t * T;
        float* drow = ds + (size_t)t * T;
        float dot = 0.0f;
        for (int j = 0; j <= t; ++j) dot += prow[j] * drow[j];
        for (int j = 0; j <= t; ++j) drow[j] = prow[j] * (drow[j] - dot);
        for (int j = t + 1; j < T; ++j) drow[j] = 0.0f;
      }
      // dQ = scale * dS K ; dK = scale * dS^T Q
      Sgemm(false, false, T, hs, T, scale, ds, T, k, C3, 0.0f, dq, C3);
      Sgemm(true, false, T, hs, T, scale, ds, T, q, C3, 0.0f, dk, C3);
    }
  }
}

}  // namespace meridian::cpu
