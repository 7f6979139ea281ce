#include "kernels/cpu/encoder.h"

#include <algorithm>
#include <cstddef>

namespace meridian::cpu {

void EncoderForward(float* out, const int* inp, const float* wte, const float* wpe, int B, int T, int C) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      float* o = out + ((size_t)b * T + t) * C;
      const float* e = wte + (size_t)inp[b * T + t] * C;
      if (wpe == nullptr) {
        std::copy(e, e + C, o);
        continue;
      }
      const float* p = wpe + (size_t)t * C;
#pragma omp simd
      for (int c = 0; c < C; ++c) o[c] = e[c] + p[c];
    }
  }
}

void EncoderBackward(float* dwte, float* dwpe, const float* dout, const int* inp, int B, int T, int C) {
  // Tokens repeat, so rows of dwte collide; threads own disjoint column
  // ranges instead, and each walks all tokens in order (deterministic).
  constexpr int kColBlock = 64;
  const int col_blocks = (C + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static)
  for (int cb = 0; cb < col_blocks; ++cb) {
    const int c0 = cb * kColBlock, c1 = std::min(C, c0 + kColBlock);
    for (int b = 0; b < B; ++b) {
      for (int t = 0; t < T; ++t) {
        const float* d = dout + ((size_t)b * T + t) * C;
        float* w = dwte + (size_t)inp[b * T + t] * C;
        for (int c = c0; c < c1; ++c) w[c] += d[c];
        if (dwpe == nullptr) continue;
        float* p = dwpe + (size_t)t * C;
        for (int c = c0; c < c1; ++c) p[c] += d[c];
      }
    }
  }
}

}  // namespace meridian::cpu
