// Token + position embedding; wpe / dwpe null for a model without learned
// positions (Llama: rotary positions are applied inside attention).
#pragma once

namespace meridian::cpu {

// out (B,T,C) = wte[inp[b,t], :] + wpe[t, :]
// REQUIRES: every inp value < rows of wte; T <= rows of wpe.
void EncoderForward(float* out, const int* inp, const float* wte, const float* wpe, int B, int T, int C);

// dwte (Vp,C) += scatter of dout by token; dwpe (maxT,C) += sum over b.
void EncoderBackward(float* dwte, float* dwpe, const float* dout, const int* inp, int B, int T, int C);

}  // namespace meridian::cpu
