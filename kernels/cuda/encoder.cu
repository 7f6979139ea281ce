// Token + position embedding. The backward gives each (t, c) to one thread,
// which walks the batch: it owns dwpe[t, c] outright (no atomics), and adds
// into dwte with float atomics because several (b, t) may share a token.
// The order of those atomic adds varies from run to run, so dwte is not
// bit-reproducible; dwpe is. A null wpe / dwpe (Llama) leaves the position
// term out.
#include "kernels/cuda/encoder.cuh"

#include <algorithm>
#include <climits>
#include <string>

#include "kernels/cuda/cuda_check.h"

namespace meridian::cuda {

namespace {

constexpr int kForwardThreads = 128;
constexpr int kBackwardThreads = 256;
constexpr long kMaxBlocks = 32768;

// grid-stride over the B*T rows; the threads of a block span a row's C.
template <typename T>
__global__ void EncoderForwardKernel(T* out, const int* inp, const T* wte, const T* wpe, int BT, int T_, int C) {
  for (int bt = blockIdx.x; bt < BT; bt += gridDim.x) {
    const int t = bt % T_;
    const T* e = wte + (size_t)inp[bt] * C;
    T* o = out + (size_t)bt * C;
    if (wpe == nullptr) {
      for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = e[c];
      continue;
    }
    const T* p = wpe + (size_t)t * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = FromFloat<T>(ToFloat(e[c]) + ToFloat(p[c]));
  }
}

// grid-stride over the T*C (t, c) pairs.
template <typename T>
__global__ void EncoderBackwardKernel(float* dwte, float* dwpe, const T* dout, const int* inp, int B, int T_, int C) {
  const size_t TC = (size_t)T_ * C;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < TC; i += (size_t)gridDim.x * blockDim.x) {
    const int t = (int)(i / C);
    const int c = (int)(i % C);
    float sum = 0.0f;
    for (int b = 0; b < B; ++b) {
      const size_t bt = (size_t)b * T_ + t;
      const float d = ToFloat(dout[bt * C + c]);
      sum += d;
      atomicAdd(dwte + (size_t)inp[bt] * C + c, d);
    }
    if (dwpe != nullptr) dwpe[i] += sum;  // i == t * C + c
  }
}

Status ValidateShape(const char* op, int B, int T_, int C) {
  if (B < 0 || T_ < 0 || C < 0) {
    return Status::InvalidArgument(std::string(op) + ": B, T and C must not be negative, got B=" + std::to_string(B) +
                                   " T=" + std::to_string(T_) + " C=" + std::to_string(C));
  }
  if ((long long)B * T_ > INT_MAX) {
    return Status::InvalidArgument(std::string(op) + ": B*T=" + std::to_string((long long)B * T_) +
                                   " exceeds the int token index");
  }
  return Status::OK();
}

}  // namespace

template <typename T>
Status EncoderForward(T* out, const int* inp, const T* wte, const T* wpe, int B, int T_, int C, cudaStream_t stream) {
  MERIDIAN_RETURN_IF_ERROR(ValidateShape("EncoderForward", B, T_, C));
  if (B == 0 || T_ == 0 || C == 0) return Status::OK();
  if (out == nullptr || inp == nullptr || wte == nullptr) {
    return Status::InvalidArgument("EncoderForward: null out, inp or wte");
  }
  const int BT = B * T_;
  const unsigned blocks = (unsigned)std::min<long>(BT, kMaxBlocks);
  EncoderForwardKernel<T><<<blocks, kForwardThreads, 0, stream>>>(out, inp, wte, wpe, BT, T_, C);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template <typename T>
Status EncoderBackward(float* dwte, float* dwpe, const T* dout, const int* inp, int B, int T_, int C,
                       cudaStream_t stream) {
  MERIDIAN_RETURN_IF_ERROR(ValidateShape("EncoderBackward", B, T_, C));
  if (B == 0 || T_ == 0 || C == 0) return Status::OK();
  if (dwte == nullptr || dout == nullptr || inp == nullptr) {
    return Status::InvalidArgument("EncoderBackward: null dwte, dout or inp");
  }
  const long TC = (long)T_ * C;
  const unsigned blocks = (unsigned)std::min<long>((TC + kBackwardThreads - 1) / kBackwardThreads, kMaxBlocks);
  EncoderBackwardKernel<T><<<blocks, kBackwardThreads, 0, stream>>>(dwte, dwpe, dout, inp, B, T_, C);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

template Status EncoderForward<float>(float*, const int*, const float*, const float*, int, int, int, cudaStream_t);
template Status EncoderForward<bf16>(bf16*, const int*, const bf16*, const bf16*, int, int, int, cudaStream_t);
template Status EncoderBackward<float>(float*, float*, const float*, const int*, int, int, int, cudaStream_t);
template Status EncoderBackward<bf16>(float*, float*, const bf16*, const int*, int, int, int, cudaStream_t);

}  // namespace meridian::cuda
