// A plain tiled GEMM in cuBLAS's column-major convention, for the shapes,
// strides or alignments cuBLASLt offers no algorithm for (kernels/cuda/
// matmul.cu falls back to it). Slow but exact in its contract: float
// accumulation, any leading dimensions, any pointer alignment. Declared here
// rather than inside matmul.cu so that its test can reach it.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

// D (m,n; column-major, leading dimension ldd) =
//   alpha * op(A) @ op(B) + beta * D + bias (broadcast along each row i)
// op(A) is (m,k): A stored (m,k) with lda, or (k,m) with lda when trans_a.
// op(B) is (k,n): B stored (k,n) with ldb, or (n,k) with ldb when trans_b.
// With beta == 0 the old D is not read (it may hold NaN). bias (m) may be
// null. Instantiated for (TIn, TOut) = (float, float), (bf16, bf16),
// (bf16, float).
// REQUIRES: m, n, k > 0.
template <typename TIn, typename TOut>
Status FallbackGemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const TIn* a, int64_t lda,
                    const TIn* b, int64_t ldb, float beta, TOut* d, int64_t ldd, const TOut* bias,
                    cudaStream_t stream);

}  // namespace meridian::cuda
