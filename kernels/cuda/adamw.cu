#include "kernels/cuda/adamw.cuh"

#include <cmath>

#include "kernels/cuda/cuda_check.h"

namespace meridian::cuda {

namespace {

// params_bf16 may be null; the branch on it is uniform across the grid.
__global__ void AdamWKernel(float* params, const float* grads, float* m, float* v, bf16* params_bf16, size_t n,
                            float lr, float b1, float b2, float eps, float wd, float gs, float bc1, float bc2) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float g = grads[i] * gs;
  const float mi = b1 * m[i] + (1.0f - b1) * g;
  const float vi = b2 * v[i] + (1.0f - b2) * g * g;
  m[i] = mi;
  v[i] = vi;
  const float p = params[i];
  const float updated = p - lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * p);
  params[i] = updated;
  if (params_bf16 != nullptr) params_bf16[i] = __float2bfloat16_rn(updated);
}

}  // namespace

Status AdamWUpdate(float* params, const float* grads, float* m, float* v, size_t n, const cpu::AdamWParams& hp,
                   cudaStream_t stream, bf16* params_bf16) {
  if (n == 0) return Status::OK();
  if (params == nullptr || grads == nullptr || m == nullptr || v == nullptr) {
    return Status::InvalidArgument("AdamWUpdate: null params, grads, m or v");
  }
  const float bc1 = 1.0f - (float)std::pow((double)hp.beta1, (double)hp.step);
  const float bc2 = 1.0f - (float)std::pow((double)hp.beta2, (double)hp.step);
  constexpr int kThreads = 256;
  const unsigned blocks = (unsigned)((n + kThreads - 1) / kThreads);
  AdamWKernel<<<blocks, kThreads, 0, stream>>>(params, grads, m, v, params_bf16, n, hp.lr, hp.beta1, hp.beta2, hp.eps,
                                                hp.weight_decay, hp.grad_scale, bc1, bc2);
  MERIDIAN_CUDA_CHECK(cudaGetLastError());
  return Status::OK();
}

}  // namespace meridian::cuda
