#include "kernels/cpu/reduce.h"

#include <algorithm>
#include <vector>

namespace meridian::cpu {

namespace {
constexpr int kRowBlocks = 16;
constexpr size_t kSumBlocks = 64;
}  // namespace

void ColumnSumAccumulate(float* out, const float* in, int N, int C) {
  const int blocks = std::min(kRowBlocks, N);
  if (blocks <= 1) {
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < C; ++c) out[c] += in[(size_t)n * C + c];
    return;
  }
  std::vector<float> partial((size_t)blocks * C, 0.0f);
#pragma omp parallel for schedule(static)
  for (int blk = 0; blk < blocks; ++blk) {
    const int n0 = (int)((long)N * blk / blocks), n1 = (int)((long)N * (blk + 1) / blocks);
    float* p = &partial[(size_t)blk * C];
    for (int n = n0; n < n1; ++n) {
      const float* row = in + (size_t)n * C;
#pragma omp simd
      for (int c = 0; c < C; ++c) p[c] += row[c];
    }
  }
  for (int blk = 0; blk < blocks; ++blk)
    for (int c = 0; c < C; ++c) out[c] += partial[(size_t)blk * C + c];
}

double SumOfSquares(const float* x, size_t n) {
  double partial[kSumBlocks] = {0};
#pragma omp parallel for schedule(static)
  for (size_t blk = 0; blk < kSumBlocks; ++blk) {
    const size_t i0 = n * blk / kSumBlocks, i1 = n * (blk + 1) / kSumBlocks;
    double s = 0.0;
    for (size_t i = i0; i < i1; ++i) s += (double)x[i] * x[i];
    partial[blk] = s;
  }
  double total = 0.0;
  for (size_t blk = 0; blk < kSumBlocks; ++blk) total += partial[blk];
  return total;
}

}  // namespace meridian::cpu
