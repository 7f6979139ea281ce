// Fused AdamW over a flat float32 parameter buffer on the GPU: the same
// formula as kernels/cpu/adamw.h, one thread per element.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cpu/adamw.h"

namespace meridian::cuda {

// All pointers are device memory of n floats.
Status AdamWUpdate(float* params, const float* grads, float* m, float* v, size_t n, const cpu::AdamWParams& hp,
                   cudaStream_t stream);

}  // namespace meridian::cuda
