// AdamW update over a flat span of parameters (torch.optim.AdamW's formula):
//   g = grad * grad_scale
//   m = beta1 m + (1-beta1) g ;  v = beta2 v + (1-beta2) g^2
//   p -= lr * ( (m / (1-beta1^t)) / (sqrt(v / (1-beta2^t)) + eps) + weight_decay * p )
#pragma once

#include <cstddef>

namespace meridian::cpu {

struct AdamWParams {
  float lr = 3e-4f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  float grad_scale = 1.0f;  // global-norm clipping factor (1 = none)
  long step = 1;            // t, from 1
};

void AdamWUpdate(float* params, const float* grads, float* m, float* v, size_t n, const AdamWParams& hp);

}  // namespace meridian::cpu
