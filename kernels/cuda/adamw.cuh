// Fused AdamW over a flat float32 parameter buffer on the GPU: the same
// formula as kernels/cpu/adamw.h, one thread per element. Mixed precision:
// when params_bf16 is non-null, the updated master weight is also written
// there, rounded to bf16, for the next step's compute.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cpu/adamw.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

// All pointers are device memory of n elements; params_bf16 may be null.
Status AdamWUpdate(float* params, const float* grads, float* m, float* v, size_t n, const cpu::AdamWParams& hp,
                   cudaStream_t stream, bf16* params_bf16 = nullptr);

}  // namespace meridian::cuda
