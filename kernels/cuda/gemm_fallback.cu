#include "kernels/cuda/gemm_fallback.cuh"

#include <algorithm>

#include "kernels/cuda/cuda_check.h"

namespace meridian::cuda {

namespace {

constexpr int kTile = 16;
// gridDim.y is limited to 65535; larger n is covered by striding over tiles.
constexpr unsigned kMaxGridY = 65535;

// One thread per D element of a kTile x kTile tile; threadIdx.x runs along
// m, D's contiguous dimension, so the stores coalesce. Operand tiles go
// through shared memory as float (the +1 column avoids bank conflicts when
// a warp reads a column of As).
template <typename TIn, typename TOut>
__global__ void FallbackGemmKernel(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const TIn* a,
                                   int64_t lda, const TIn* b, int64_t ldb, float beta, TOut* d, int64_t ldd,
                                   const TOut* bias) {
  __shared__ float As[kTile][kTile + 1];  // As[i][p] = op(A)(i0 + i, p0 + p)
  __shared__ float Bs[kTile][kTile + 1];  // Bs[p][j] = op(B)(p0 + p, j0 + j)
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int i = blockIdx.x * kTile + tx;
  const int n_tiles = (n + kTile - 1) / kTile;
  for (int jt = blockIdx.y; jt < n_tiles; jt += gridDim.y) {
    const int j = jt * kTile + ty;
    float acc = 0.0f;
    for (int p0 = 0; p0 < k; p0 += kTile) {
      {
        // As[tx][ty] = op(A)(i, p0 + ty)
        const int p = p0 + ty;
        float v = 0.0f;
        if (i < m && p < k) v = ToFloat(trans_a ? a[(size_t)i * lda + p] : a[(size_t)p * lda + i]);
        As[tx][ty] = v;
      }
      {
        // Bs[tx][ty] = op(B)(p0 + tx, jt * kTile + ty)
        const int p = p0 + tx;
        float v = 0.0f;
        if (p < k && j < n) v = ToFloat(trans_b ? b[(size_t)p * ldb + j] : b[(size_t)j * ldb + p]);
        Bs[tx][ty] = v;
      }
      __syncthreads();
#pragma unroll
      for (int p = 0; p < kTile; ++p) acc += As[tx][p] * Bs[p][ty];
      __syncthreads();
    }
    if (i < m && j < n) {
      TOut* out = d + (size_t)j * ldd + i;
      float v = alpha * acc;
      if (beta != 0.0f) v += beta * ToFloat(*out);
      if (bias != nullptr) v += ToFloat(bias[i]);
      *out = FromFloat<TOut>(v);
    }
  }
}

}  // namespace

template <typename TIn, typename TOut>
Status FallbackGemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const TIn* a, int64_t lda,
                    const TIn* b, int64_t ldb, float beta, TOut* d, int64_t ldd, const TOut* bias,
                    cudaStream_t stream) {
  if (m <= 0 || n <= 0 || k <= 0) {
    return Status::InvalidArgument("FallbackGemm: m, n, k must be positive, got " + std::to_string(m) + ", " +
                                   std::to_string(n) + ", " + std::to_string(k));
  }
  const dim3 block(kTile, kTile);
  const dim3 grid((unsigned)((m + kTile - 1) / kTile), std::min<unsigned>((unsigned)((n + kTile - 1) / kTile), kMaxGridY));
  FallbackGemmKernel<TIn, TOut><<<grid, block, 0, stream>>>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta,
                                                             d, ldd, bias);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template Status FallbackGemm<float, float>(bool, bool, int, int, int, float, const float*, int64_t, const float*,
                                           int64_t, float, float*, int64_t, const float*, cudaStream_t);
template Status FallbackGemm<bf16, bf16>(bool, bool, int, int, int, float, const bf16*, int64_t, const bf16*, int64_t,
                                         float, bf16*, int64_t, const bf16*, cudaStream_t);
template Status FallbackGemm<bf16, float>(bool, bool, int, int, int, float, const bf16*, int64_t, const bf16*, int64_t,
                                          float, float*, int64_t, const float*, cudaStream_t);

}  // namespace meridian::cuda
