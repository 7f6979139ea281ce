#include "kernels/cpu/rope.h"

#include <cstddef>

namespace meridian::cpu {

namespace {

// sign +1 turns forward, -1 turns back (the transpose of a rotation).
void Rotate(float* x, const float* cos, const float* sin, int B, int T, int heads, int hs, int row_stride,
            float sign) {
  const int half = hs / 2;
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      float* row = x + ((size_t)b * T + t) * row_stride;
      const float* c = cos + (size_t)t * half;
      const float* s = sin + (size_t)t * half;
      for (int h = 0; h < heads; ++h) {
        float* lo = row + (size_t)h * hs;
        float* hi = lo + half;
#pragma omp simd
        for (int i = 0; i < half; ++i) {
          const float a = lo[i], b2 = hi[i], sn = sign * s[i];
          lo[i] = a * c[i] - b2 * sn;
          hi[i] = b2 * c[i] + a * sn;
        }
      }
    }
  }
}

}  // namespace

void RopeForward(float* x, const float* cos, const float* sin, int B, int T, int heads, int hs, int row_stride) {
  Rotate(x, cos, sin, B, T, heads, hs, row_stride, 1.0f);
}

void RopeBackward(float* dx, const float* cos, const float* sin, int B, int T, int heads, int hs, int row_stride) {
  Rotate(dx, cos, sin, B, T, heads, hs, row_stride, -1.0f);
}

}  // namespace meridian::cpu
