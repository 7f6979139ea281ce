#include "kernels/cpu/adamw.h"

#include <cmath>

namespace meridian::cpu {

void AdamWUpdate(float* params, const float* grads, float* m, float* v, size_t n, const AdamWParams& hp) {
  const float bc1 = 1.0f - (float)std::pow((double)hp.beta1, (double)hp.step);
  const float bc2 = 1.0f - (float)std::pow((double)hp.beta2, (double)hp.step);
  const float b1 = hp.beta1, b2 = hp.beta2, lr = hp.lr, wd = hp.weight_decay, eps = hp.eps,
              gs = hp.grad_scale;
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; ++i) {
    const float g = grads[i] * gs;
    const float mi = b1 * m[i] + (1.0f - b1) * g;
    const float vi = b2 * v[i] + (1.0f - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float mhat = mi / bc1, vhat = vi / bc2;
    params[i] -= lr * (mhat / (std::sqrt(vhat) + eps) + wd * params[i]);
  }
}

}  // namespace meridian::cpu
