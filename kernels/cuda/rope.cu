// RoPE: one thread per rotated pair, grid-stride with size_t indices. Each
// pair is read and written by its own thread only, so in place is safe.
#include "kernels/cuda/rope.cuh"

#include <algorithm>
#include <string>

#include "kernels/cuda/cuda_check.h"

namespace meridian::cuda {

namespace {

constexpr int kThreads = 256;
constexpr size_t kMaxBlocks = 32768;

// sign +1 turns forward, -1 turns back (the transpose of a rotation).
template <typename T>
__global__ void RopeKernel(T* x, const float* cos, const float* sin, size_t pairs, int T_, int heads, int half,
                           int row_stride, float sign) {
  for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < pairs;
       idx += (size_t)gridDim.x * blockDim.x) {
    const int i = (int)(idx % half);
    const size_t rest = idx / half;
    const int h = (int)(rest % heads);
    const size_t bt = rest / heads;
    const int t = (int)(bt % T_);
    T* lo = x + bt * row_stride + (size_t)h * 2 * half + i;
    T* hi = lo + half;
    const float c = cos[(size_t)t * half + i];
    const float sn = sign * sin[(size_t)t * half + i];
    const float a = ToFloat(*lo), b = ToFloat(*hi);
    *lo = FromFloat<T>(a * c - b * sn);
    *hi = FromFloat<T>(b * c + a * sn);
  }
}

template <typename T>
Status Rotate(const char* op, T* x, const float* cos, const float* sin, int B, int T_, int heads, int hs,
              int row_stride, float sign, cudaStream_t stream) {
  const std::string where = std::string(op) + ": ";
  if (B < 0 || T_ < 0 || heads < 0) {
    return Status::InvalidArgument(where + "B, T and heads must not be negative, got B=" + std::to_string(B) +
                                   " T=" + std::to_string(T_) + " heads=" + std::to_string(heads));
  }
  if (hs < 2 || hs % 2 != 0) {
    return Status::InvalidArgument(where + "head size hs=" + std::to_string(hs) + " must be positive and even");
  }
  if ((long)heads * hs > row_stride) {
    return Status::InvalidArgument(where + "heads=" + std::to_string(heads) + " of hs=" + std::to_string(hs) +
                                   " do not fit in row_stride=" + std::to_string(row_stride));
  }
  const size_t pairs = (size_t)B * T_ * heads * (hs / 2);
  if (pairs == 0) return Status::OK();
  if (x == nullptr || cos == nullptr || sin == nullptr) return Status::InvalidArgument(where + "null x, cos or sin");
  const unsigned blocks = (unsigned)std::min((pairs + kThreads - 1) / kThreads, kMaxBlocks);
  RopeKernel<T><<<blocks, kThreads, 0, stream>>>(x, cos, sin, pairs, T_, heads, hs / 2, row_stride, sign);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

}  // namespace

template <typename T>
Status RopeForward(T* x, const float* cos, const float* sin, int B, int T_, int heads, int hs, int row_stride,
                   cudaStream_t stream) {
  return Rotate<T>("RopeForward", x, cos, sin, B, T_, heads, hs, row_stride, 1.0f, stream);
}

template <typename T>
Status RopeBackward(T* dx, const float* cos, const float* sin, int B, int T_, int heads, int hs, int row_stride,
                    cudaStream_t stream) {
  return Rotate<T>("RopeBackward", dx, cos, sin, B, T_, heads, hs, row_stride, -1.0f, stream);
}

template Status RopeForward<float>(float*, const float*, const float*, int, int, int, int, int, cudaStream_t);
template Status RopeForward<bf16>(bf16*, const float*, const float*, int, int, int, int, int, cudaStream_t);
template Status RopeBackward<float>(float*, const float*, const float*, int, int, int, int, int, cudaStream_t);
template Status RopeBackward<bf16>(bf16*, const float*, const float*, int, int, int, int, int, cudaStream_t);

}  // namespace meridian::cuda
