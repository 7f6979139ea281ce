// Element-wise ops: GELU (tanh approximation, as kernels/cpu/gelu.h), the
// residual add, scaling, and float <-> bf16 conversion.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

template <typename T>
Status GeluForward(T* out, const T* inp, size_t n, cudaStream_t stream);

// dinp = gelu'(inp) * dout (overwritten; may alias dout).
template <typename T>
Status GeluBackward(T* dinp, const T* inp, const T* dout, size_t n, cudaStream_t stream);

// out = a + b (out may alias a or b).
template <typename T>
Status ResidualForward(T* out, const T* a, const T* b, size_t n, cudaStream_t stream);

// data[i] *= factor, one float multiply per element (as a CPU loop does).
Status Scale(float* data, size_t n, float factor, cudaStream_t stream);

// out = in converted to the output type (round to nearest even for bf16).
Status ConvertFloatToBf16(bf16* out, const float* in, size_t n, cudaStream_t stream);
Status ConvertBf16ToFloat(float* out, const bf16* in, size_t n, cudaStream_t stream);

}  // namespace meridian::cuda
