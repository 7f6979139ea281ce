// Fully connected layer through BLAS sgemm. Weights are [out, in] row-major.
#pragma once

namespace meridian::cpu {

// out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC); bias may be null.
void MatmulForward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC);

// dinp (N,C) = dinp_beta * dinp + dout (N,OC) @ weight (OC,C)
// dweight (OC,C) += dout^T @ inp;  dbias (OC) += column sums of dout.
// dinp / dbias may be null to skip them.
void MatmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int N, int C, int OC, float dinp_beta);

}  // namespace meridian::cpu
