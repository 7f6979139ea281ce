#include "kernels/cpu/matmul.h"

#include <cstddef>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/reduce.h"

namespace meridian::cpu {

void MatmulForward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC) {
  float beta = 0.0f;
  if (bias != nullptr) {
    // Seed the output with the bias and let the GEMM accumulate onto it:
    // one pass over `out` instead of two.
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) {
      float* o = out + (size_t)n * OC;
#pragma omp simd
      for (int j = 0; j < OC; ++j) o[j] = bias[j];
    }
    beta = 1.0f;
  }
  Sgemm(false, true, N, OC, C, 1.0f, inp, C, weight, C, beta, out, OC);
}

void MatmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int N, int C, int OC, float dinp_beta) {
  if (dinp != nullptr) Sgemm(false, false, N, C, OC, 1.0f, dout, OC, weight, C, dinp_beta, dinp, C);
  Sgemm(true, false, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
  if (dbias != nullptr) ColumnSumAccumulate(dbias, dout, N, OC);
}

}  // namespace meridian::cpu
