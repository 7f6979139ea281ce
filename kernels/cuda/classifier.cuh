// Softmax + cross-entropy fused over the real vocabulary V of rows padded to
// Vp (kernels/cpu/classifier.h), without materialising probabilities: one
// pass for the row's max and sum of exponentials, one to write dlogits.
#pragma once

#include <cuda_runtime.h>

#include "common/status.h"
#include "kernels/cuda/dtype.cuh"

namespace meridian::cuda {

// logits (N,Vp): when compute_grad, overwritten with dlogits =
// (softmax - onehot(target)) * dloss for columns < V and 0 beyond.
// losses (N, float) = -log softmax[target]. targets is device memory.
// REQUIRES: 0 <= targets[n] < V.
template <typename T>
Status SoftmaxCrossEntropy(T* logits, float* losses, const int* targets, int N, int V, int Vp, float dloss,
                           bool compute_grad, cudaStream_t stream);

}  // namespace meridian::cuda
