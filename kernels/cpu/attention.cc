#include "kernels/cpu/attention.h"

#include <cmath>
#include <cstddef>

#include "kernels/cpu/blas.h"

namespace meridian::cpu {

void AttentionForward(float* out, float* att, const float* qkv, int B, int T, int NH, int KVH, int hs) {
  const int rep = NH / KVH, row = (NH + 2 * KVH) * hs, C = NH * hs;
  const float scale = 1.0f / std::sqrt((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b) {
    for (int h = 0; h < NH; ++h) {
      const float* base = qkv + (size_t)b * T * row;
      const float* q = base + h * hs;
      const float* k = base + (NH + h / rep) * hs;
      const float* v = base + (NH + KVH + h / rep) * hs;
      float* p = att + ((size_t)b * NH + h) * T * T;
      // S (T,T) = scale * Q K^T; the upper triangle is computed and discarded,
      // which costs less than T separate dot-product calls.
      Sgemm(false, true, T, T, hs, scale, q, row, k, row, 0.0f, p, T);
      for (int t = 0; t < T; ++t) {
        float* prow = p + (size_t)t * T;
        float maxv = prow[0];
        for (int j = 1; j <= t; ++j) maxv = prow[j] > maxv ? prow[j] : maxv;
        float sum = 0.0f;
        for (int j = 0; j <= t; ++j) {
          prow[j] = std::exp(prow[j] - maxv);
          sum += prow[j];
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j <= t; ++j) prow[j] *= inv;
        for (int j = t + 1; j < T; ++j) prow[j] = 0.0f;
      }
      // out (T,hs) = P V
      Sgemm(false, false, T, hs, T, 1.0f, p, T, v, row, 0.0f, out + (size_t)b * T * C + h * hs, C);
    }
  }
}

void AttentionBackward(float* dqkv, float* scratch, const float* dout, const float* qkv, const float* att, int B,
                       int T, int NH, int KVH, int hs) {
  const int rep = NH / KVH, row = (NH + 2 * KVH) * hs, C = NH * hs;
  const float scale = 1.0f / std::sqrt((float)hs);
  // One task per (batch, key/value head): the query heads sharing it add
  // their dK and dV one after another, so no two threads write the same rows.
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b) {
    for (int g = 0; g < KVH; ++g) {
      const float* base = qkv + (size_t)b * T * row;
      const float* k = base + (NH + g) * hs;
      const float* v = base + (NH + KVH + g) * hs;
      float* dbase = dqkv + (size_t)b * T * row;
      float* dk = dbase + (NH + g) * hs;
      float* dv = dbase + (NH + KVH + g) * hs;
      for (int r = 0; r < rep; ++r) {
        const int h = g * rep + r;
        const float beta = r == 0 ? 0.0f : 1.0f;
        const size_t bh = (size_t)b * NH + h;
        const float* q = base + h * hs;
        float* dq = dbase + h * hs;
        const float* p = att + bh * T * T;
        const float* d = dout + (size_t)b * T * C + h * hs;
        float* ds = scratch + bh * T * T;
        // dP (T,T) = dO V^T ; dV (T,hs) += P^T dO
        Sgemm(false, true, T, T, hs, 1.0f, d, C, v, row, 0.0f, ds, T);
        Sgemm(true, false, T, hs, T, 1.0f, p, T, d, C, beta, dv, row);
        // Softmax backward, row by row: dS = P * (dP - sum_j P dP); causal.
        for (int t = 0; t < T; ++t) {
          const float* prow = p + (size_t)t * T;
          float* drow = ds + (size_t)t * T;
          float dot = 0.0f;
          for (int j = 0; j <= t; ++j) dot += prow[j] * drow[j];
          for (int j = 0; j <= t; ++j) drow[j] = prow[j] * (drow[j] - dot);
          for (int j = t + 1; j < T; ++j) drow[j] = 0.0f;
        }
        // dQ = scale * dS K ; dK += scale * dS^T Q
        Sgemm(false, false, T, hs, T, scale, ds, T, k, row, 0.0f, dq, row);
        Sgemm(true, false, T, hs, T, scale, ds, T, q, row, beta, dk, row);
      }
    }
  }
}

}  // namespace meridian::cpu
