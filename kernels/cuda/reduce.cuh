// Reductions the training step needs on the GPU.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

// *out (device, double) += sum of x[i]^2, accumulated in double.
Status SumOfSquaresAccumulate(double* out, const float* x, size_t n, cudaStream_t stream);

// *out (device, double) += scale * sum of x[i], accumulated in double: a
// micro-batch's mean loss added to the step's sum without a host round trip.
Status SumAccumulate(double* out, const float* x, size_t n, double scale, cudaStream_t stream);

// out (C, float) += sum over rows of in (N,C): bias gradients.
template <typename T>
Status ColumnSumAccumulate(float* out, const T* in, int N, int C, cudaStream_t stream);

}  // namespace meridian::cuda
