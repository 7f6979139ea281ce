// SwiGLU: one thread per (row, channel) of out, grid-stride with size_t
// indices; the backward writes both the gate and the up gradient of it.
#include "kernels/cuda/swiglu.cuh"

#include <algorithm>
#include <string>

#include "kernels/cuda/cuda_check.h"

namespace meridian::cuda {

namespace {

constexpr int kThreads = 256;
constexpr size_t kMaxBlocks = 32768;

unsigned BlocksFor(size_t n) { return (unsigned)std::min((n + kThreads - 1) / kThreads, kMaxBlocks); }

template <typename T>
__global__ void SwigluForwardKernel(T* out, const T* gate_up, size_t n, int F) {
  for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n; idx += (size_t)gridDim.x * blockDim.x) {
    const size_t row = idx / F;
    const size_t g_at = idx + row * F;  // row * 2F + i
    const float g = ToFloat(gate_up[g_at]);
    const float u = ToFloat(gate_up[g_at + F]);
    out[idx] = FromFloat<T>(g / (1.0f + expf(-g)) * u);
  }
}

template <typename T>
__global__ void SwigluBackwardKernel(T* dgate_up, const T* gate_up, const T* dout, size_t n, int F) {
  for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < n; idx += (size_t)gridDim.x * blockDim.x) {
    const size_t row = idx / F;
    const size_t g_at = idx + row * F;
    const float g = ToFloat(gate_up[g_at]);
    const float u = ToFloat(gate_up[g_at + F]);
    const float d = ToFloat(dout[idx]);
    const float sig = 1.0f / (1.0f + expf(-g));
    dgate_up[g_at + F] = FromFloat<T>(d * g * sig);
    // silu'(g) = sig (1 + g (1 - sig))
    dgate_up[g_at] = FromFloat<T>(d * u * sig * (1.0f + g * (1.0f - sig)));
  }
}

Status ValidateShape(const char* op, int N, int F, size_t* n) {
  if (N < 0 || F < 0) {
    return Status::InvalidArgument(std::string(op) + ": N and F must not be negative, got N=" + std::to_string(N) +
                                   " F=" + std::to_string(F));
  }
  *n = (size_t)N * F;
  return Status::OK();
}

}  // namespace

template <typename T>
Status SwigluForward(T* out, const T* gate_up, int N, int F, cudaStream_t stream) {
  size_t n = 0;
  MERIDIAN_RETURN_IF_ERROR(ValidateShape("SwigluForward", N, F, &n));
  if (n == 0) return Status::OK();
  if (out == nullptr || gate_up == nullptr) return Status::InvalidArgument("SwigluForward: null out or gate_up");
  SwigluForwardKernel<T><<<BlocksFor(n), kThreads, 0, stream>>>(out, gate_up, n, F);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template <typename T>
Status SwigluBackward(T* dgate_up, const T* gate_up, const T* dout, int N, int F, cudaStream_t stream) {
  size_t n = 0;
  MERIDIAN_RETURN_IF_ERROR(ValidateShape("SwigluBackward", N, F, &n));
  if (n == 0) return Status::OK();
  if (dgate_up == nullptr || gate_up == nullptr || dout == nullptr) {
    return Status::InvalidArgument("SwigluBackward: null dgate_up, gate_up or dout");
  }
  SwigluBackwardKernel<T><<<BlocksFor(n), kThreads, 0, stream>>>(dgate_up, gate_up, dout, n, F);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template Status SwigluForward<float>(float*, const float*, int, int, cudaStream_t);
template Status SwigluForward<bf16>(bf16*, const bf16*, int, int, cudaStream_t);
template Status SwigluBackward<float>(float*, const float*, const float*, int, int, cudaStream_t);
template Status SwigluBackward<bf16>(bf16*, const bf16*, const bf16*, int, int, cudaStream_t);

}  // namespace meridian::cuda
