// Element-wise kernels: grid-stride loops with size_t indices, so any n
// (including more elements than one grid covers) is handled; math in float.
#include "kernels/cuda/elementwise.cuh"

#include <algorithm>

#include "kernels/cuda/cuda_check.h"

namespace meridian::cuda {

namespace {

constexpr int kThreads = 256;
// Enough blocks to fill an H100 several times over; larger n loops.
constexpr size_t kMaxBlocks = 32768;

unsigned BlocksFor(size_t n) { return (unsigned)std::min((n + kThreads - 1) / kThreads, kMaxBlocks); }

// The same constants and formula as kernels/cpu/gelu.cc.
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

template <typename T>
__global__ void GeluForwardKernel(T* out, const T* inp, size_t n) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const float x = ToFloat(inp[i]);
    out[i] = FromFloat<T>(0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + kCubic * x * x * x))));
  }
}

template <typename T>
__global__ void GeluBackwardKernel(T* dinp, const T* inp, const T* dout, size_t n) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const float x = ToFloat(inp[i]);
    const float u = kSqrt2OverPi * (x + kCubic * x * x * x);
    const float th = tanhf(u);
    const float sech2 = 1.0f - th * th;
    const float grad = 0.5f * (1.0f + th) + 0.5f * x * sech2 * kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
    // dout is read before dinp is written, element by element, so the two
    // may alias.
    dinp[i] = FromFloat<T>(grad * ToFloat(dout[i]));
  }
}

template <typename T>
__global__ void ResidualForwardKernel(T* out, const T* a, const T* b, size_t n) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    out[i] = FromFloat<T>(ToFloat(a[i]) + ToFloat(b[i]));
  }
}

template <typename Out, typename In>
__global__ void ConvertKernel(Out* out, const In* in, size_t n) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    out[i] = FromFloat<Out>(ToFloat(in[i]));
  }
}

}  // namespace

template <typename T>
Status GeluForward(T* out, const T* inp, size_t n, cudaStream_t stream) {
  if (n == 0) return Status::OK();
  if (out == nullptr || inp == nullptr) return Status::InvalidArgument("GeluForward: null out or inp");
  GeluForwardKernel<T><<<BlocksFor(n), kThreads, 0, stream>>>(out, inp, n);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template <typename T>
Status GeluBackward(T* dinp, const T* inp, const T* dout, size_t n, cudaStream_t stream) {
  if (n == 0) return Status::OK();
  if (dinp == nullptr || inp == nullptr || dout == nullptr) {
    return Status::InvalidArgument("GeluBackward: null dinp, inp or dout");
  }
  GeluBackwardKernel<T><<<BlocksFor(n), kThreads, 0, stream>>>(dinp, inp, dout, n);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template <typename T>
Status ResidualForward(T* out, const T* a, const T* b, size_t n, cudaStream_t stream) {
  if (n == 0) return Status::OK();
  if (out == nullptr || a == nullptr || b == nullptr) {
    return Status::InvalidArgument("ResidualForward: null out, a or b");
  }
  ResidualForwardKernel<T><<<BlocksFor(n), kThreads, 0, stream>>>(out, a, b, n);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

namespace {

__global__ void ScaleKernel(float* data, size_t n, float factor) {
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    data[i] *= factor;
}

}  // namespace

Status Scale(float* data, size_t n, float factor, cudaStream_t stream) {
  if (n == 0) return Status::OK();
  if (data == nullptr) return Status::InvalidArgument("Scale: null data");
  ScaleKernel<<<BlocksFor(n), kThreads, 0, stream>>>(data, n, factor);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

Status ConvertFloatToBf16(bf16* out, const float* in, size_t n, cudaStream_t stream) {
  if (n == 0) return Status::OK();
  if (out == nullptr || in == nullptr) return Status::InvalidArgument("ConvertFloatToBf16: null out or in");
  ConvertKernel<bf16, float><<<BlocksFor(n), kThreads, 0, stream>>>(out, in, n);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

Status ConvertBf16ToFloat(float* out, const bf16* in, size_t n, cudaStream_t stream) {
  if (n == 0) return Status::OK();
  if (out == nullptr || in == nullptr) return Status::InvalidArgument("ConvertBf16ToFloat: null out or in");
  ConvertKernel<float, bf16><<<BlocksFor(n), kThreads, 0, stream>>>(out, in, n);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template Status GeluForward<float>(float*, const float*, size_t, cudaStream_t);
template Status GeluForward<bf16>(bf16*, const bf16*, size_t, cudaStream_t);
template Status GeluBackward<float>(float*, const float*, const float*, size_t, cudaStream_t);
template Status GeluBackward<bf16>(bf16*, const bf16*, const bf16*, size_t, cudaStream_t);
template Status ResidualForward<float>(float*, const float*, const float*, size_t, cudaStream_t);
template Status ResidualForward<bf16>(bf16*, const bf16*, const bf16*, size_t, cudaStream_t);

}  // namespace meridian::cuda
