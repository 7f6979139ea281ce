#include "kernels/cpu/residual.h"

namespace meridian::cpu {

void ResidualForward(float* out, const float* a, const float* b, size_t n) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

}  // namespace meridian::cpu
