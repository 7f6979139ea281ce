// The one place kernels/cpu reaches BLAS. Row-major single-precision GEMM:
//   C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C
// with leading dimensions as in CBLAS, so strided views (one head's
// columns of a fused QKV buffer) need no copies.
#pragma once

namespace meridian::cpu {

void Sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);

// Threads BLAS may use for one call made outside a parallel region.
void SetBlasThreads(int threads);

}  // namespace meridian::cpu
