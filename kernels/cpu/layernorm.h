// LayerNorm over the last dimension, epsilon 1e-5.
#pragma once

namespace meridian::cpu {

constexpr float kLayerNormEps = 1e-5f;

// out (N,C) = (inp - mean) * rstd * weight + bias; saves mean (N), rstd (N).
void LayerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int N, int C);

// dinp (N,C) += ...; dweight (C) += ...; dbias (C) += ...
void LayerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, const float* mean, const float* rstd, int N, int C);

}  // namespace meridian::cpu
