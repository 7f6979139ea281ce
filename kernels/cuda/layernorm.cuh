// LayerNorm over the last dimension (eps 1e-5, as kernels/cpu/layernorm.h),
// and its fusion with the residual add that precedes it in every block.
// Statistics (mean, rstd) are float; the math is float for either storage.
#pragma once

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

// out (N,C) = (inp - mean) * rstd * weight + bias; saves mean (N), rstd (N).
template <typename T>
Status LayerNormForward(T* out, float* mean, float* rstd, const T* inp, const T* weight, const T* bias, int N, int C,
                        cudaStream_t stream);

// residual (N,C) = a + b, then out = LayerNorm(residual), in one pass.
template <typename T>
Status ResidualLayerNormForward(T* residual, T* out, float* mean, float* rstd, const T* a, const T* b,
                                const T* weight, const T* bias, int N, int C, cudaStream_t stream);

// dinp (N,C) += ...; dweight (C) += ...; dbias (C) += ... (float).
template <typename T>
Status LayerNormBackward(T* dinp, float* dweight, float* dbias, const T* dout, const T* inp, const T* weight,
                         const float* mean, const float* rstd, int N, int C, cudaStream_t stream);

}  // namespace meridian::cuda
