// RMSNorm: one warp per row, the sum of squares by warp shuffles in float
// (as layernorm.cu). The backward is two kernels: dinp one warp per row, and
// dweight a column sum over the rows without atomics (as column_sum.cu), so
// its result depends only on N and C.
#include "kernels/cuda/rmsnorm.cuh"

#include <string>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/warp_reduce.cuh"

namespace meridian::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerBlock = kThreads / kWarpSize;

// dweight: a block owns kCols consecutive columns; kRowLanes threads per
// column stride over the rows, then a fixed shared-memory tree adds them.
constexpr int kCols = 32;
constexpr int kRowLanes = 32;

// block kThreads; warp w of block b owns row b * kRowsPerBlock + w.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    RmsNormForwardKernel(T* out, float* rstd, const T* inp, const T* weight, int N, int C, float eps) {
  const int lane = threadIdx.x % kWarpSize;
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  if (row >= N) return;  // the whole warp leaves together
  const size_t off = (size_t)row * C;
  const T* x = inp + off;
  T* o = out + off;
  float sumsq = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) {
    const float v = ToFloat(x[c]);
    sumsq += v * v;
  }
  const float s = 1.0f / sqrtf(WarpSum(sumsq) / C + eps);
  for (int c = lane; c < C; c += kWarpSize) o[c] = FromFloat<T>(ToFloat(x[c]) * s * ToFloat(weight[c]));
  if (lane == 0) rstd[row] = s;
}

// dx = s (w d) - x s^3 mean(w d x), added to dinp. Same layout as the forward.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    RmsNormBackwardInputKernel(T* dinp, const T* dout, const T* inp, const T* weight, const float* rstd, int N,
                               int C) {
  const int lane = threadIdx.x % kWarpSize;
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  if (row >= N) return;
  const size_t off = (size_t)row * C;
  const T* x = inp + off;
  const T* d = dout + off;
  T* dx = dinp + off;
  const float s = rstd[row];
  float dot = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) dot += ToFloat(weight[c]) * ToFloat(d[c]) * ToFloat(x[c]);
  const float k = s * s * s * WarpSum(dot) / C;
  for (int c = lane; c < C; c += kWarpSize) {
    dx[c] = FromFloat<T>(ToFloat(dx[c]) + (s * ToFloat(weight[c]) * ToFloat(d[c]) - k * ToFloat(x[c])));
  }
}

// dweight[c] += sum_n x[n,c] rstd[n] dout[n,c]. block (kCols, kRowLanes).
template <typename T>
__global__ void RmsNormBackwardWeightKernel(float* dweight, const T* dout, const T* inp, const float* rstd, int N,
                                            int C) {
  __shared__ float partial[kRowLanes][kCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int col = blockIdx.x * kCols + tx;
  float sum = 0.0f;
  if (col < C) {
    for (int row = ty; row < N; row += kRowLanes) {
      const size_t i = (size_t)row * C + col;
      sum += ToFloat(inp[i]) * rstd[row] * ToFloat(dout[i]);
    }
  }
  partial[ty][tx] = sum;
  __syncthreads();
  for (int stride = kRowLanes / 2; stride > 0; stride /= 2) {
    if (ty < stride) partial[ty][tx] += partial[ty + stride][tx];
    __syncthreads();
  }
  if (ty == 0 && col < C) dweight[col] += partial[0][tx];
}

// Zero rows are a no-op (*empty); rows of zero width have no norm.
Status ValidateShape(const char* op, int N, int C, bool* empty) {
  if (N < 0 || C < 0) {
    return Status::InvalidArgument(std::string(op) + ": N and C must not be negative, got N=" + std::to_string(N) +
                                   " C=" + std::to_string(C));
  }
  *empty = N == 0;
  if (!*empty && C == 0) return Status::InvalidArgument(std::string(op) + ": C must be positive for N > 0 rows");
  return Status::OK();
}

unsigned RowBlocks(int N) { return (unsigned)(((long)N + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace

template <typename T>
Status RmsNormForward(T* out, float* rstd, const T* inp, const T* weight, int N, int C, float eps,
                      cudaStream_t stream) {
  bool empty = false;
  MERIDIAN_RETURN_IF_ERROR(ValidateShape("RmsNormForward", N, C, &empty));
  if (empty) return Status::OK();
  if (out == nullptr || rstd == nullptr || inp == nullptr || weight == nullptr) {
    return Status::InvalidArgument("RmsNormForward: null out, rstd, inp or weight");
  }
  RmsNormForwardKernel<T><<<RowBlocks(N), kThreads, 0, stream>>>(out, rstd, inp, weight, N, C, eps);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template <typename T>
Status RmsNormBackward(T* dinp, float* dweight, const T* dout, const T* inp, const T* weight, const float* rstd, int N,
                       int C, cudaStream_t stream) {
  bool empty = false;
  MERIDIAN_RETURN_IF_ERROR(ValidateShape("RmsNormBackward", N, C, &empty));
  if (empty) return Status::OK();
  if (dinp == nullptr || dweight == nullptr || dout == nullptr || inp == nullptr || weight == nullptr ||
      rstd == nullptr) {
    return Status::InvalidArgument("RmsNormBackward: null dinp, dweight, dout, inp, weight or rstd");
  }
  RmsNormBackwardInputKernel<T><<<RowBlocks(N), kThreads, 0, stream>>>(dinp, dout, inp, weight, rstd, N, C);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  const dim3 block(kCols, kRowLanes);
  const dim3 grid((unsigned)((C + kCols - 1) / kCols));
  RmsNormBackwardWeightKernel<T><<<grid, block, 0, stream>>>(dweight, dout, inp, rstd, N, C);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template Status RmsNormForward<float>(float*, float*, const float*, const float*, int, int, float, cudaStream_t);
template Status RmsNormForward<bf16>(bf16*, float*, const bf16*, const bf16*, int, int, float, cudaStream_t);
template Status RmsNormBackward<float>(float*, float*, const float*, const float*, const float*, const float*, int,
                                       int, cudaStream_t);
template Status RmsNormBackward<bf16>(bf16*, float*, const bf16*, const bf16*, const bf16*, const float*, int, int,
                                      cudaStream_t);

}  // namespace meridian::cuda
