// ColumnSumAccumulate (kernels/cuda/reduce.cuh): bias gradients.
//
// Deterministic without atomics: each block owns kCols consecutive columns;
// its threads stride over the rows in a fixed pattern, keeping float partial
// sums, and the partials are combined by a fixed shared-memory tree. The
// result depends only on N and C, never on scheduling, so repeated steps give
// bit-identical gradients.
#include <string>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/reduce.cuh"

namespace meridian::cuda {

namespace {

constexpr int kCols = 32;  // one warp across the columns: coalesced row reads
constexpr int kRowLanes = 32;

template <typename T>
__global__ void ColumnSumAccumulateKernel(float* out, const T* in, int N, int C) {
  __shared__ float partial[kRowLanes][kCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int col = blockIdx.x * kCols + tx;
  float sum = 0.0f;
  if (col < C) {
    for (int row = ty; row < N; row += kRowLanes) sum += ToFloat(in[(size_t)row * C + col]);
  }
  partial[ty][tx] = sum;
  __syncthreads();
  for (int stride = kRowLanes / 2; stride > 0; stride /= 2) {
    if (ty < stride) partial[ty][tx] += partial[ty + stride][tx];
    __syncthreads();
  }
  if (ty == 0 && col < C) out[col] += partial[0][tx];
}

}  // namespace

template <typename T>
Status ColumnSumAccumulate(float* out, const T* in, int N, int C, cudaStream_t stream) {
  if (N < 0 || C < 0) {
    return Status::InvalidArgument("ColumnSumAccumulate: N and C must not be negative, got N=" + std::to_string(N) +
                                   " C=" + std::to_string(C));
  }
  if (N == 0 || C == 0) return Status::OK();  // adding an empty sum
  if (out == nullptr || in == nullptr) return Status::InvalidArgument("ColumnSumAccumulate: null out or in");
  const dim3 block(kCols, kRowLanes);
  const dim3 grid((unsigned)((C + kCols - 1) / kCols));
  ColumnSumAccumulateKernel<T><<<grid, block, 0, stream>>>(out, in, N, C);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template Status ColumnSumAccumulate<float>(float*, const float*, int, int, cudaStream_t);
template Status ColumnSumAccumulate<bf16>(float*, const bf16*, int, int, cudaStream_t);

}  // namespace meridian::cuda
