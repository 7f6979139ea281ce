#include "kernels/cpu/swiglu.h"

#include <cmath>
#include <cstddef>

namespace meridian::cpu {

void SwigluForward(float* out, const float* gate_up, int N, int F) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* g = gate_up + (size_t)n * 2 * F;
    const float* u = g + F;
    float* o = out + (size_t)n * F;
#pragma omp simd
    for (int i = 0; i < F; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  }
}

void SwigluBackward(float* dgate_up, const float* gate_up, const float* dout, int N, int F) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const float* g = gate_up + (size_t)n * 2 * F;
    const float* u = g + F;
    const float* d = dout + (size_t)n * F;
    float* dg = dgate_up + (size_t)n * 2 * F;
    float* du = dg + F;
#pragma omp simd
    for (int i = 0; i < F; ++i) {
      const float sig = 1.0f / (1.0f + std::exp(-g[i]));
      const float silu = g[i] * sig;
      du[i] = d[i] * silu;
      // silu'(g) = sig (1 + g (1 - sig))
      dg[i] = d[i] * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
    }
  }
}

}  // namespace meridian::cpu
