// RMSNorm over the last dimension (Llama): out = inp * rstd * weight with
// rstd = 1 / sqrt(mean(inp^2) + eps), no mean subtraction and no bias.
#pragma once

namespace meridian::cpu {

// out (N,C); saves rstd (N) for the backward pass.
void RmsNormForward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps);

// dinp (N,C) += ...; dweight (C) += ...
void RmsNormBackward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                     const float* rstd, int N, int C);

}  // namespace meridian::cpu
