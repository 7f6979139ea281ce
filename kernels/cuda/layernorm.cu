// LayerNorm: one warp per row, statistics by warp shuffles in float, two
// passes over the row for the mean and the centred variance (as the CPU
// kernel, which avoids the cancellation of E[x^2] - E[x]^2).
//
// The fused residual variant differs from LayerNormForward only in where the
// row comes from: it rounds a + b to T, stores it, and normalises the stored
// values through the same code, so it equals ResidualForward followed by
// LayerNormForward bit for bit.
#include "kernels/cuda/layernorm.cuh"

#include <algorithm>
#include <string>

#include "kernels/cpu/layernorm.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/warp_reduce.cuh"

namespace meridian::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerBlock = kThreads / kWarpSize;
constexpr float kEps = cpu::kLayerNormEps;

// Normalises row x (C) into o; `sum` is this lane's share of the row's sum.
// REQUIRES: all 32 lanes of the warp call it for the same row.
template <typename T>
__device__ inline void NormalizeRow(T* o, float* mean, float* rstd, const T* x, float sum, const T* weight,
                                    const T* bias, int C, int lane) {
  const float m = WarpSum(sum) / C;
  float var = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) {
    const float d = ToFloat(x[c]) - m;
    var += d * d;
  }
  const float s = 1.0f / sqrtf(WarpSum(var) / C + kEps);
  for (int c = lane; c < C; c += kWarpSize) {
    o[c] = FromFloat<T>((ToFloat(x[c]) - m) * s * ToFloat(weight[c]) + ToFloat(bias[c]));
  }
  if (lane == 0) {
    *mean = m;
    *rstd = s;
  }
}

// block kThreads; warp w of block b owns row b * kRowsPerBlock + w.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    LayerNormForwardKernel(T* out, float* mean, float* rstd, const T* inp, const T* weight, const T* bias, int N,
                           int C) {
  const int lane = threadIdx.x % kWarpSize;
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  if (row >= N) return;  // the whole warp leaves together
  const size_t off = (size_t)row * C;
  const T* x = inp + off;
  float sum = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) sum += ToFloat(x[c]);
  NormalizeRow(out + off, mean + row, rstd + row, x, sum, weight, bias, C, lane);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    ResidualLayerNormForwardKernel(T* residual, T* out, float* mean, float* rstd, const T* a, const T* b,
                                   const T* weight, const T* bias, int N, int C) {
  const int lane = threadIdx.x % kWarpSize;
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  if (row >= N) return;
  const size_t off = (size_t)row * C;
  T* r = residual + off;
  float sum = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) {
    const T v = FromFloat<T>(ToFloat(a[off + c]) + ToFloat(b[off + c]));
    r[c] = v;
    sum += ToFloat(v);
  }
  // Each lane rereads only the elements it wrote itself, so no barrier is
  // needed before normalising the stored row.
  NormalizeRow(out + off, mean + row, rstd + row, r, sum, weight, bias, C, lane);
}

// dynamic shared memory: 2 * C floats, this block's dweight then dbias
// partial sums. Warps stride over the rows; each block adds its partials
// into dweight / dbias once at the end.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    LayerNormBackwardKernel(T* dinp, float* dweight, float* dbias, const T* dout, const T* inp, const T* weight,
                            const float* mean, const float* rstd, int N, int C) {
  extern __shared__ float partial[];
  float* dw = partial;
  float* db = partial + C;
  for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) partial[c] = 0.0f;
  __syncthreads();

  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int warps = blockDim.x / kWarpSize;
  for (int row = blockIdx.x * warps + warp; row < N; row += gridDim.x * warps) {
    const size_t off = (size_t)row * C;
    const T* x = inp + off;
    const T* d = dout + off;
    T* dx = dinp + off;
    const float m = mean[row], s = rstd[row];
    float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
    for (int c = lane; c < C; c += kWarpSize) {
      const float norm = (ToFloat(x[c]) - m) * s;
      const float dnorm = ToFloat(weight[c]) * ToFloat(d[c]);
      dnorm_mean += dnorm;
      dnorm_norm_mean += dnorm * norm;
    }
    dnorm_mean = WarpSum(dnorm_mean) / C;
    dnorm_norm_mean = WarpSum(dnorm_norm_mean) / C;
    for (int c = lane; c < C; c += kWarpSize) {
      const float dc = ToFloat(d[c]);
      const float norm = (ToFloat(x[c]) - m) * s;
      const float dnorm = ToFloat(weight[c]) * dc;
      atomicAdd(&db[c], dc);
      atomicAdd(&dw[c], norm * dc);
      dx[c] = FromFloat<T>(ToFloat(dx[c]) + (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s);
    }
  }
  __syncthreads();
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    atomicAdd(&dweight[c], dw[c]);
    atomicAdd(&dbias[c], db[c]);
  }
}

// Zero rows are a no-op (*empty); rows of zero width have no mean.
Status ValidateShape(const char* op, int N, int C, bool* empty) {
  if (N < 0 || C < 0) {
    return Status::InvalidArgument(std::string(op) + ": N and C must not be negative, got N=" + std::to_string(N) +
                                   " C=" + std::to_string(C));
  }
  *empty = N == 0;
  if (!*empty && C == 0) return Status::InvalidArgument(std::string(op) + ": C must be positive for N > 0 rows");
  return Status::OK();
}

long RowBlocks(int N) { return ((long)N + kRowsPerBlock - 1) / kRowsPerBlock; }

}  // namespace

template <typename T>
Status LayerNormForward(T* out, float* mean, float* rstd, const T* inp, const T* weight, const T* bias, int N, int C,
                        cudaStream_t stream) {
  bool empty = false;
  MERIDIAN_RETURN_IF_ERROR(ValidateShape("LayerNormForward", N, C, &empty));
  if (empty) return Status::OK();
  if (out == nullptr || mean == nullptr || rstd == nullptr || inp == nullptr || weight == nullptr ||
      bias == nullptr) {
    return Status::InvalidArgument("LayerNormForward: null out, mean, rstd, inp, weight or bias");
  }
  LayerNormForwardKernel<T><<<(unsigned)RowBlocks(N), kThreads, 0, stream>>>(out, mean, rstd, inp, weight, bias, N, C);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template <typename T>
Status ResidualLayerNormForward(T* residual, T* out, float* mean, float* rstd, const T* a, const T* b,
                                const T* weight, const T* bias, int N, int C, cudaStream_t stream) {
  bool empty = false;
  MERIDIAN_RETURN_IF_ERROR(ValidateShape("ResidualLayerNormForward", N, C, &empty));
  if (empty) return Status::OK();
  if (residual == nullptr || out == nullptr || mean == nullptr || rstd == nullptr || a == nullptr || b == nullptr ||
      weight == nullptr || bias == nullptr) {
    return Status::InvalidArgument("ResidualLayerNormForward: null residual, out, mean, rstd, a, b, weight or bias");
  }
  ResidualLayerNormForwardKernel<T>
      <<<(unsigned)RowBlocks(N), kThreads, 0, stream>>>(residual, out, mean, rstd, a, b, weight, bias, N, C);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template <typename T>
Status LayerNormBackward(T* dinp, float* dweight, float* dbias, const T* dout, const T* inp, const T* weight,
                         const float* mean, const float* rstd, int N, int C, cudaStream_t stream) {
  bool empty = false;
  MERIDIAN_RETURN_IF_ERROR(ValidateShape("LayerNormBackward", N, C, &empty));
  if (empty) return Status::OK();
  if (dinp == nullptr || dweight == nullptr || dbias == nullptr || dout == nullptr || inp == nullptr ||
      weight == nullptr || mean == nullptr || rstd == nullptr) {
    return Status::InvalidArgument("LayerNormBackward: null dinp, dweight, dbias, dout, inp, weight, mean or rstd");
  }
  int device = 0, sms = 0;
  MERIDIAN_CUDA_CHECK(cudaGetDevice(&device));
  MERIDIAN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const size_t shared_bytes = 2 * (size_t)C * sizeof(float);
  // Beyond the default 48 KB (C > 6144) the kernel must opt in to more.
  if (shared_bytes > 48 * 1024) {
    int max_optin = 0;
    MERIDIAN_CUDA_CHECK(cudaDeviceGetAttribute(&max_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    if (shared_bytes > (size_t)max_optin) {
      return Status::InvalidArgument("LayerNormBackward: C=" + std::to_string(C) + " needs " +
                                     std::to_string(shared_bytes) + " bytes of shared memory, the device allows " +
                                     std::to_string(max_optin));
    }
    MERIDIAN_CUDA_CHECK(cudaFuncSetAttribute(LayerNormBackwardKernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             (int)shared_bytes));
  }
  // A few blocks per SM: enough warps in flight to hide latency, few enough
  // that the final per-block atomics into dweight / dbias stay cheap.
  const unsigned blocks = (unsigned)std::max(1L, std::min(RowBlocks(N), 4L * sms));
  LayerNormBackwardKernel<T>
      <<<blocks, kThreads, shared_bytes, stream>>>(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template Status LayerNormForward<float>(float*, float*, float*, const float*, const float*, const float*, int, int,
                                        cudaStream_t);
template Status LayerNormForward<bf16>(bf16*, float*, float*, const bf16*, const bf16*, const bf16*, int, int,
                                       cudaStream_t);
template Status ResidualLayerNormForward<float>(float*, float*, float*, float*, const float*, const float*,
                                                const float*, const float*, int, int, cudaStream_t);
template Status ResidualLayerNormForward<bf16>(bf16*, bf16*, float*, float*, const bf16*, const bf16*, const bf16*,
                                               const bf16*, int, int, cudaStream_t);
template Status LayerNormBackward<float>(float*, float*, float*, const float*, const float*, const float*,
                                         const float*, const float*, int, int, cudaStream_t);
template Status LayerNormBackward<bf16>(bf16*, float*, float*, const bf16*, const bf16*, const bf16*, const float*,
                                        const float*, int, int, cudaStream_t);

}  // namespace meridian::cuda
