// SumOfSquaresAccumulate (kernels/cuda/reduce.cuh), for the gradient norm,
// and SumAccumulate, for the loss.
// Each thread squares and sums in double over a grid-stride range, blocks
// reduce by warp shuffles, and one double atomicAdd per block lands in *out.
// The order of those block adds varies, so the last bits may differ between
// runs. ColumnSumAccumulate lives in column_sum.cu.
#include <algorithm>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/warp_reduce.cuh"

namespace meridian::cuda {

namespace {

constexpr int kThreads = 256;
// Enough blocks to fill a large GPU; more would only add atomics.
constexpr size_t kMaxBlocks = 1024;

__global__ void __launch_bounds__(kThreads) SumOfSquaresKernel(double* out, const float* x, size_t n) {
  __shared__ double scratch[kWarpSize];
  double sum = 0.0;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const double v = x[i];
    sum += v * v;
  }
  sum = BlockSum(sum, scratch);
  if (threadIdx.x == 0) atomicAdd(out, sum);
}

__global__ void __launch_bounds__(kThreads) SumKernel(double* out, const float* x, size_t n, double scale) {
  __shared__ double scratch[kWarpSize];
  double sum = 0.0;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    sum += x[i];
  sum = BlockSum(sum, scratch);
  if (threadIdx.x == 0) atomicAdd(out, scale * sum);
}

}  // namespace

Status SumOfSquaresAccumulate(double* out, const float* x, size_t n, cudaStream_t stream) {
  if (n == 0) return Status::OK();
  if (out == nullptr || x == nullptr) return Status::InvalidArgument("SumOfSquaresAccumulate: null out or x");
  const unsigned blocks = (unsigned)std::min((n + kThreads - 1) / kThreads, kMaxBlocks);
  SumOfSquaresKernel<<<blocks, kThreads, 0, stream>>>(out, x, n);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

Status SumAccumulate(double* out, const float* x, size_t n, double scale, cudaStream_t stream) {
  if (n == 0) return Status::OK();
  if (out == nullptr || x == nullptr) return Status::InvalidArgument("SumAccumulate: null out or x");
  const unsigned blocks = (unsigned)std::min((n + kThreads - 1) / kThreads, kMaxBlocks);
  SumKernel<<<blocks, kThreads, 0, stream>>>(out, x, n, scale);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

}  // namespace meridian::cuda
