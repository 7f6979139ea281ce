// RMSNorm over the last dimension (Llama), as kernels/cpu/rmsnorm.h:
// out = inp * rstd * weight with rstd = 1 / sqrt(mean(inp^2) + eps), no mean
// subtraction and no bias. rstd is float; the math is float for either
// storage.
#pragma once

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

// out (N,C); saves rstd (N) for the backward pass.
template <typename T>
Status RmsNormForward(T* out, float* rstd, const T* inp, const T* weight, int N, int C, float eps,
                      cudaStream_t stream);

// dinp (N,C) += ...; dweight (C) += ... (float). dweight is summed over the
// rows in a fixed order, so repeated calls give the same bits.
template <typename T>
Status RmsNormBackward(T* dinp, float* dweight, const T* dout, const T* inp, const T* weight, const float* rstd, int N,
                       int C, cudaStream_t stream);

}  // namespace meridian::cuda
