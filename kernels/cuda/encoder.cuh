// Token + position embedding on the GPU (the ops of kernels/cpu/encoder.h).
#pragma once

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

// out (B,T,C) = wte[inp[b,t], :] + wpe[t, :]; inp is device memory. wpe null:
// no learned positions (Llama), out = wte[inp[b,t], :].
template <typename T>
Status EncoderForward(T* out, const int* inp, const T* wte, const T* wpe, int B, int T_, int C, cudaStream_t stream);

// dwte (Vp,C) += scatter of dout by token; dwpe (maxT,C) += sum over b
// (dwpe null: no learned positions). Gradients accumulate in float whatever
// the storage type of dout.
template <typename T>
Status EncoderBackward(float* dwte, float* dwpe, const T* dout, const int* inp, int B, int T_, int C,
                       cudaStream_t stream);

}  // namespace meridian::cuda
